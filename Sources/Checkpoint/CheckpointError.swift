// Errors of checkpoint import/export and tensor sets; each names the file, tensor or object.

import ShardStore
import Tensors

public enum CheckpointError: Error, CustomStringConvertible {
    case badSafetensors(path: String, reason: String)
    case notATensorSet(ObjectID, reason: String)
    case unknownTensor(String, set: String)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .badSafetensors(path, reason):
            return "invalid safetensors file '\(path)': \(reason)"
        case let .notATensorSet(id, reason):
            return "object \(id) is not a tensor set: \(reason)"
        case let .unknownTensor(name, set):
            return "tensor '\(name)' is not in \(set)"
        case let .io(path, reason):
            return "cannot write '\(path)': \(reason)"
        }
    }
}

extension CheckpointError: ClassifiedError {
    public var errorClass: ErrorClass { .input }
}
