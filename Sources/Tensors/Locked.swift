#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The project's one lock type: a value that is reachable only while its mutex is held.
///
///     let totals = Locked<[String: Double]>([:])
///     totals.withLock { $0["rollout", default: 0] += seconds }
///
/// It is a pthread mutex rather than the standard library's `Mutex` for one reason: sanitizers.
/// ThreadSanitizer intercepts `pthread_mutex_lock`/`unlock` and so sees the order they impose;
/// `Mutex` on Linux locks with futex calls inside the uninstrumented standard library, which
/// TSan cannot see, so an earlier `swift test --sanitize=thread` pass reported races on the
/// values it guarded (tools/sanitize.sh). Uncontended, both cost an atomic operation each way.
///
/// A class, so that one lock is shared by every closure that captures it (the `concurrentPerform`
/// bodies that collect results, the static tables of the I/O funnel).
public final class Locked<Value>: @unchecked Sendable {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed (\(status))")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the value while holding the lock. Do not call `withLock` on the same
    /// lock from inside `body` (the mutex is not recursive). Inlinable, as the standard library's
    /// `Mutex.withLock` is, so callers in other modules get it specialised.
    @inlinable public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

/// A lock with a condition variable: `wait()` releases the lock until `broadcast()`.
/// (The hot-thread team's sleeping helpers.) The lock is a `Locked<Void>`'s own mutex.
public final class Condition: @unchecked Sendable {
    private let lock = Locked(())
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        let status = pthread_cond_init(cond, nil)
        precondition(status == 0, "pthread_cond_init failed (\(status))")
    }

    deinit {
        pthread_cond_destroy(cond)
        cond.deinitialize(count: 1)
        cond.deallocate()
    }

    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        try lock.withLock { _ in try body() }
    }

    /// Call with the lock held (inside `withLock`).
    public func wait() { pthread_cond_wait(cond, lock.mutex) }
    public func broadcast() { pthread_cond_broadcast(cond) }
}
