// Dataset readers on real excerpts of every layout, and their errors on bad input.

import Foundation
import Testing
import TestSupport
@testable import Training

@Suite struct DatasetReaderTests {
    let samples = trainingFixtures.appendingPathComponent("samples")
    let grader = MathGrader()

    func read(_ name: String, format: DatasetFormat? = nil) throws -> [MathRecord] {
        try DatasetReader.read(samples.appendingPathComponent(name), format: format)
    }

    /// Every target ends with its answer in \boxed{} and grades correct against the reference.
    func expectTargetsGradeCorrect(_ records: [MathRecord], sourceLocation: SourceLocation = #_sourceLocation) throws {
        for r in records {
            let target = try #require(r.target, sourceLocation: sourceLocation)
            let graded = grader.grade(response: target, reference: r.answer)
            #expect(graded.correct && graded.source == .boxed, "\(r.id): \(graded)", sourceLocation: sourceLocation)
        }
    }

    @Test func gsm8k() throws {
        let records = try read("gsm8k_test.jsonl")
        #expect(records.count == 3)
        #expect(records.allSatisfy { $0.source == "gsm8k" })
        #expect(records.map(\.id) == ["gsm8k/gsm8k_test/0", "gsm8k/gsm8k_test/1", "gsm8k/gsm8k_test/2"])
        #expect(records.map(\.answer) == ["18", "3", "70000"])
        #expect(records[0].prompt.hasPrefix("Janet’s ducks lay 16 eggs per day."))
        let target = try #require(records[0].target)
        #expect(!target.contains("<<") && !target.contains(">>") && !target.contains("####"))
        #expect(target.hasSuffix("The final answer is $\\boxed{18}$."))
        // The calculator annotation `<<16-3-4=9>>` is gone but the sentence around it stays.
        #expect(target.contains("16 - 3 - 4 = 9") || target.contains("16-3-4=9"))
        try expectTargetsGradeCorrect(records)
    }

    @Test func gsm8kAnnotationRemoval() {
        #expect(GSM8K.removeAnnotations("She sold 48/2 = <<48/2=24>>24 clips.") == "She sold 48/2 = 24 clips.")
        #expect(GSM8K.target("A is 2+3=<<2+3=5>>5\n#### 1,005") == "A is 2+3=5\nThe final answer is $\\boxed{1005}$.")
        #expect(GSM8K.finalAnswer("x\n#### -5 ") == "-5")
    }

    @Test func mathAndMath500() throws {
        let math = try read("math_test_algebra.jsonl")
        #expect(math.map(\.id) == ["test/algebra/1.json", "test/algebra/2.json", "test/algebra/6.json"])
        #expect(math.map(\.answer) == ["2", "\\frac{1}{2}", "5"])
        #expect(math.map(\.level) == [3, 5, 4])
        try expectTargetsGradeCorrect(math)

        let math500 = try read("math500_test.jsonl")
        #expect(math500.allSatisfy { $0.source == "math500" })
        #expect(math500[0].id == "test/precalculus/807.json")
        #expect(math500[0].answer == "\\left( 3, \\frac{\\pi}{2} \\right)")
        #expect(math500[0].level == 2)
        try expectTargetsGradeCorrect(math500)

        // MATH-500's ids can be excluded from MATH test (none of these three overlap, so all stay,
        // and excluding a record's own id drops it).
        let ids = Set(math500.map(\.id))
        #expect(math.excluding(ids: ids).count == 3)
        #expect(math.excluding(ids: ["test/algebra/2.json"]).map(\.id) == ["test/algebra/1.json", "test/algebra/6.json"])
    }

    @Test func competitionSets() throws {
        let aime = try read("aime24_test.jsonl")
        #expect(aime.map(\.id) == ["aime24/60", "aime24/61"])
        #expect(aime.map(\.answer) == ["204", "113"])
        try expectTargetsGradeCorrect(aime)

        let amc = try read("amc23_test.jsonl")
        #expect(amc.map(\.answer) == ["27", "36", "45"])
        #expect(amc.allSatisfy { $0.target == nil })

        let minerva = try read("minerva_math_test.jsonl")
        #expect(minerva.map(\.answer) == ["1.6", "4.5e33", "41.8"])
        #expect(minerva[0].id == "minerva_math/0")
        try expectTargetsGradeCorrect(minerva)
    }

    @Test func olympiadBench() throws {
        let records = try read("olympiadbench_test.jsonl")
        #expect(records.map(\.id) == ["olympiadbench/1606", "olympiadbench/1610", "olympiadbench/1618", "olympiadbench/2592"])
        // `$...$` delimiters are stripped; the `error` field becomes an absolute tolerance.
        #expect(records[1].answer == "\\frac{1}{2 n+2}")
        #expect(records[2].answer == "(1,8,19), (2,7,13), (4,5,7)")
        #expect(records[3].tolerance == 0.1)
        #expect(records[0].tolerance == nil)
        try expectTargetsGradeCorrect(records)
        #expect(grader.grade(response: "\\boxed{(4,5,7), (1,8,19), (2,7,13)}", reference: records[2].answer).correct)
    }

    @Test func math12kExcludesMath500() throws {
        let scratch = ScratchDirectory("math12k")
        let dir = URL(fileURLWithPath: scratch.file("math"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let algebra = try Data(contentsOf: samples.appendingPathComponent("math_test_algebra.jsonl"))
        try algebra.write(to: dir.appendingPathComponent("test_algebra.jsonl"))
        try algebra.write(to: dir.appendingPathComponent("train_algebra.jsonl"))
        try Data("ignored".utf8).write(to: dir.appendingPathComponent("README.txt"))
        // A MATH-500 file holding one of those problems (test/algebra/2.json).
        let math500 = URL(fileURLWithPath: scratch.file("math500.jsonl"))
        let line = #"{"problem": "p", "solution": "\\boxed{\\frac{1}{2}}", "answer": "\\frac{1}{2}", "subject": "Algebra", "level": 5, "unique_id": "test/algebra/2.json"}"#
        try Data((line + "\n").utf8).write(to: math500)
        let records = try DatasetReader.math12k(mathDirectory: dir, math500: math500)
        #expect(records.count == 4)  // 2 files × 3 records, minus the MATH-500 problem in each
        #expect(!records.contains { $0.id == "test/algebra/2.json" })
        #expect(records.filter { $0.id == "test/algebra/1.json" }.count == 2)
    }

    @Test func rewardUsesTheRecordTolerance() throws {
        let record = try read("olympiadbench_test.jsonl")[3]
        #expect(record.answer == "4.2" && record.tolerance == 0.1)
        #expect(MathReward().score(response: "\\boxed{4.25}", record: record).reward == 1)
        #expect(MathReward().score(response: "\\boxed{4.35}", record: record).reward == 0)
    }

    @Test func evaluationPrompt() throws {
        let r = try read("math_test_algebra.jsonl")[0]
        #expect(r.evaluationPrompt == r.prompt + "\nPlease reason step by step, and put your final answer within \\boxed{}.")
    }

    @Test func formatDetection() {
        #expect(DatasetFormat.detect(keys: ["question", "answer"]) == .gsm8k)
        #expect(DatasetFormat.detect(keys: ["problem", "solution", "level", "type", "unique_id"]) == .math)
        #expect(DatasetFormat.detect(keys: ["problem", "solution", "answer", "subject", "level", "unique_id"]) == .math500)
        #expect(DatasetFormat.detect(keys: ["id", "problem", "solution", "answer", "url", "question"]) == .aime24)
        #expect(DatasetFormat.detect(keys: ["id", "problem", "answer", "url", "question"]) == .amc23)
        #expect(DatasetFormat.detect(keys: ["problem", "solution", "type", "idx"]) == .minervaMath)
        #expect(DatasetFormat.detect(keys: ["id", "question", "final_answer", "solution"]) == .olympiadBench)
        #expect(DatasetFormat.detect(keys: ["id", "prompt", "answer"]) == .bridge)
        #expect(DatasetFormat.detect(keys: ["text"]) == nil)
    }

    @Test func bridgeFormatRoundTrip() throws {
        let scratch = ScratchDirectory("bridge-format")
        let url = URL(fileURLWithPath: scratch.file("records.jsonl"))
        let records = [
            MathRecord(id: "a", source: "synthetic", prompt: "Compute 1 + 2.", answer: "3", target: "1 + 2 = 3.\nThe answer is \\boxed{3}.", level: 1),
            MathRecord(id: "b/2", source: "olympiadbench", prompt: "Find x. \"quoted\"\n", answer: "4.2", tolerance: 0.1),
        ]
        try Data(records.jsonl.utf8).write(to: url)
        #expect(try DatasetReader.read(url) == records)
        #expect(try DatasetReader.read(url, format: .bridge) == records)
    }
}

@Suite struct DatasetErrorTests {
    let scratch = ScratchDirectory("dataset-errors")

    func write(_ name: String, _ bytes: [UInt8]) -> URL {
        let url = URL(fileURLWithPath: scratch.file(name))
        _ = FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
        return url
    }

    func write(_ name: String, _ text: String) -> URL { write(name, Array(text.utf8)) }

    @Test func malformedJSONNamesFileAndLine() {
        let url = write("bad.jsonl", "{\"question\": \"q\", \"answer\": \"#### 1\"}\n\n{\"question\": \"q\", \"answer\": \n")
        #expect {
            try DatasetReader.read(url)
        } throws: { error in
            guard case let DatasetError.malformedJSON(file, line, _) = error else { return false }
            return file == url.path && line == 3 && "\(error)".contains("bad.jsonl' line 3")
        }
    }

    @Test func missingFieldNamesFileLineAndKey() {
        let url = write("missing.jsonl", "{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\"answer\": \"#### 2\"}\n")
        #expect(throws: DatasetError.missingField(file: url.path, line: 2, key: "question")) {
            try DatasetReader.read(url, format: .gsm8k)
        }
        let url2 = write("missing2.jsonl", "{\"problem\": \"p\", \"unique_id\": \"x\", \"level\": \"Level 1\"}\n")
        #expect(throws: DatasetError.missingField(file: url2.path, line: 1, key: "solution")) {
            try DatasetReader.read(url2, format: .math)
        }
    }

    @Test func wrongTypeAndBadValues() {
        let url = write("types.jsonl", "{\"question\": 5, \"answer\": \"#### 1\"}\n")
        #expect(throws: DatasetError.wrongType(file: url.path, line: 1, key: "question", expected: "a string")) {
            try DatasetReader.read(url, format: .gsm8k)
        }
        let noMarker = write("nomarker.jsonl", "{\"question\": \"q\", \"answer\": \"just 1\"}\n")
        #expect(throws: DatasetError.invalidValue(file: noMarker.path, line: 1, key: "answer", reason: "no '#### <answer>' line")) {
            try DatasetReader.read(noMarker)
        }
        let array = write("array.jsonl", "[1, 2]\n")
        #expect(throws: DatasetError.notAnObject(file: array.path, line: 1)) { try DatasetReader.read(array) }
    }

    @Test func invalidUTF8NamesTheLine() {
        var bytes = Array("{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\"question\": \"q\", \"answer\": \"#### 2\"}\n".utf8)
        bytes += [0x7B, 0x22, 0x71, 0xFF, 0xFE, 0x22, 0x7D, 0x0A]
        let url = write("utf8.jsonl", bytes)
        #expect(throws: DatasetError.invalidUTF8(file: url.path, line: 3)) { try DatasetReader.read(url) }
    }

    @Test func unknownFormatAndMissingFile() {
        let url = write("unknown.jsonl", "{\"text\": \"hello\"}\n")
        #expect(throws: DatasetError.unknownFormat(file: url.path, keys: ["text"])) { try DatasetReader.read(url) }
        #expect {
            try DatasetReader.read(URL(fileURLWithPath: scratch.file("absent.jsonl")))
        } throws: { error in
            guard case DatasetError.unreadable = error else { return false }
            return "\(error)".contains("absent.jsonl")
        }
    }

    @Test func integralNumbersReadAsIntegers() throws {
        // `3.0`, `1e1` and `-0.0` are integers wherever a field wants one; answers keep their text.
        let url = write("numbers.jsonl", "{\"id\": 7.0, \"prompt\": \"p\", \"answer\": 1e16, \"level\": 3.0}\n"
            + "{\"id\": \"b\", \"prompt\": \"p\", \"answer\": 2.5, \"level\": 1e1, \"tolerance\": -0.0}\n")
        let records = try DatasetReader.read(url, format: .bridge)
        #expect(records.map(\.id) == ["7", "b"] && records.map(\.level) == [3, 10], "\(records)")
        #expect(records.map(\.answer) == ["10000000000000000", "2.5"] && records[1].tolerance == 0)
        let half = write("half.jsonl", "{\"id\": \"a\", \"prompt\": \"p\", \"answer\": \"1\", \"level\": 2.5}\n")
        #expect(throws: DatasetError.wrongType(file: half.path, line: 1, key: "level", expected: "an integer")) {
            try DatasetReader.read(half, format: .bridge)
        }
        let duplicate = write("duplicate.jsonl", "{\"id\": \"a\", \"id\": \"b\"}\n")
        #expect { try DatasetReader.read(duplicate) } throws: { "\($0)".contains("line 1: malformed JSON: duplicate key 'id'") }
    }

    @Test func blankLinesCRLFAndByteOrderMarkAreAccepted() throws {
        let url = write("crlf.jsonl", [0xEF, 0xBB, 0xBF] + Array("{\"question\": \"q\", \"answer\": \"#### 1\"}\r\n\r\n{\"question\": \"r\", \"answer\": \"#### 2\"}".utf8))
        let records = try DatasetReader.read(url)
        #expect(records.map(\.answer) == ["1", "2"])
    }
}
