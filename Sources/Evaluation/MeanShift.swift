import AutoDeco
import Foundation

/// The critique's MeanShift baseline (spec §7): the means of the heads' own teacher-forced
/// predictions T_t and P_t over the supervised tokens of a training file, used as one fixed
/// (T, P). Also the temperature of the mean inverse temperature, 1 / mean(1 / T_t).
public struct MeanShift: Sendable, Codable, Equatable {
    public var positions: Int
    public var meanTemperature: Double
    public var meanTopP: Double
    public var inverseMeanTemperature: Double
    public var stdTemperature: Double
    public var stdTopP: Double

    enum CodingKeys: String, CodingKey {
        case positions, meanTemperature = "mean_temperature", meanTopP = "mean_top_p",
             inverseMeanTemperature = "temperature_from_mean_inverse", stdTemperature = "std_temperature", stdTopP = "std_top_p"
    }

    /// The evaluation method with these means ("meanshift:T,P").
    public var method: EvaluationMethod { .meanShift(temperature: Float(meanTemperature), topP: Float(meanTopP)) }

    public static func compute(heads: AutoDecoHeads, data: BaseActivations, model: LlamaModel,
                               progress: (Int, Int) -> Void = { _, _ in }) -> MeanShift {
        let N = data.positionCount, V = model.config.vocab
        var t = [Double](repeating: 0, count: N), p = [Double](repeating: 0, count: N)
        let scratch = (0..<model.pool.threadCount).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: V) }
        defer { scratch.forEach { $0.deallocate() } }
        t.withUnsafeMutableBufferPointer { tb in
            p.withUnsafeMutableBufferPointer { pb in
                TeacherForcing.forEachPosition(data, model: model, progress: progress) { thread, i, h, z, _ in
                    let temperature = heads.temperature(hidden: h)
                    let features = LogitFeatures(logits: z, temperature: temperature, scratch: scratch[thread])
                    tb[i] = Double(temperature)
                    pb[i] = Double(heads.topP(hidden: h, temperature: temperature, features: features))
                }
            }
        }
        let mt = MeanStd(t), mp = MeanStd(p)
        let meanInverse = t.reduce(0) { $0 + 1 / $1 } / Double(max(N, 1))
        return MeanShift(positions: N, meanTemperature: mt.mean, meanTopP: mp.mean, inverseMeanTemperature: 1 / meanInverse,
                         stdTemperature: mt.std, stdTopP: mp.std)
    }
}
