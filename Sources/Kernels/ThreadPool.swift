import Foundation
import Synchronization

/// A fork-join pool for the forward pass: `run` calls `body(i)` for every
/// thread index i in 0..<threadCount (the caller is index 0) and returns when
/// all are done.
///
/// A token of a 135M model runs ~150 parallel regions, so dispatch must cost
/// microseconds: workers spin on an atomic generation counter for a while
/// after each job and only then sleep on a condition variable (so an idle
/// chat prompt does not burn a core). Calls from different threads are
/// serialised.
///
/// ```swift
/// let pool = ThreadPool.shared(threads: 2)
/// pool.run { t in process(part: t, of: pool.threadCount) }
/// ```
///
/// Regions on the hot path pass their work as a value (`ParallelWork`) instead of a closure.
public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int

    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private var job: ((Int) -> Void)?
    /// The value-typed job: where the caller keeps it and its type. A plain slot, not stored
    /// properties: those would be checked for exclusive access on every worker's read.
    private let valueJob = UnsafeMutablePointer<ValueJob>.allocate(capacity: 1)
    private struct ValueJob {
        var work: UnsafeRawPointer?
        var type: (any ParallelWork.Type)?
    }
    private let cond = NSCondition()
    private let callerLock = NSLock()
    private var workers: [Thread] = []

    /// Iterations of the spin loop before a worker sleeps (~1-2 ms).
    private static let spinLimit = 1 << 20
    /// Iterations after which a spinning thread yields its core on every further one (~10-20 µs,
    /// far longer than a region's imbalance): with more threads than free cores, a spinning
    /// thread would otherwise hold the core that the thread it waits for needs, for a whole
    /// time slice (AUTODECO_THREADS=3 on two cores decoded 20 tokens/s, not 400).
    private static let yieldAfter = 1 << 14

    /// Publishes the job just stored: the workers count down `pending` as they finish it.
    @inline(__always) private func startWorkers() {
        pending.store(threadCount - 1, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            cond.lock(); cond.broadcast(); cond.unlock()
        }
    }

    /// The caller's wait at the end of a region.
    @inline(__always) private func waitForWorkers() {
        var spins = 0
        while pending.load(ordering: .acquiring) > 0 {
            spins += 1
            if spins >= Self.yieldAfter { sched_yield() }
        }
    }

    private init(threads: Int) {
        threadCount = max(1, threads)
        valueJob.initialize(to: ValueJob())
        for i in 1..<threadCount {
            // Workers keep the pool alive: pools are long-lived (see `shared(threads:)`).
            let t = Thread { self.workerLoop(index: i) }
            t.stackSize = 1 << 20
            t.name = "autodeco-worker-\(i)"
            workers.append(t)
            t.start()
        }
    }

    /// One thread per core, or AUTODECO_THREADS.
    public static var defaultThreadCount: Int {
        ProcessInfo.processInfo.environment["AUTODECO_THREADS"].flatMap { Int($0) }
            ?? ProcessInfo.processInfo.activeProcessorCount
    }

    nonisolated(unsafe) private static var pools: [Int: ThreadPool] = [:]
    private static let poolsLock = NSLock()

    /// The process-wide pool with `threads` threads (created once, then reused).
    public static func shared(threads: Int) -> ThreadPool {
        poolsLock.lock(); defer { poolsLock.unlock() }
        if let p = pools[threads] { return p }
        let p = ThreadPool(threads: threads)
        pools[threads] = p
        return p
    }

    /// Runs `body(threadIndex)` on all threads and waits for all of them.
    public func run(_ body: (Int) -> Void) {
        if threadCount == 1 { body(0); return }
        callerLock.lock(); defer { callerLock.unlock() }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            startWorkers()
            escapable(0)
            waitForWorkers()
            job = nil
        }
    }

    /// Runs `work.run(part:)` for every thread index (the caller is part 0) and waits for all of
    /// them: the workers read the caller's copy in place, so that a region costs no reference
    /// counting (a closure's context is retained and released by every worker that calls it).
    public func run<W: ParallelWork>(_ work: W) {
        if threadCount == 1 { work.run(part: 0); return }
        callerLock.lock(); defer { callerLock.unlock() }
        withUnsafePointer(to: work) { p in
            valueJob.pointee = ValueJob(work: UnsafeRawPointer(p), type: W.self)
            startWorkers()
            p.pointee.run(part: 0)
            waitForWorkers()
            valueJob.pointee = ValueJob()
        }
    }

    /// `run(work)`, or its parts one after another on the calling thread when `inline`.
    public func run<W: ParallelWork>(inline: Bool, _ work: W) {
        if inline { for k in 0..<threadCount { work.run(part: k) } } else { run(work) }
    }

    /// `body(k)` for every thread index k, one after another on the calling thread: the same parts
    /// as `run`, so the same arithmetic, for work that is itself one of several run in parallel.
    public func runInline(_ body: (Int) -> Void) {
        for k in 0..<threadCount { body(k) }
    }

    /// `run`, or `runInline` when `inline` (the caller is one of several threads already at work).
    public func run(inline: Bool, _ body: (Int) -> Void) {
        if inline { runInline(body) } else { run(body) }
    }

    /// `body(thread, item)` for items 0..<count dealt round-robin: thread k takes k, k + n, k + 2n...
    public func runDealing(_ count: Int, _ body: (_ thread: Int, _ item: Int) -> Void) {
        run { t in for i in stride(from: t, to: count, by: threadCount) { body(t, i) } }
    }

    /// Part k of `parts` contiguous parts of 0..<count, cut on multiples of `unit` (the last
    /// part also takes the remainder): how every parallel region here divides its work.
    public static func part(_ k: Int, of parts: Int, count: Int, unit: Int = 1) -> Range<Int> {
        let units = count / unit
        let lo = units * k / parts * unit, hi = k == parts - 1 ? count : units * (k + 1) / parts * unit
        return lo..<hi
    }

    /// Splits 0..<count into `threadCount` contiguous ranges and runs `body(range)` on each.
    public func parallelFor(_ count: Int, minPerThread: Int = 1, _ body: (Range<Int>) -> Void) {
        let n = min(threadCount, max(1, count / max(minPerThread, 1)))
        if n <= 1 { body(0..<count); return }
        run { t in
            guard t < n else { return }
            let range = Self.part(t, of: n, count: count)
            if !range.isEmpty { body(range) }
        }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                // A yield takes about as long as 500 spins: the time before sleeping stays ~1-2 ms.
                if spins >= Self.yieldAfter { sched_yield(); spins += 511 }
                if spins >= Self.spinLimit {
                    cond.lock()
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen { cond.wait() }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    cond.unlock()
                    spins = 0
                }
            }
            seen = generation.load(ordering: .acquiring)
            let value = valueJob.pointee
            if let type = value.type, let work = value.work { type.invoke(work, part: index) } else { job?(index) }
            pending.subtract(1, ordering: .releasing)
        }
    }
}

/// A parallel region's work as a value of plain data (pointers, counts, ranges), for
/// `ThreadPool.run(_:)`: part k runs on thread k. A closure would do, but the workers' calls
/// of the caller's closure retain and release its context, atomic writes to a cache line of the
/// caller's core, and the check that it did not escape reads that line back: an empty closure
/// region took 280-310 ns against 140-155 for a value (docs/performance.md, item 22).
public protocol ParallelWork {
    func run(part: Int)
}

extension ParallelWork {
    /// The worker's entry: `Self` is opened from the job's stored type.
    fileprivate static func invoke(_ work: UnsafeRawPointer, part: Int) {
        work.assumingMemoryBound(to: Self.self).pointee.run(part: part)
    }
}
