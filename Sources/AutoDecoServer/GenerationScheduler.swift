import Decoding
import Foundation
import Models

/// What a submitted request hears from the scheduler.
enum ChoiceEvent: Sendable {
    case token(choice: Int, GeneratedToken)
    /// The choice is complete, for this reason.
    case finished(choice: Int, reason: StopReason)
}

/// Runs every request of the server through one `BatchGenerator` on a thread of its own: up to
/// `slots` sequences are decoded together, the rest wait in a first-come queue. A request's
/// choices (n samples of each prompt) are separate sequences. A consumer that goes away
/// (client disconnected) cancels its sequences, which leave the batch at the next step; a
/// queued one never starts.
final class GenerationScheduler: @unchecked Sendable {
    let generator: BatchGenerator
    private let makeController: @Sendable () -> any DecodingController
    private let maxQueued: Int

    private let condition = NSCondition()
    private var queue: [BatchRequest] = []
    private var queueHead = 0
    private var routes: [Int: Route] = [:]
    private var cancelled: Set<Int> = []
    /// Sequences handed to the generator and not finished (failed together if it throws).
    private var running: Set<Int> = []
    private var nextID = 0
    private var finishedCount = 0, cancelledCount = 0
    private var stopping = false
    private var thread: Thread?

    /// Where a sequence's events go: its request's stream, under its choice index.
    private final class Route {
        let continuation: AsyncThrowingStream<ChoiceEvent, Error>.Continuation
        let choice: Int
        let group: Group
        init(_ c: AsyncThrowingStream<ChoiceEvent, Error>.Continuation, choice: Int, group: Group) {
            continuation = c; self.choice = choice; self.group = group
        }
    }
    private final class Group { var remaining: Int; init(_ n: Int) { remaining = n } }

    init(generator: BatchGenerator, maxQueued: Int, makeController: @escaping @Sendable () -> any DecodingController) {
        self.generator = generator; self.maxQueued = maxQueued; self.makeController = makeController
    }

    func start() {
        let t = Thread { [self] in loop() }
        t.name = "autodeco-decode"
        t.stackSize = 8 << 20
        thread = t
        t.start()
    }

    /// Stops taking requests; running and queued ones finish first.
    func stop() {
        condition.lock(); stopping = true; condition.broadcast(); condition.unlock()
    }

    /// Sequences decoding now and waiting; sequences finished, and cancelled or failed, since the start.
    var load: (running: Int, queued: Int, finished: Int, cancelled: Int) {
        condition.lock(); defer { condition.unlock() }
        return (running.count, queue.count - queueHead, finishedCount, cancelledCount)
    }

    /// A queued request: its events, and a way to give up on it.
    struct Submission: Sendable {
        let events: AsyncThrowingStream<ChoiceEvent, Error>
        fileprivate let ids: [Int]
        fileprivate let scheduler: GenerationScheduler
        /// Cancels the choices not yet finished (they leave the batch at the next step).
        func cancel() { scheduler.cancel(ids) }
    }

    /// Queues one sequence per (prompt, parameters) pair; events arrive on the stream, which
    /// finishes after the last choice. Cancelling the consuming task cancels what is left.
    func submit(_ choices: [(prompt: [Int32], parameters: GenerateParameters)]) throws -> Submission {
        let (stream, continuation) = AsyncThrowingStream<ChoiceEvent, Error>.makeStream()
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { throw APIError.server("The server is shutting down.") }
        guard queue.count - queueHead + choices.count <= maxQueued else { throw APIError.overloaded }
        let group = Group(choices.count)
        var ids = [Int]()
        for (index, choice) in choices.enumerated() {
            let id = nextID; nextID += 1
            ids.append(id)
            routes[id] = Route(continuation, choice: index, group: group)
            queue.append(BatchRequest(id: id, prompt: choice.prompt, parameters: choice.parameters, controller: makeController()))
        }
        continuation.onTermination = { [weak self, ids] termination in
            if case .finished = termination { return }
            self?.cancel(ids)
        }
        condition.broadcast()
        return Submission(events: stream, ids: ids, scheduler: self)
    }

    fileprivate func cancel(_ ids: [Int]) {
        condition.lock(); defer { condition.unlock() }
        for id in ids where routes[id] != nil { cancelled.insert(id) }
    }

    // MARK: - The decoding thread

    private func loop() {
        while true {
            do {
                try generator.run(supply: take, onToken: deliver, isCancelled: isCancelled, onFinish: finish)
                return  // `.end`: stopping and nothing left
            } catch {
                // A failure of the forward pass: the sequences in flight fail, queued ones go on.
                condition.lock()
                let failed = running
                running.removeAll()
                condition.unlock()
                for id in failed { close(id, error: APIError.server("Generation failed: \(error)")) }
            }
        }
    }

    /// The generator's supplier: the next queued, not cancelled request; blocks while idle.
    private func take(idle: Bool) -> BatchSupply {
        condition.lock()
        while true {
            while idle && queueHead == queue.count && !stopping { condition.wait() }
            guard queueHead < queue.count else {
                condition.unlock()
                return stopping && idle ? .end : .none
            }
            let r = queue[queueHead]
            queueHead += 1
            if queueHead > 256 && queueHead * 2 > queue.count { queue.removeFirst(queueHead); queueHead = 0 }
            if cancelled.contains(r.id) {
                condition.unlock()
                close(r.id, reason: .cancelled)
                condition.lock()
                continue
            }
            running.insert(r.id)
            condition.unlock()
            return .request(r)
        }
    }

    private func route(_ id: Int) -> Route? {
        condition.lock(); defer { condition.unlock() }
        return routes[id]
    }

    private func deliver(id: Int, token: GeneratedToken) {
        guard let r = route(id) else { return }
        r.continuation.yield(.token(choice: r.choice, token))
    }

    private func isCancelled(_ id: Int) -> Bool {
        condition.lock(); defer { condition.unlock() }
        return cancelled.contains(id)
    }

    private func finish(_ result: BatchResult) {
        close(result.id, reason: result.stopReason)
    }

    /// Ends sequence `id`: reports how, forgets it, and finishes its request's stream after its last choice.
    private func close(_ id: Int, reason: StopReason = .cancelled, error: Error? = nil) {
        condition.lock()
        let r = routes.removeValue(forKey: id)
        cancelled.remove(id)
        running.remove(id)
        if r != nil { if reason == .cancelled || error != nil { cancelledCount += 1 } else { finishedCount += 1 } }
        condition.unlock()
        guard let r else { return }
        if let error { r.continuation.finish(throwing: error); return }
        r.continuation.yield(.finished(choice: r.choice, reason: reason))
        r.group.remaining -= 1
        if r.group.remaining == 0 { r.continuation.finish() }
    }
}
