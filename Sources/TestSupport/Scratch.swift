// Test scaffolding shared by the test targets: scratch directories that clean up after
// themselves, and running the `bridge` executable as a child process.

import Foundation
import IO
import Tensors

/// A fresh directory under the system temp directory, removed when the value goes away.
public final class ScratchDirectory: @unchecked Sendable {
    public let path: String

    public init(_ label: String = "bridge-test") {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        path = base + "/\(label)-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        // Objects are read-only files; directories are writable, so removal works.
        try? FileManager.default.removeItem(atPath: path)
    }

    public func file(_ name: String) -> String { path + "/" + name }
}

public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    /// True when the process was killed by a signal.
    public let signalled: Bool
}

/// The `bridge` executable next to the test bundle (built by `swift build --build-tests`), or $BRIDGE_BIN.
public func bridgeExecutable() throws -> String {
    if let env = ProcessInfo.processInfo.environment["BRIDGE_BIN"], !env.isEmpty { return env }
    var candidates: [String] = []
    let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    var dir = argv0.deletingLastPathComponent()
    for _ in 0..<4 {
        candidates.append(dir.appendingPathComponent("bridge").path)
        dir = dir.deletingLastPathComponent()
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    candidates.append(root.appendingPathComponent(".build/debug/bridge").path)
    for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
    struct Missing: Error, CustomStringConvertible { let description: String }
    throw Missing(description: "the bridge executable was not found next to the tests (\(candidates.joined(separator: ", "))); run 'swift build --build-tests' first or set BRIDGE_BIN")
}

/// Starts `bridge args...` and returns the running process (stdout/stderr go to files in `scratch`).
public func startBridge(_ args: [String], environment: [String: String] = [:]) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try bridgeExecutable())
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    return p
}

/// Runs `bridge args...` to completion.
/// `environment` adds variables to the test's own; an empty value removes one.
/// `executable` runs another program instead (a shell that sets a limit, then runs bridge).
public func runBridge(_ args: [String], environment: [String: String] = [:], stdin: String? = nil, executable: String? = nil) throws -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try executable ?? bridgeExecutable())
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "BRIDGE_STORE")
    for (k, v) in environment { env[k] = v.isEmpty ? nil : v }   // "" removes a variable
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    if let stdin {
        let inPipe = Pipe()
        p.standardInput = inPipe
        try p.run()
        inPipe.fileHandleForWriting.write(Data(stdin.utf8))
        try inPipe.fileHandleForWriting.close()
    } else {
        p.standardInput = FileHandle.nullDevice
        try p.run()
    }
    // Read both pipes concurrently so neither fills up.
    let errData = LockedData()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData.set(err.fileHandleForReading.readDataToEndOfFile())
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData.get(), as: UTF8.self),
                         signalled: p.terminationReason == .uncaughtSignal)
}

final class LockedData: Sendable {
    private let data = Locked(Data())
    func set(_ d: Data) { data.withLock { $0 = d } }
    func get() -> Data { data.withLock { $0 } }
}

/// A listing of every file under `root` with its size and content digest, to show that a failed
/// command changed nothing.
public func snapshot(_ root: String) -> [String: String] {
    var out: [String: String] = [:]
    guard let e = FileManager.default.enumerator(atPath: root) else { return out }
    while let rel = e.nextObject() as? String {
        let path = root + "/" + rel
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { continue }
        if isDir.boolValue { out[rel] = "dir"; continue }
        if rel == "lock" { continue }
        let data = (try? Posix.readFile(path)) ?? []
        var h: UInt64 = 1469598103934665603
        for b in data { h = (h ^ UInt64(b)) &* 1099511628211 }
        out[rel] = "\(data.count):\(h)"
    }
    return out
}

/// Deterministic pseudo-random bytes (SplitMix64), for test payloads.
public func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    var out = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        for k in 0..<8 where i + k < count { out[i + k] = UInt8(truncatingIfNeeded: z >> (8 * UInt64(k))) }
        i += 8
    }
    return out
}
