// Data-parallel loops over the machine's cores (Dispatch's concurrentPerform). The body may
// capture non-Sendable state such as buffer pointers: the caller guarantees iterations touch
// disjoint memory (or synchronise) and that everything outlives the call, which returns only
// when every iteration has finished.

import Dispatch

/// Runs `body(i)` for i in 0..<count on all cores and waits for all of them.
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 0 { return }
    if count == 1 { body(0); return }
    withoutActuallyEscaping(body) { escapable in
        let box = UncheckedSendableBox(escapable)
        DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
    }
}

/// `parallelFor` whose iterations may throw; rethrows the error of the lowest failing index.
public func parallelForThrowing(_ count: Int, _ body: (Int) throws -> Void) throws {
    let errors = UncheckedSendableBox(ErrorSlots(count: count))
    parallelFor(count) { i in
        do { try body(i) } catch { errors.value.set(i, error) }
    }
    if let e = errors.value.first() { throw e }
}

final class ErrorSlots: @unchecked Sendable {
    private var slots: [Error?]
    private let lock = NSLockLite()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ e: Error) { lock.withLock { slots[i] = e } }
    func first() -> Error? { lock.withLock { slots.first { $0 != nil } ?? nil } }
}

/// A tiny pthread mutex (Tensors avoids Foundation).
final class NSLockLite: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

struct UncheckedSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
