// The fuzz driver. Built by tools/fuzz.sh with -sanitize=fuzzer,address -DBRIDGE_LIBFUZZER it is
// a libFuzzer binary:
//
//   BridgeFuzz TARGET [libFuzzer options and corpus directories]    (or BRIDGE_FUZZ_TARGET=TARGET)
//
// and a violation (FuzzTargets/FuzzTarget.swift) aborts, so that libFuzzer keeps the input as a
// crash. A plain `swift build` makes it a replayer, for triage without instrumentation:
//
//   BridgeFuzz list                              the targets
//   BridgeFuzz TARGET FILE|DIR...                runs each input, prints refusals and violations
//   BridgeFuzz seeds TARGET DIR                  writes the generated seed inputs of TARGET

import CFuzzerDriver
import FuzzTargets

#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) var selected: FuzzTarget? = nil

@main
struct BridgeFuzz {
    static func main() {
        var args = CommandLine.arguments
        if args.count > 1, args[1] == "list" {
            for t in FuzzTarget.all { print(t.name.padding(18) + t.summary) }
            return
        }
        if args.count == 4, args[1] == "seeds" {
            guard let t = FuzzTarget.named(args[2]) else { fail("unknown target '\(args[2])'") }
            do {
                for (name, bytes) in try FuzzSeeds.generate(t) {
                    try writeFile(args[3] + "/" + name, bytes)
                    print("\(args[3])/\(name)  \(bytes.count) bytes")
                }
            } catch { fail("\(error)") }
            return
        }
        var name = getenv("BRIDGE_FUZZ_TARGET").map { String(cString: $0) } ?? ""
        if args.count > 1, FuzzTarget.named(args[1]) != nil {
            name = args.remove(at: 1)
            setenv("BRIDGE_FUZZ_TARGET", name, 1)   // for processes libFuzzer starts (-fork, -jobs)
        }
        guard let target = FuzzTarget.named(name) else {
            fail("give a target (\(FuzzTarget.all.map(\.name).joined(separator: ", "))) as the first argument or in BRIDGE_FUZZ_TARGET")
        }
        selected = target
        _ = target([])   // sets up the scratch store before the first timed input
        #if BRIDGE_LIBFUZZER
        var argc = Int32(args.count)
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        let status = cArgs.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
            return LLVMFuzzerRunDriver(&argc, &argv, fuzzOne)
        }
        exit(status)
        #else
        replay(target, paths: Array(args.dropFirst()))
        #endif
    }

    /// Runs every file (directories: every file in them) and prints one line per violation.
    static func replay(_ target: FuzzTarget, paths: [String]) {
        var files: [String] = []
        for p in paths {
            if let names = listDirectory(p) { files += names.map { p + "/" + $0 } } else { files.append(p) }
        }
        var accepted = 0, rejected = 0, violations = 0
        for f in files {
            guard let bytes = readFile(f) else { fail("cannot read '\(f)'") }
            switch target(bytes) {
            case .accepted: accepted += 1
            case let .rejected(why):
                rejected += 1
                if getenv("BRIDGE_FUZZ_VERBOSE") != nil { print("\(f): refused: \(why)") }
            case let .violation(why):
                violations += 1
                print("\(f): VIOLATION: \(why)")
            }
        }
        print("\(target.name): \(files.count) inputs, \(accepted) accepted, \(rejected) refused, \(violations) violations")
        exit(violations == 0 ? 0 : 1)
    }

    static func fail(_ message: String) -> Never {
        printError("BridgeFuzz: \(message)")
        exit(2)
    }
}

#if BRIDGE_LIBFUZZER
// libFuzzer's own entry points, for when its main runs instead of ours (SwiftPM links executables
// with --defsym main=<module>_main, and the linker may take libFuzzer's main from its archive).

/// Picks the target (first argument, removed, or BRIDGE_FUZZ_TARGET) unless main already did.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    guard selected == nil else { return 0 }
    if argc.pointee > 1, let a = argv.pointee?[1], let t = FuzzTarget.named(String(cString: a)) {
        selected = t
        setenv("BRIDGE_FUZZ_TARGET", t.name, 1)
        for i in 1..<Int(argc.pointee) { argv.pointee![i] = argv.pointee![i + 1] }
        argc.pointee -= 1
    } else if let env = getenv("BRIDGE_FUZZ_TARGET"), let t = FuzzTarget.named(String(cString: env)) {
        selected = t
    } else {
        BridgeFuzz.fail("give a target (\(FuzzTarget.all.map(\.name).joined(separator: ", "))) as the first argument or in BRIDGE_FUZZ_TARGET")
    }
    _ = selected!([])
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 { fuzzOne(data, size) }
#endif

/// libFuzzer's callback: a violation aborts (libFuzzer saves the input as crash-<sha1>).
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    if case let .violation(why) = selected!(bytes) {
        printError("BridgeFuzz: \(selected!.name): VIOLATION: \(why)")
        abort()
    }
    return 0
}

func printError(_ line: String) {
    let text = Array((line + "\n").utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

func listDirectory(_ path: String) -> [String]? {
    guard let dir = opendir(path) else { return nil }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if !name.hasPrefix(".") { names.append(name) }
    }
    return names.sorted()
}

func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n <= 0 { break }
        out += buffer[0..<n]
    }
    return out
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    struct WriteError: Error, CustomStringConvertible { let description: String }
    guard let f = fopen(path, "wb") else { throw WriteError(description: "cannot write '\(path)'") }
    defer { fclose(f) }
    guard fwrite(bytes, 1, bytes.count, f) == bytes.count else { throw WriteError(description: "cannot write '\(path)'") }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
