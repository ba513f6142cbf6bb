// What the refs and journals keep alive. A manifest names every object it depends on with an
// "id" key somewhere in its JSON; keys under "metadata" and "parent" are provenance, not
// dependencies; a delta object depends on its base. The walk also remembers who needs each object, so errors can name the ref and
// the tensor.

public struct Reachability: Sendable {
    public var reachable: Set<ObjectID> = []
    /// For each object, up to 4 descriptions of what needs it ("ref 'models/x' › tensor 'w'").
    public var neededBy: [ObjectID: [String]] = [:]
    public var missing: Set<ObjectID> = []
    /// Manifests that could not be read (corrupt or not JSON), with the reason.
    public var unreadable: [ObjectID: String] = [:]

    public func describeNeeds(_ id: ObjectID) -> [String] { neededBy[id] ?? [] }
}

extension Store {
    /// Roots: every ref, and the ids named under "inputs" or "outputs" of journal lines — except
    /// those of pruned steps (DESIGN.md §3, Retention): when a run keeps step refs
    /// (refs/runs/<run>/steps/<K>), a journal line with a "step" > 0 that is not kept is history
    /// only, and a kept step's lines keep their outputs (their inputs are earlier outputs, data, or
    /// named by the step's state). Lines without a step (data, hand-run stages) always stay roots.
    public func roots() throws -> [(label: String, id: ObjectID)] {
        var roots = try listRefs().map { (label: "ref '\($0.name)'", id: $0.id) }
        for run in try journalRuns() {
            let kept = try keptSteps(run: run)
            for (n, line) in try readJournal(run: run).enumerated() {
                var keys = ["inputs", "outputs"]
                if let kept, let step = line["step"]?.intValue, step > 0 {
                    guard kept.contains(step) else { continue }
                    keys = ["outputs"]
                }
                for key in keys {
                    guard let v = line[key] else { continue }
                    for id in allIDStrings(in: v) {
                        roots.append((label: "journal '\(run)' line \(n + 1)", id: id))
                    }
                }
            }
        }
        return roots
    }

    /// The steps a run keeps (refs/runs/<run>/steps/<K>), or nil when it keeps none by step.
    public func keptSteps(run: String) throws -> Set<Int>? {
        guard let refs = try? listRefs(under: "runs/\(run)/steps"), !refs.isEmpty else { return nil }
        return Set(refs.compactMap { Int($0.name.path.split(separator: "/").last ?? "") })
    }

    /// Follows manifests from `roots`.
    public func reachability(from roots: [(label: String, id: ObjectID)]) -> Reachability {
        var r = Reachability()
        var stack = roots.reversed().map { ($0.id, $0.label) }
        while let (id, label) = stack.popLast() {
            if r.neededBy[id, default: []].count < 4 { r.neededBy[id, default: []].append(label) }
            if r.reachable.contains(id) { continue }
            r.reachable.insert(id)
            guard contains(id) else { r.missing.insert(id); continue }
            guard let header = try? header(id) else { continue }  // verify reports it
            if header.codec.isDelta {
                stack.append((header.base, "\(label) › delta base of \(id.hex.prefix(12))"))
            }
            guard header.kind == .manifest else { continue }
            do {
                let json = try readJSON(id)
                var children: [(ObjectID, String?)] = []
                collectDependencies(json, context: nil, into: &children)
                for (child, name) in children.reversed() {
                    stack.append((child, name.map { "\(label) › '\($0)'" } ?? "\(label) › manifest \(id.hex.prefix(12))"))
                }
            } catch {
                r.unreadable[id] = (error as? StoreError)?.description ?? "\(error)"
            }
        }
        return r
    }

    private func collectDependencies(_ v: JSONValue, context: String?, into out: inout [(ObjectID, String?)]) {
        switch v {
        case let .object(o):
            let name = o["name"]?.stringValue ?? context
            if let s = o["id"]?.stringValue, let id = ObjectID(hex: s) { out.append((id, name)) }
            for key in o.keys.sorted() where key != "metadata" && key != "parent" && key != "id" {
                collectDependencies(o[key]!, context: name, into: &out)
            }
        case let .array(a):
            for e in a { collectDependencies(e, context: context, into: &out) }
        default:
            break
        }
    }

    private func allIDStrings(in v: JSONValue) -> [ObjectID] {
        switch v {
        case let .string(s): return ObjectID(hex: s).map { [$0] } ?? []
        case let .array(a): return a.flatMap { allIDStrings(in: $0) }
        case let .object(o): return o.keys.sorted().flatMap { allIDStrings(in: o[$0]!) }
        default: return []
        }
    }
}
