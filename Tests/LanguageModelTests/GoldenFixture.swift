// Loads a golden fixture written by tools/gen_model_goldens.py: config, weights, the batch and
// the reference outputs of PyTorch + transformers.

import Foundation
import LanguageModel
import Tensors
import TestSupport

let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

struct GoldenFixture {
    let config: ModelConfig
    let model: Transformer
    let golden: FixtureTensors
    let json: [String: Any]
    let batch: Int
    let time: Int
    let tokens: [Int32]
    let targets: [Int32]

    init(_ family: String) throws {
        let dir = fixturesDirectory + "/" + family
        config = try ModelConfig(json: fixtureData(dir + "/config.json"))
        let weights = try FixtureTensors(path: dir + "/model.safetensors")
        model = try Transformer(config: config, params: ParameterLayout(config: config).assemble(weights.asTensors()))
        golden = try FixtureTensors(path: dir + "/golden.safetensors")
        json = try fixtureJSON(dir + "/golden.json")
        batch = json["batch"] as! Int
        time = json["time"] as! Int
        tokens = (json["tokens"] as! [Int]).map(Int32.init)
        targets = (json["targets"] as! [Int]).map(Int32.init)
    }

    var loss: Float { Float(json["loss"] as! Double) }
}

extension FixtureTensors {
    /// f32 `Tensor`s by name (optionally only those with a prefix, which is stripped).
    func asTensors(prefix: String = "") -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for name in names where name.hasPrefix(prefix) {
            out[String(name.dropFirst(prefix.count))] = Tensor(f32: values[name]!, shape: shapes[name]!)
        }
        return out
    }
}
