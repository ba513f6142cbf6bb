import ArgumentParser

struct BenchStore: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store", abstract: "Store throughput (import/export of a ~1 GiB set, hashing, mmap open).")
}
