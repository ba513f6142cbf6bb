// The funnel for files the user names (IO's InputFile) and for the directories exports write
// into (ExportFile.makeDirectories): what is read, and an error naming the path and the reason.

import Foundation
import Testing
import TestSupport
import Tensors
@testable import ShardStore

@Suite struct InputFileTests {
    let scratch = ScratchDirectory("input-file")

    @Test func readsWholeFiles() throws {
        let path = scratch.file("a.bin")
        let bytes = pseudoRandomBytes(200_000, seed: 7)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        #expect(try InputFile.read(path) == bytes)
        #expect(FileManager.default.createFile(atPath: scratch.file("empty"), contents: Data()))
        #expect(try InputFile.read(scratch.file("empty")) == [])
        #expect(InputFile.kind(path) == .file && InputFile.kind(scratch.path) == .directory && InputFile.kind(scratch.file("nope")) == nil)
    }

    /// Files whose size stat does not tell (0 for /proc files) are read to their end.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/status")))
    func readsFilesOfUnknownSize() throws {
        let text = String(decoding: try InputFile.read("/proc/self/status"), as: UTF8.self)
        #expect(text.contains("Pid:"))
    }

    @Test func errorsNameThePathAndTheReason() throws {
        let file = scratch.file("f")
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let cases: [(path: String, reason: String)] = [
            (scratch.file("absent.json"), "no such file"),
            (scratch.path, "is a directory"),
            (file + "/inside", "a component of the path is not a directory"),
        ]
        for c in cases {
            let error = #expect(throws: InputFileError.self, "\(c.path)") { try InputFile.read(c.path) }
            #expect(error?.description == "cannot read '\(c.path)': \(c.reason)")
            #expect(error?.errorClass == .input)
            #expect(throws: InputFileError.self, "\(c.path)") { try InputFile.checkReadable(c.path) }
        }
    }

    @Test(.enabled(if: geteuid() != 0, "root reads every file"))
    func unreadableFilesArePermissionDenied() throws {
        let path = scratch.file("secret")
        #expect(FileManager.default.createFile(atPath: path, contents: Data("x".utf8), attributes: [.posixPermissions: 0o000]))
        let error = #expect(throws: InputFileError.self) { try InputFile.read(path) }
        #expect(error?.reason == "permission denied")
        #expect(error?.errorClass == .input)
    }

    @Test func listsDirectoriesSorted() throws {
        for name in ["b", "a", ".hidden", "c"] { #expect(FileManager.default.createFile(atPath: scratch.file(name), contents: nil)) }
        #expect(try InputFile.list(scratch.path) == [".hidden", "a", "b", "c"])
        let missing = #expect(throws: InputFileError.self) { try InputFile.list(scratch.file("nope")) }
        #expect(missing?.reason == "no such directory")
        let file = #expect(throws: InputFileError.self) { try InputFile.list(scratch.file("a")) }
        #expect(file?.reason == "not a directory")
    }

    @Test func makesDirectoriesLikeMkdirP() throws {
        let deep = scratch.file("x/y/z")
        try ExportFile.makeDirectories(deep)
        try ExportFile.makeDirectories(deep)
        try ExportFile.makeDirectories(scratch.file("x/./y//w/"))
        #expect(InputFile.kind(deep) == .directory && InputFile.kind(scratch.file("x/y/w")) == .directory)
        #expect(FileManager.default.createFile(atPath: scratch.file("x/file"), contents: nil))
        let error = #expect(throws: IOError.self) { try ExportFile.makeDirectories(scratch.file("x/file/sub")) }
        #expect(error?.path == scratch.file("x/file") && error?.errno == ENOTDIR)
    }
}
