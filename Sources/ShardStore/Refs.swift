// Refs: human names for object ids, as files under refs/ holding one id and a newline. Names are
// paths of conservative components; updates happen under the store lock, atomically (temp, fsync,
// rename, fsync directory), and never point at an object the store lacks.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct RefName: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let path: String

    /// Validates a ref name: components of [A-Za-z0-9._-], not empty, not starting with '.',
    /// joined by single slashes; at most 200 bytes.
    public init(_ name: String) throws {
        func invalid(_ why: String) -> StoreError { .invalidRefName(name, reason: why) }
        guard !name.isEmpty else { throw invalid("it is empty") }
        guard name.utf8.count <= 200 else { throw invalid("longer than 200 bytes") }
        guard !name.hasPrefix("/") else { throw invalid("absolute paths are not allowed") }
        for component in name.split(separator: "/", omittingEmptySubsequences: false) {
            guard !component.isEmpty else { throw invalid("empty path component") }
            guard component != "." && component != ".." else { throw invalid("'\(component)' components are not allowed") }
            guard !component.hasPrefix(".") else { throw invalid("components may not start with '.'") }
            guard component.unicodeScalars.allSatisfy(RefName.allowed) else {
                throw invalid("only letters, digits, '.', '_', '-' and '/' are allowed")
            }
        }
        path = name
    }

    static func allowed(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-": true
        default: false
        }
    }

    public var description: String { path }
    public static func < (a: RefName, b: RefName) -> Bool { a.path < b.path }

    public static func model(_ name: String) throws -> RefName { try RefName("models/" + name) }
}

/// Run names are single ref components (they name journal files and refs/runs/<run>/).
public func validateRunName(_ run: String) throws {
    do { _ = try RefName(run) } catch StoreError.invalidRefName(_, let reason) {
        throw StoreError.invalidRunName(run, reason: reason)
    }
    guard !run.contains("/") else { throw StoreError.invalidRunName(run, reason: "'/' is not allowed") }
}

extension Store {
    func refPath(_ name: RefName) -> String { root + "/refs/" + name.path }

    /// Throws (ELOOP, naming it) when a directory on the way to the ref is a symbolic link, which
    /// would lead reads and writes out of the store; the ref file itself is opened without
    /// following one.
    func refuseLinks(_ name: RefName) throws {
        var dir = root + "/refs"
        for c in name.path.split(separator: "/").dropLast() {
            dir += "/" + c
            guard try Posix.isRealDirectory(dir) else { return }
        }
    }

    /// The id a ref holds, nil if the ref does not exist.
    public func readRef(_ name: RefName) throws -> ObjectID? {
        let path = refPath(name)
        try refuseLinks(name)
        if try Posix.isRealDirectory(path) { return nil }
        guard let bytes = try Posix.readFile(path, flags: O_RDONLY | O_NOFOLLOW) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasSuffix("\n"), let id = ObjectID(hex: String(text.dropLast())) else {
            throw StoreError.corruptObject(.zero, path: path, reason: "ref file does not hold one object id")
        }
        return id
    }

    /// Points `name` at `id`. With `expected` (use `.some(nil)` for "must not exist"), fails with
    /// `refConflict` when the ref changed in between. The object must be in the store.
    public func updateRef(_ name: RefName, to id: ObjectID, expected: ObjectID?? = nil) throws {
        guard contains(id) else { throw StoreError.missingObject(id, neededBy: "ref '\(name)'") }
        try withLock {
            if let expected {
                let current = try readRef(name)
                guard current == expected else {
                    throw StoreError.refConflict(name.path, expected: expected?.hex ?? "(none)", found: current?.hex ?? "(none)")
                }
            }
            // Create parent directories, refusing to turn a ref into a directory or vice versa.
            let components = name.path.split(separator: "/").map(String.init)
            var dir = root + "/refs"
            for c in components.dropLast() {
                dir += "/" + c
                let isDirectory = try Posix.isRealDirectory(dir)
                if Posix.fileExists(dir) && !isDirectory {
                    throw StoreError.invalidRefName(name.path, reason: "'\(dir.dropFirst(root.count + 6))' is already a ref")
                }
                if !isDirectory {
                    try Posix.makeDirectory(dir)
                    try Posix.syncDirectory(Posix.parent(of: dir))
                }
            }
            let path = refPath(name)
            if try Posix.isRealDirectory(path) {
                throw StoreError.invalidRefName(name.path, reason: "refs under '\(name.path)/' exist")
            }
            try Posix.writeFileAtomically(path, bytes: Array((id.hex + "\n").utf8), temporary: try temporaryPath("ref"))
        }
    }

    /// Removes a ref (objects stay until gc). Returns false if it did not exist.
    @discardableResult
    public func deleteRef(_ name: RefName) throws -> Bool {
        try withLock {
            let path = refPath(name)
            try refuseLinks(name)
            guard Posix.fileExists(path), !(try Posix.isRealDirectory(path)) else { return false }
            try Posix.unlinkIfExists(path)
            try Posix.syncDirectory(Posix.parent(of: path))
            // Prune now-empty parent directories.
            var dir = Posix.parent(of: path)
            while dir.count > (root + "/refs").count, (try? Posix.listDirectory(dir))?.isEmpty == true {
                try Posix.removeDirectory(dir)
                dir = Posix.parent(of: dir)
            }
            return true
        }
    }

    /// All refs and their ids, sorted by name. A ref file that does not hold an id is an error.
    public func listRefs(under prefix: String? = nil) throws -> [(name: RefName, id: ObjectID)] {
        var out: [(RefName, ObjectID)] = []
        func walk(_ dir: String, _ rel: String) throws {
            for entry in try Posix.listDirectory(dir) {
                let path = dir + "/" + entry
                let name = rel.isEmpty ? entry : rel + "/" + entry
                if try Posix.isRealDirectory(path) {
                    try walk(path, name)
                } else if let ref = try? RefName(name), let id = try readRef(ref) {
                    out.append((ref, id))
                }
            }
        }
        let start = prefix.map { root + "/refs/" + $0 } ?? root + "/refs"
        try walk(start, prefix ?? "")
        return out.sorted { $0.0 < $1.0 }
    }

    // MARK: resolving what the user typed

    public struct Resolved: Sendable {
        public let id: ObjectID
        /// The ref it came through, if any.
        public let ref: RefName?
    }

    /// Resolves a ref name (tried as given, then under models/ and as runs/<name>/head), a full id,
    /// or a unique id prefix of at least 8 hex digits.
    public func resolve(_ spec: String) throws -> Resolved {
        if let id = ObjectID(hex: spec), contains(id) { return Resolved(id: id, ref: nil) }
        if let name = try? RefName(spec) {
            for candidate in [spec, "models/" + spec, "runs/" + spec + "/head"] {
                if let ref = try? RefName(candidate), let id = try readRef(ref) { return Resolved(id: id, ref: ref) }
            }
            _ = name
        }
        if spec.count >= 8, spec.count <= 32, isHex(spec) {
            let matches = try objectIDs(withPrefix: spec)
            if matches.count == 1 { return Resolved(id: matches[0], ref: nil) }
            if matches.count > 1 { throw StoreError.ambiguousPrefix(spec, candidates: matches.map(\.hex)) }
        }
        if spec.hasPrefix("/") || spec.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0.isEmpty }) {
            _ = try RefName(spec)  // throws the precise invalid-name error
        }
        throw StoreError.unknownRef(spec)
    }
}
