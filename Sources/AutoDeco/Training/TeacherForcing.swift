import Foundation
import Kernels
import Models

/// Visits the supervised positions of a data set under teacher forcing: the frozen base's final
/// hidden state (precomputed in `BaseActivations`), the logits the LM head makes of it and the
/// gold token. Logits are computed 128 positions at a time (one batched matrix product); the
/// positions of a chunk are split over the model's threads.
public enum TeacherForcing {
    /// `visit(thread, position, hidden, logits, label)` for each of `positions` (default: all), in
    /// order within a thread, concurrently across the pool's threads (`thread` indexes per-thread
    /// state). `progress(done, total)` after each chunk.
    public static func forEachPosition(_ data: BaseActivations, model: LlamaModel, positions: [Int]? = nil,
                                       progress: (Int, Int) -> Void = { _, _ in },
                                       _ visit: (Int, Int, UnsafePointer<Float>, UnsafeBufferPointer<Float>, Int) -> Void) {
        let H = data.hiddenSize, V = model.config.vocab
        let rows = positions ?? Array(0..<data.positionCount)
        let N = rows.count
        let workspace = model.makeWorkspace()
        let chunk = 128
        let threads = model.pool.threadCount
        for start in stride(from: 0, to: N, by: chunk) {
            let end = min(N, start + chunk)
            var hidden = [Float]()
            hidden.reserveCapacity((end - start) * H)
            for r in rows[start..<end] { hidden += data.hidden[(r * H)..<((r + 1) * H)] }
            let logits = model.logits(hidden: hidden, workspace: workspace)
            hidden.withUnsafeBufferPointer { hb in
                logits.withUnsafeBufferPointer { lb in
                    model.pool.run { thread in
                        var k = thread
                        while k < end - start {
                            let r = rows[start + k]
                            visit(thread, r, hb.baseAddress! + k * H, UnsafeBufferPointer(rebasing: lb[(k * V)..<((k + 1) * V)]),
                                  Int(data.labels[r]))
                            k += threads
                        }
                    }
                }
            }
            progress(end, N)
        }
    }
}
