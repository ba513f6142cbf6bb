// The fuzz targets: one per parser of bytes that come from outside (files a user gives, files in a
// store another process or a disk may have damaged). Each feeds its input to the parser's public
// entry the way bridge reads such a file, then uses what was parsed as the commands would.
//
// An input either parses (`accepted`) or is refused (`rejected`): a thrown error of bridge's own
// (ClassifiedError) of the input class (the CLI exits 1), whose message names the file, object or
// key. Anything else is a `violation`: an error the CLI would report as internal (exit 2), or a
// message that does not say what was wrong where. Traps and sanitizer reports end the process.
//
// The libFuzzer driver (BridgeFuzz) aborts on a violation so that libFuzzer records the input;
// the corpus tests (Tests/PipelineTests/FuzzCorpusTests.swift) replay Tests/Fuzz/<target>/.

import Tensors

public enum FuzzOutcome: Sendable, Equatable {
    case accepted
    case rejected(String)
    case violation(String)

    public var violation: String? {
        if case let .violation(why) = self { return why }
        return nil
    }
}

public struct FuzzTarget: Sendable {
    public let name: String
    /// What the target feeds and to which entry.
    public let summary: String
    let body: @Sendable (FuzzWorkspace, [UInt8]) -> FuzzOutcome

    /// Runs one input. Targets share a scratch store, so calls are serialised.
    public func callAsFunction(_ bytes: [UInt8]) -> FuzzOutcome {
        FuzzTarget.lock.withLock { _ in body(FuzzWorkspace.shared, bytes) }
    }

    private static let lock = Locked(())

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }

    public static let all: [FuzzTarget] = [
        .safetensors, .tensorSet, .runState, .object, .journal, .pipelineYAML, .modelConfig, .storeConfig,
        .tokenizerJSON, .llama2cTokenizer, .llama2cModel,
    ]
}

/// Checks that a thrown error is a proper refusal: bridge's own input error naming `subject`.
func refusal(_ error: any Error, naming subject: String) -> FuzzOutcome {
    guard let e = error as? any ClassifiedError else {
        return .violation("\(type(of: error)) is not one of bridge's errors (the CLI would exit 2, 'internal'): \(error)")
    }
    guard e.errorClass == .input else { return .violation("an input problem reported as an internal error (exit 2): \(e)") }
    guard e.description.contains(subject) else { return .violation("the message does not name '\(subject)': \(e)") }
    return .rejected(e.description)
}

/// Runs the steps in order, stopping at the first refusal; a violation wins.
func steps(naming subject: String, _ body: () throws -> Void) -> FuzzOutcome {
    do {
        try body()
        return .accepted
    } catch {
        return refusal(error, naming: subject)
    }
}

/// Runs further uses of an accepted input: each may refuse (an error naming `subject`), none may
/// fail otherwise. Returns the first violation, else the first refusal, else `outcome`.
func alsoChecking(_ outcome: FuzzOutcome, naming subject: String, _ uses: [() throws -> Void]) -> FuzzOutcome {
    var first: FuzzOutcome? = nil
    for use in uses {
        do { try use() } catch {
            let r = refusal(error, naming: subject)
            if r.violation != nil { return r }
            first = first ?? r
        }
    }
    return first ?? outcome
}
