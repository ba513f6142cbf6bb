// `bridge init`: create an empty store.

import ArgumentParser
import ShardStore

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create an empty store.")

    @OptionGroup var storeOptions: StoreOptions
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let store = try Store.create(at: storeOptions.location)
        if json {
            printJSON(["store": .string(store.root), "version": .int(Store.formatVersion)])
        } else {
            print("Initialized empty bridge store in \(store.root)")
        }
    }
}
