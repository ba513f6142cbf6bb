// Data-parallel loops over the machine's cores (Dispatch's concurrentPerform). The body may
// capture non-Sendable state such as buffer pointers: the caller guarantees iterations touch
// disjoint memory (or synchronise) and that everything outlives the call, which returns only
// when every iteration has finished. Iterations run with a kernel budget of one thread, so the
// kernels they call do not start parallel loops of their own.
//
// `parallelWorkers` is the batch-split form used by the model: items (micro-batches, groups of
// sequences) are claimed in increasing order by up to `threads` workers, each running its items
// with single-threaded kernels and BLAS; `OrderedSections` lets those workers add into shared
// memory (gradients) in item order, so the sums are the same bits for any number of workers.

import Dispatch
import Foundation
import Synchronization

/// Runs `body(i)` for i in 0..<count on all cores and waits for all of them.
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 0 { return }
    if count == 1 { KernelThreads.limit(to: 1) { body(0) }; return }
    withoutActuallyEscaping(body) { escapable in
        let box = UncheckedSendableBox(escapable)
        DispatchQueue.concurrentPerform(iterations: count) { i in KernelThreads.limit(to: 1) { box.value(i) } }
    }
}

/// `parallelFor` whose iterations may throw; rethrows the error of the lowest failing index.
public func parallelForThrowing(_ count: Int, _ body: (Int) throws -> Void) throws {
    let errors = ErrorSlots(count: count)
    parallelFor(count) { i in
        do { try body(i) } catch { errors.set(i, error) }
    }
    if let e = errors.first() { throw e }
}

/// Runs `body(i)` for i in 0..<count on up to `threads` threads of its own, more than the cores if
/// asked: for work that mostly waits on the disk (storing objects, each written and fsynced), where
/// waits that overlap cost one wait (the file system commits concurrent fsyncs together). Items
/// are claimed in increasing order; the calling thread works too; returns when all are done and
/// rethrows the error of the lowest failing index. Bodies run with single-threaded kernels.
public func parallelForBlocking(_ count: Int, threads: Int, _ body: (Int) throws -> Void) throws {
    if count <= 0 { return }
    let workers = max(1, min(threads, count))
    let errors = ErrorSlots(count: count)
    withoutActuallyEscaping(body) { escapable in
        let box = UncheckedSendableBox(escapable)
        let next = AtomicCounter()
        let work = BlockingWork {
            KernelThreads.limit(to: 1) {
                while true {
                    let i = next.value.wrappingAdd(1, ordering: .relaxed).oldValue
                    if i >= count { break }
                    do { try box.value(i) } catch { errors.set(i, error) }
                }
            }
        }
        // joined before returning: no thread holds the body afterwards
        var started: [pthread_t] = []
        for _ in 1..<workers {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(work).toOpaque()
            if pthread_create(&thread, nil, { context in
                Unmanaged<BlockingWork>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, context) == 0 {
                started.append(thread)
            } else {
                Unmanaged<BlockingWork>.fromOpaque(context).release()   // fewer helpers: the caller does the rest
            }
        }
        work.run()
        for thread in started { pthread_join(thread, nil) }
    }
    if let e = errors.first() { throw e }
}

private final class BlockingWork: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// Runs `body(item)` for every item in 0..<items on min(threads, items) workers. Workers claim
/// items in increasing order (item i starts only after items 0..<i have started), run them with
/// single-threaded kernels and OpenBLAS at one thread, and the call returns when all are done.
/// With one worker the items run in order on the calling thread.
public func parallelWorkers(_ items: Int, threads: Int, _ body: (Int) -> Void) {
    if items <= 0 { return }
    let workers = max(1, min(threads, items))
    BLAS.singleThreaded {
        if workers == 1 {
            KernelThreads.limit(to: 1) { for i in 0..<items { body(i) } }
            return
        }
        let next = UncheckedSendableBox(AtomicCounter())
        parallelFor(workers) { _ in
            while true {
                let i = next.value.value.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= items { break }
                body(i)
            }
        }
    }
}

/// Sections of code that items (micro-batches) must pass in item order: section k of item i runs
/// only after section k of items 0..<i has finished. Every item passes the same sections in the
/// same order (its `cursor` counts them). Workers of `parallelWorkers` claim items in order, so
/// the lowest unfinished item never waits and waiting always ends.
public final class OrderedSections: @unchecked Sendable {
    private var passed: [AtomicCounter]

    public init(sections: Int = 0) {
        passed = (0..<sections).map { _ in AtomicCounter() }
    }

    /// Makes room for `sections` sections and sets every count back to zero (before the items start).
    public func reset(sections: Int) {
        while passed.count < sections { passed.append(AtomicCounter()) }
        for p in passed { p.value.store(0, ordering: .relaxed) }
    }

    /// Runs body as section `cursor` of `item`, then advances cursor.
    @inline(__always)
    public func run(_ cursor: inout Int, item: Int, _ body: () -> Void) {
        precondition(cursor < passed.count, "more ordered sections than reserved (\(passed.count))")
        let counter = passed[cursor]
        var spins = 0
        while counter.value.load(ordering: .acquiring) != item {
            spins += 1
            if spins > 64 { sched_yield(); spins = 0 }
        }
        body()
        counter.value.store(item + 1, ordering: .releasing)
        cursor += 1
    }
}

final class AtomicCounter: @unchecked Sendable {
    let value = Atomic<Int>(0)
}

final class ErrorSlots: Sendable {
    private let slots: Locked<[Error?]>
    init(count: Int) { slots = Locked(Array(repeating: nil, count: count)) }
    func set(_ i: Int, _ e: Error) { slots.withLock { $0[i] = e } }
    func first() -> Error? { slots.withLock { $0.first { $0 != nil } ?? nil } }
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
