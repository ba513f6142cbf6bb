// The `bridge` command: a tree of small subcommands (swift-argument-parser). Exit codes: 0 success,
// 1 user or input error (clear message, nothing written), 2 internal error.

import ArgumentParser
import Foundation
import Checkpoint
import LanguageModel
import ShardStore
import Tensors
import Training

struct Bridge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Cooperative SFT + RL (BRIDGE) for language models on CPU, with a content-addressed checkpoint store.",
        subcommands: [
            Init.self,
            ImportModel.self,
            ExportModel.self,
            Ckpt.self,
            Generate.self,
            Forward.self,
            Train.self,
            TokenizerCommand.self,
            DatasetCommand.self,
            Grade.self,
            Eval.self,
            StageCommand.self,
            Run.self,
            Status.self,
            ReportCommand.self,
            StoreCommand.self,
            GC.self,
            Bench.self,
            Doctor.self,
        ])
}

/// The store every command works on.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The store directory (default: $BRIDGE_STORE, else ./.bridge).")
    var store: String?

    var location: String { Store.location(explicit: store) }

    func open() throws -> Store { try Store(at: location) }
}

@main
enum Main {
    static func main() {
        // A file-size limit (ulimit -f) makes a write fail with EFBIG, reported like a full disk,
        // instead of killing the process halfway through.
        signal(SIGXFSZ, SIG_IGN)
        do {
            var command = try Bridge.parseAsRoot()
            try command.run()
        } catch {
            exit(reporting: error)
        }
    }

    /// Prints an error the way git does and exits with the documented code.
    static func exit(reporting error: Error) -> Never {
        if let exit = error as? ExitCode {
            Foundation.exit(exit.rawValue)
        }
        let (message, code) = describe(error)
        if code == 0 {
            print(message)
            Foundation.exit(0)
        }
        FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
        Foundation.exit(code)
    }

    static func describe(_ error: Error) -> (String, Int32) {
        // Every error type of ours declares whose fault it is (Tensors/ErrorClass.swift).
        if let e = error as? ClassifiedError { return ("error: \(e)", e.errorClass == .input ? 1 : 2) }
        // Argument parsing, --help and --version go through the parser's own formatting.
        let code = Bridge.exitCode(for: error)
        let text = Bridge.fullMessage(for: error)
        if code == .success { return (text, 0) }
        if code == .validationFailure || error is ValidationError || text.hasPrefix("Error:") || text.contains("Usage:") {
            return (text, 1)
        }
        return ("error: internal: \(error)", 2)
    }
}

/// An input problem found by the command layer itself.
struct UserError: ClassifiedError {
    let description: String
    init(_ message: String) { description = message }
    var errorClass: ErrorClass { .input }
}

/// Prints a JSON value (pretty, sorted keys) for --json output.
func printJSON(_ value: JSONValue) {
    print(value.pretty)
}
