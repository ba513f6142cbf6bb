// Bounds on a pipeline file's YAML before Yams composes it. Yams resolves every alias to the
// anchored node, so a file of a few hundred bytes whose anchors nest aliases ("billion laughs":
// each level lists the previous one ten times) stands for billions of nodes, and anything that
// walks the tree (our conversion to JSON, Yams' own hashing of mapping keys) would run for hours
// or exhaust memory. Deep nesting recurses as deep. So the file's events are read once with
// libyaml (the parser inside Yams) counting each node as often as aliases repeat it; a file above
// the bounds is refused with an error naming it and the line. Syntax errors are left to Yams,
// whose message is the one users see.

import CYaml

enum YAMLBounds {
    /// Nodes after alias expansion (a real pipeline file has a few hundred).
    static let maxNodes = 100_000
    /// Collections inside collections (a real pipeline file nests 4 deep).
    static let maxDepth = 64

    /// Throws when `text`, aliases expanded, has more than `maxNodes` nodes or nests deeper than `maxDepth`.
    static func check(_ text: String, file: String) throws {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBufferPointer { p in
            yaml_parser_set_input_string(&parser, p.baseAddress, p.count)
            // Per open collection: its anchor and its node count so far (itself included).
            var open: [(anchor: String?, nodes: Int)] = []
            var sizes: [String: Int] = [:]
            var expanded = 0
            func fail(_ event: yaml_event_t, _ why: String) -> PipelineConfigError {
                PipelineConfigError(description: "\(file):\(event.start_mark.line + 1): \(why)")
            }
            /// Counts `n` new nodes (a scalar, a collection itself, or what an alias stands for).
            func count(_ n: Int, _ event: yaml_event_t) throws {
                expanded += n
                if expanded > maxNodes {
                    throw fail(event, "YAML aliases expand this file to more than \(maxNodes) nodes (anchors that repeat each other grow exponentially)")
                }
            }
            func addToParent(_ n: Int) { if !open.isEmpty { open[open.count - 1].nodes += n } }
            func name(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? { p.map { String(cString: $0) } }
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return }   // Yams reports it
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_SCALAR_EVENT:
                    if let a = name(event.data.scalar.anchor) { sizes[a] = 1 }
                    try count(1, event)
                    addToParent(1)
                case YAML_ALIAS_EVENT:
                    let n = name(event.data.alias.anchor).flatMap { sizes[$0] } ?? 1
                    try count(n, event)
                    addToParent(n)
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    guard open.count < maxDepth else { throw fail(event, "collections nest more than \(maxDepth) deep") }
                    try count(1, event)
                    let anchor = event.type == YAML_SEQUENCE_START_EVENT ? name(event.data.sequence_start.anchor) : name(event.data.mapping_start.anchor)
                    open.append((anchor, 1))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let done = open.popLast() else { return }
                    if let a = done.anchor { sizes[a] = done.nodes }
                    addToParent(done.nodes)
                default:
                    break
                }
            }
        }
    }
}
