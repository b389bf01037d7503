import Foundation
import Testing
import AutoDeco

/// Heads written by PyTorch (scripts/make-heads-fixture.py recreates the official modules) must
/// give the same T and P here, and our checkpoints must keep the official layout.
struct HeadsCompatibilityTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/heads")
    static let H = 576, V = 1536, N = 200

    static func inputs() throws -> (hidden: [Float], logits: [Float]) {
        let f = try SafetensorsFile(path: fixtures.appendingPathComponent("inputs.safetensors").path)
        return (try f.floats("hidden"), try f.floats("logits"))
    }

    /// T, P and the features for every fixture input.
    static func predict(_ heads: AutoDecoHeads, _ hidden: [Float], _ logits: [Float]) -> [(t: Float, p: Float, f: LogitFeatures)] {
        var scratch = [Float](repeating: 0, count: V)
        return (0..<N).map { i in
            hidden.withUnsafeBufferPointer { h in
                logits.withUnsafeBufferPointer { l in
                    let hp = h.baseAddress! + i * H
                    let t = heads.temperature(hidden: hp)
                    let row = UnsafeBufferPointer(rebasing: l[(i * V)..<((i + 1) * V)])
                    let f = scratch.withUnsafeMutableBufferPointer { LogitFeatures(logits: row, temperature: t, scratch: $0.baseAddress!) }
                    return (t, heads.topP(hidden: hp, temperature: t, features: f), f)
                }
            }
        }
    }

    @Test(arguments: ["f32", "bf16"])
    func reproducesPyTorch(dtype: String) throws {
        let heads = try AutoDecoCheckpoint.load(directory: Self.fixtures.appendingPathComponent(dtype).path, hiddenSize: Self.H, baseModelType: "llama")
        #expect(heads.parameterCount == 297_218)
        let (hidden, logits) = try Self.inputs()
        let expected = try SafetensorsFile(path: Self.fixtures.appendingPathComponent("expected.safetensors").path)
        let T = try expected.floats("\(dtype).T"), P = try expected.floats("\(dtype).P"), F = try expected.floats("\(dtype).features")
        var worstT: Float = 0, worstP: Float = 0, worstF = [Float](repeating: 0, count: 4)
        for (i, r) in Self.predict(heads, hidden, logits).enumerated() {
            worstT = max(worstT, abs(r.t - T[i]))
            worstP = max(worstP, abs(r.p - P[i]))
            let ours = [r.f.maxProb, r.f.entropy, r.f.probVariance, r.f.top5Sum]
            // Relative error, absolute below 1 (entropy and variance reach 0 on peaked rows).
            for k in 0..<4 { worstF[k] = max(worstF[k], abs(ours[k] - F[4 * i + k]) / max(abs(F[4 * i + k]), 1)) }
        }
        #expect(worstT <= 1e-5, "max |T - torch| = \(worstT)")
        #expect(worstP <= 1e-5, "max |P - torch| = \(worstP)")
        // float32 sums over V terms in a different order than torch: a few ulps.
        #expect(worstF.max()! <= 1e-5, "max relative error of max_prob, entropy, prob_var, top5_sum = \(worstF)")
    }

    @Test func savedCheckpointsKeepTheOfficialLayoutAndRoundTrip() throws {
        let heads = AutoDecoHeads(hiddenSize: 64, seed: 9)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("heads-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = AutoDecoConfig(fields: ["model_type": "autodeco", "base_model_type": "llama"])
        config.hiddenSize = 64
        for dtype in [SafetensorsDType.f32, .bf16] {
            try AutoDecoCheckpoint.save(heads, to: dir, baseConfig: config, dtype: dtype)
            let f = try SafetensorsFile(path: dir + "/model.safetensors")
            #expect(Set(f.tensors.keys) == Set(AutoDecoCheckpoint.tensorShapes(hiddenSize: 64).map(\.name)))
            for (name, shape) in AutoDecoCheckpoint.tensorShapes(hiddenSize: 64) {
                #expect(f.tensors[name]?.shape == shape)
                #expect(f.tensors[name]?.dtype == dtype)
            }
            let back = try AutoDecoCheckpoint.load(directory: dir, hiddenSize: 64, baseModelType: "llama")
            if dtype == .f32 {
                #expect(back == heads)
            } else {
                let w = heads.topPHead.first.weight, b = back.topPHead.first.weight
                #expect(zip(w, b).allSatisfy { abs($0 - $1) <= abs($0) / 128 })
            }
            let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as? [String: Any]
            #expect(cfg?["model_type"] as? String == "autodeco")
            #expect(cfg?["temperature_hidden_size"] as? Int == 64)
            #expect(cfg?["top_p_hidden_size"] as? Int == 64)
        }
    }

    @Test func initialisationFollowsPyTorchBounds() {
        let heads = AutoDecoHeads(hiddenSize: 576, seed: 1)
        let bound1 = 1 / Float(576).squareRoot(), bound2 = 1 / Float(256).squareRoot()
        #expect(heads.temperatureHead.first.weight.allSatisfy { abs($0) <= bound1 })
        #expect(heads.temperatureHead.second.weight.allSatisfy { abs($0) <= bound2 })
        #expect(heads.topPHead.first.bias.allSatisfy { abs($0) <= 1 / Float(581).squareRoot() })
        // Uniform, not all at the bound: the spread of U(-b, b) has standard deviation b / sqrt(3).
        let w = heads.temperatureHead.first.weight
        let sd = (w.reduce(0) { $0 + Double($1 * $1) } / Double(w.count)).squareRoot()
        #expect(abs(sd - Double(bound1) / 3.0.squareRoot()) < 0.01 * Double(bound1))
        #expect(AutoDecoHeads(hiddenSize: 576, seed: 1) == heads)
        #expect(AutoDecoHeads(hiddenSize: 576, seed: 2) != heads)
    }
}

struct CheckpointErrorTests {
    func makeCheckpoint(_ edit: (inout [String: [Float]], inout [String: [Int]], inout [String: Any]) -> Void,
                        dtype: SafetensorsDType = .f32) throws -> String {
        let h = 8
        var values = [String: [Float]](), shapes = [String: [Int]]()
        for (n, s) in AutoDecoCheckpoint.tensorShapes(hiddenSize: h) { shapes[n] = s; values[n] = [Float](repeating: 0.1, count: s.reduce(1, *)) }
        var config: [String: Any] = ["model_type": "autodeco", "base_model_type": "llama", "temperature_hidden_size": h, "top_p_hidden_size": h]
        edit(&values, &shapes, &config)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bad-heads-\(UUID().uuidString)").path
        var w = SafetensorsWriter()
        for n in values.keys.sorted() { try w.add(n, shape: shapes[n]!, floats: values[n]!, as: dtype) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try w.write(to: dir + "/model.safetensors")
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        return dir
    }

    @Test func wrongOrMissingPiecesAreNamed() throws {
        let missing = try makeCheckpoint { v, _, _ in v["top_p_head.mlp.2.bias"] = nil }
        #expect(throws: AutoDecoError.missingTensor(directory: missing, name: "top_p_head.mlp.2.bias")) {
            try AutoDecoCheckpoint.load(directory: missing, hiddenSize: 8)
        }
        let shape = try makeCheckpoint { v, s, _ in s["temp_head.mlp.0.weight"] = [256, 7]; v["temp_head.mlp.0.weight"] = [Float](repeating: 0, count: 256 * 7) }
        #expect(throws: AutoDecoError.wrongShape(directory: shape, name: "temp_head.mlp.0.weight", expected: [256, 8], found: [256, 7])) {
            try AutoDecoCheckpoint.load(directory: shape, hiddenSize: 8)
        }
        let ok = try makeCheckpoint { _, _, _ in }
        #expect(throws: AutoDecoError.hiddenSizeMismatch(path: ok + "/config.json", checkpoint: 8, model: 576)) {
            try AutoDecoCheckpoint.load(directory: ok, hiddenSize: 576)
        }
        #expect(throws: AutoDecoError.baseModelMismatch(path: ok + "/config.json", checkpoint: "llama", model: "qwen2")) {
            try AutoDecoCheckpoint.load(directory: ok, hiddenSize: 8, baseModelType: "qwen2")
        }
        let notHeads = try makeCheckpoint { _, _, c in c["model_type"] = "llama" }
        #expect(throws: AutoDecoError.self) { try AutoDecoCheckpoint.load(directory: notHeads) }
        #expect(throws: AutoDecoError.missingConfig(directory: "/nonexistent")) { try AutoDecoCheckpoint.load(directory: "/nonexistent") }
        // F16 weights load too.
        let f16 = try makeCheckpoint({ _, _, _ in }, dtype: .f16)
        #expect(try AutoDecoCheckpoint.load(directory: f16, hiddenSize: 8).temperatureHead.first.bias[0] == Float(Float16(0.1)))
    }
}

struct ControllerTests {
    @Test func combinationRuleAndAblations() throws {
        let d = DecodingDecision(temperature: 0.6, topP: 0.8)
        #expect(d.combined(userTemperature: 1, userTopP: 1) == d)
        #expect(d.combined(userTemperature: 0, userTopP: 1).temperature == 0)
        #expect(d.combined(userTemperature: 2, userTopP: 0.5) == DecodingDecision(temperature: 1.2, topP: 0.4))
        #expect(DecodingDecision(temperature: 1, topP: 0.9).combined(userTemperature: 1, userTopP: 1.5).topP == 1)

        let heads = AutoDecoHeads(hiddenSize: 16, seed: 3)
        let h = [Float](repeating: 0.5, count: 16), l = (0..<100).map { Float($0 % 7) }
        func decide(_ c: AutoDecoController) -> DecodingDecision {
            h.withUnsafeBufferPointer { hb in l.withUnsafeBufferPointer { c.decide(hidden: hb, logits: $0) } }
        }
        let full = decide(AutoDecoController(heads: heads))
        #expect(full.temperature > 0 && full.temperature < 2 && full.topP > 0 && full.topP < 1)
        #expect(decide(AutoDecoController(heads: heads, useTemperatureHead: false)).temperature == 1)
        #expect(decide(AutoDecoController(heads: heads, useTopPHead: false)) == DecodingDecision(temperature: full.temperature, topP: 1))
    }

    /// The controller splits the heads' rows and the vocabulary between threads (and reads the
    /// top-p head's five extra columns from a packed copy): its decisions must equal the heads
    /// computed directly, for every ablation, with and without a pool, on a vocabulary that is not
    /// a multiple of the SIMD stride.
    @Test func pooledDecisionsEqualTheHeadsComputedDirectly() throws {
        let H = 40, V = 1003
        let heads = AutoDecoHeads(hiddenSize: H, seed: 21)
        var g = SeededGenerator(seed: 22)
        let h = (0..<H).map { _ in Float(g.nextUnit() * 4 - 2) }, l = (0..<V).map { _ in Float(g.nextUnit() * 20 - 10) }
        let (t, p) = h.withUnsafeBufferPointer { hb in
            l.withUnsafeBufferPointer { lb in
                var scratch = [Float](repeating: 0, count: V)
                let t = heads.temperature(hidden: hb.baseAddress!)
                let f = scratch.withUnsafeMutableBufferPointer { LogitFeatures(logits: lb, temperature: t, scratch: $0.baseAddress!) }
                return (t, heads.topP(hidden: hb.baseAddress!, temperature: t, features: f))
            }
        }
        for pool in [nil, ThreadPool.shared(threads: 2)] {
            for (useT, useP) in [(true, true), (false, true), (true, false)] {
                let c = AutoDecoController(heads: heads, useTemperatureHead: useT, useTopPHead: useP, pool: pool)
                let d = h.withUnsafeBufferPointer { hb in l.withUnsafeBufferPointer { c.decide(hidden: hb, logits: $0) } }
                let label = "pool \(pool != nil), T head \(useT), P head \(useP)"
                #expect(abs(d.temperature - (useT ? t : 1)) <= 1e-6, "\(label): T \(d.temperature) vs \(t)")
                if useP && useT { #expect(abs(d.topP - p) <= 1e-5, "\(label): P \(d.topP) vs \(p)") }
                if !useP { #expect(d.topP == 1, "\(label)") }
            }
        }
    }
}
