// `bridge ckpt ...`: import, export, list, show, diff and verify tensor sets.

import ArgumentParser
import ShardStore

struct Ckpt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ckpt", abstract: "Checkpoints (tensor sets): import, export, inspect, diff, verify.",
        subcommands: [])
}
