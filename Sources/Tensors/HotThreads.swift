// Helper threads that spin, instead of sleeping, while one caller runs many small parallel loops
// (decoding: a few dozen products of a few rows per token). Inside `HotThreads.run`, every
// `parallelChunks` of the calling thread hands its chunks to the spinning helpers and waits for
// them by spinning too: under a microsecond per loop where Dispatch takes a few. Chunks are
// claimed as threads become free, so a core the (shared) machine slows down takes fewer of them.
// Outside a hot region the helpers sleep. One caller owns the helpers at a time; a second caller
// (or a nested region) simply runs without them, which changes speed, never results.

import Foundation
import Synchronization

public enum HotThreads {
    /// Runs body with up to `threads − 1` helpers spinning for the calling thread's parallel loops.
    public static func run<R>(threads: Int, _ body: () throws -> R) rethrows -> R {
        let wanted = min(threads, KernelThreads.available) - 1
        guard wanted > 0, current == nil, let team = Team.shared.claim(helpers: wanted) else {
            return try body()
        }
        defer { team.release() }
        let saved = pthread_getspecific(hotKey)
        pthread_setspecific(hotKey, Unmanaged.passUnretained(team).toOpaque())
        defer { pthread_setspecific(hotKey, saved) }
        return try KernelThreads.limit(to: min(wanted, team.helpers) + 1, body)
    }

    /// The team the calling thread owns, if it is inside `run`.
    static var current: Team? {
        pthread_getspecific(hotKey).map { Unmanaged<Team>.fromOpaque($0).takeUnretainedValue() }
    }

    static let hotKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The process's helper threads (created on first use, never more than cores − 1).
    final class Team: @unchecked Sendable {
        static let shared = Team()

        private let owner = Locked(false)
        private let wake = Condition()
        /// Helpers spin while hot; they sleep on `wake` otherwise.
        private let hot = Atomic<Bool>(false)
        /// Bumped for every job; helpers run each new job once.
        private let generation = Atomic<Int>(0)
        /// Helpers that finished the current job.
        private let finished = Atomic<Int>(0)
        /// The next unclaimed chunk of the current job.
        private let nextChunk = Atomic<Int>(0)
        private var threads: [Thread] = []
        private(set) var helpers = 0
        nonisolated(unsafe) private var job: ((Int) -> Void)?
        nonisolated(unsafe) private var jobChunks = 0

        /// Takes the team for one region (nil if another region holds it), starting helpers as needed.
        func claim(helpers wanted: Int) -> Team? {
            let free = owner.withLock { busy -> Bool in
                if busy { return false }
                busy = true
                return true
            }
            guard free else { return nil }
            while threads.count < min(wanted, KernelThreads.defaultCount - 1) {
                // the helper counts jobs from now: the first job may be posted before it starts
                let index = threads.count + 1, seen = generation.load(ordering: .acquiring)
                let thread = Thread { [unowned self] in self.helperLoop(seen: seen) }
                thread.name = "bridge-hot-\(index)"
                thread.stackSize = 1 << 20
                threads.append(thread)
                thread.start()
            }
            // every started helper takes part (each acknowledges every job); `wanted` only caps the
            // chunks through the caller's kernel budget
            helpers = threads.count
            guard helpers > 0 else { owner.withLock { $0 = false }; return nil }
            wake.withLock { hot.store(true, ordering: .releasing) }
            wake.broadcast()
            return self
        }

        func release() {
            hot.store(false, ordering: .releasing)
            owner.withLock { $0 = false }
        }

        /// Runs body(c) for c in 0..<chunks on the caller and the helpers, each claiming the next
        /// chunk as it becomes free; returns when all are done.
        func parallel(_ chunks: Int, _ body: (Int) -> Void) {
            precondition(chunks >= 1)
            withoutActuallyEscaping(body) { escapable in
                job = escapable
                jobChunks = chunks
                nextChunk.store(0, ordering: .relaxed)
                finished.store(0, ordering: .relaxed)
                generation.wrappingAdd(1, ordering: .releasing)
                KernelThreads.limit(to: 1) { runChunks(escapable, chunks) }
                var spins = 0
                while finished.load(ordering: .acquiring) < helpers {
                    spins += 1
                    if spins > 4096 { sched_yield(); spins = 0 }
                }
                job = nil
            }
        }

        /// Claims chunks until none are left: a core that the machine slows down takes fewer.
        @inline(__always)
        private func runChunks(_ body: (Int) -> Void, _ chunks: Int) {
            while true {
                let c = nextChunk.wrappingAdd(1, ordering: .relaxed).oldValue
                if c >= chunks { return }
                body(c)
            }
        }

        /// A helper's share of the current job. Its own function so that the helper's reference to
        /// the job's closure is gone before it reports the job finished.
        @inline(never)
        private func runCurrentJob() {
            guard let body = job else { return }
            runChunks(body, jobChunks)
        }

        private func helperLoop(seen start: Int) {
            KernelThreads.limit(to: 1) {
                var seen = start
                while true {
                    if !hot.load(ordering: .acquiring) {
                        wake.withLock { while !hot.load(ordering: .acquiring) { wake.wait() } }
                    }
                    var spins = 0
                    while hot.load(ordering: .relaxed) {
                        let g = generation.load(ordering: .acquiring)
                        if g != seen {
                            seen = g
                            runCurrentJob()
                            finished.wrappingAdd(1, ordering: .releasing)
                            spins = 0
                        } else {
                            spins += 1
                            if spins > 4096 { sched_yield(); spins = 0 }
                        }
                    }
                }
            }
        }
    }
}
