import AutoDeco
import Foundation

/// A decoding method under evaluation, parsed from the `--method` string of `autodeco eval`.
public enum EvaluationMethod: Sendable, Equatable, CustomStringConvertible {
    case greedy
    /// Fixed temperature and top-p (the paper's Default Sampling is static(1, 1)).
    case staticSampling(temperature: Float, topP: Float)
    /// The heads; either may be switched off (ablations).
    case autodeco(temperatureHead: Bool, topPHead: Bool)
    /// The heads' mean teacher-forced (T, P) as a fixed setting (the critique's baseline);
    /// nil values are computed from a training file by the caller (`MeanShift`).
    case meanShift(temperature: Float?, topP: Float?)
    /// min-p at temperature 1: keep p_i >= minP * max p.
    case minP(Float)
    /// A per-token temperature from the entropy (EDT or llama.cpp's dynamic temperature), P = 1.
    case entropyTemperature(EntropyTemperatureRule)
    /// A heuristic truncation rule at temperature 1.
    case filter(TokenFilter)

    public enum ParseError: Error, CustomStringConvertible, Equatable {
        case unknown(String)
        case badArguments(method: String, expected: String)
        public var description: String {
            switch self {
            case .unknown(let m):
                return "unknown method '\(m)'; expected one of: \(EvaluationMethod.syntax.joined(separator: ", "))"
            case .badArguments(let m, let e): return "method '\(m)': expected \(e)"
            }
        }
    }

    public static let syntax = ["greedy", "static:T,P", "autodeco", "autodeco-temp-only", "autodeco-top-p-only", "meanshift[:T,P]",
                                "min-p:P", "edt:T0,theta,N", "dynatemp:T,delta,exp", "top-n-sigma:n", "mirostat:tau,eta",
                                "typical:tau", "eta:eps", "epsilon:eps"]

    /// Parses `name[:a,b,...]`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let name = parts.first?.lowercased() ?? ""
        let argText = parts.count > 1 ? parts[1] : ""
        let args = argText.isEmpty ? [] : argText.split(separator: ",", omittingEmptySubsequences: false).map {
            Float($0.trimmingCharacters(in: .whitespaces))
        }
        func numbers(_ count: Int, _ expected: String, valid: ([Float]) -> Bool = { _ in true }) throws -> [Float] {
            let values = args.compactMap { $0 }
            guard values.count == count, args.count == count, values.allSatisfy(\.isFinite), valid(values) else {
                throw ParseError.badArguments(method: text, expected: expected)
            }
            return values
        }
        switch name {
        case "greedy": _ = try numbers(0, "no arguments"); self = .greedy
        case "static":
            let v = try numbers(2, "static:T,P with T >= 0 and P in [0, 1]") { $0[0] >= 0 && (0...1).contains($0[1]) }
            self = .staticSampling(temperature: v[0], topP: v[1])
        case "autodeco": _ = try numbers(0, "no arguments"); self = .autodeco(temperatureHead: true, topPHead: true)
        case "autodeco-temp-only": _ = try numbers(0, "no arguments"); self = .autodeco(temperatureHead: true, topPHead: false)
        case "autodeco-top-p-only": _ = try numbers(0, "no arguments"); self = .autodeco(temperatureHead: false, topPHead: true)
        case "meanshift":
            if args.isEmpty { self = .meanShift(temperature: nil, topP: nil); return }
            let v = try numbers(2, "meanshift or meanshift:T,P with T > 0 and P in [0, 1]") { $0[0] > 0 && (0...1).contains($0[1]) }
            self = .meanShift(temperature: v[0], topP: v[1])
        case "min-p": self = .minP(try numbers(1, "min-p:P with P in [0, 1]") { (0...1).contains($0[0]) }[0])
        case "edt":
            let v = try numbers(3, "edt:T0,theta,N with T0 > 0, N in (0, 1)") { $0[0] > 0 && $0[2] > 0 && $0[2] < 1 }
            self = .entropyTemperature(.edt(t0: v[0], theta: v[1], base: v[2]))
        case "dynatemp":
            let v = try numbers(3, "dynatemp:T,delta,exp with T, delta >= 0, exp > 0") { $0[0] >= 0 && $0[1] >= 0 && $0[2] > 0 }
            self = .entropyTemperature(.dynatemp(t: v[0], delta: v[1], exponent: v[2]))
        case "top-n-sigma": self = .filter(.topNSigma(n: try numbers(1, "top-n-sigma:n with n >= 0") { $0[0] >= 0 }[0]))
        case "mirostat":
            let v = try numbers(2, "mirostat:tau,eta with tau > 0, eta > 0") { $0[0] > 0 && $0[1] > 0 }
            self = .filter(.mirostat(tau: v[0], learningRate: v[1]))
        case "typical": self = .filter(.typical(mass: try numbers(1, "typical:tau with tau in (0, 1]") { $0[0] > 0 && $0[0] <= 1 }[0]))
        case "eta": self = .filter(.eta(epsilon: try numbers(1, "eta:eps with eps in (0, 1)") { $0[0] > 0 && $0[0] < 1 }[0]))
        case "epsilon": self = .filter(.epsilon(try numbers(1, "epsilon:eps with eps in (0, 1)") { $0[0] > 0 && $0[0] < 1 }[0]))
        default: throw ParseError.unknown(text)
        }
    }

    /// The method string this parses from (a round trip), e.g. "static:0.7,1.0".
    public var description: String {
        func f(_ v: Float) -> String { v == v.rounded() ? String(format: "%.1f", v) : "\(v)" }
        switch self {
        case .greedy: return "greedy"
        case .staticSampling(let t, let p): return "static:\(f(t)),\(f(p))"
        case .autodeco(true, true): return "autodeco"
        case .autodeco(true, false): return "autodeco-temp-only"
        case .autodeco(false, true): return "autodeco-top-p-only"
        case .autodeco(false, false): return "autodeco-off"
        case .meanShift(let t?, let p?): return "meanshift:\(f(t)),\(f(p))"
        case .meanShift: return "meanshift"
        case .minP(let p): return "min-p:\(f(p))"
        case .entropyTemperature(.edt(let t0, let theta, let n)): return "edt:\(f(t0)),\(f(theta)),\(f(n))"
        case .entropyTemperature(.dynatemp(let t, let d, let e)): return "dynatemp:\(f(t)),\(f(d)),\(f(e))"
        case .filter(.topNSigma(let n)): return "top-n-sigma:\(f(n))"
        case .filter(.typical(let m)): return "typical:\(f(m))"
        case .filter(.epsilon(let e)): return "epsilon:\(f(e))"
        case .filter(.eta(let e)): return "eta:\(f(e))"
        case .filter(.mirostat(let t, let r)): return "mirostat:\(f(t)),\(f(r))"
        }
    }

    /// Same output for every seed: decoded once per problem.
    public var isDeterministic: Bool {
        switch self {
        case .greedy: return true
        case .staticSampling(let t, let p), .meanShift(let t?, let p?): return t == 0 || p == 0
        default: return false
        }
    }

    public var usesHeads: Bool { if case .autodeco = self { return true } else { return false } }

    /// Whether T or P change from token to token (then samples.jsonl records them).
    public var variesPerToken: Bool {
        switch self { case .autodeco, .entropyTemperature: return true; default: return false }
    }

    /// The sampling parameters of one sequence (no top-k or min-p unless the method is min-p).
    public func sampling(seed: UInt64) -> SamplingParameters {
        var s = SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: seed)
        switch self {
        case .greedy: s.temperature = 0
        case .staticSampling(let t, let p), .meanShift(let t?, let p?): s.temperature = t; s.topP = p
        case .meanShift: preconditionFailure("meanshift needs its (T, P) resolved first")
        case .autodeco, .entropyTemperature: break
        case .minP(let p): s.minP = p
        case .filter(let f): s.filter = f
        }
        return s
    }

    /// A fresh controller for one sequence (controllers hold per-sequence scratch).
    public func controller(heads: AutoDecoHeads?, pool: ThreadPool?) -> any DecodingController {
        switch self {
        case .autodeco(let t, let p):
            guard let heads else { preconditionFailure("autodeco needs heads") }
            return AutoDecoController(heads: heads, useTemperatureHead: t, useTopPHead: p, pool: pool)
        case .entropyTemperature(let rule): return EntropyTemperatureController(rule: rule)
        default: return StaticController()
        }
    }
}
