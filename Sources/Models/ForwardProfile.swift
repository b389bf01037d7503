import Foundation

/// The steps of a forward pass, in the order they run.
public enum ForwardStep: Int, CaseIterable, Sendable {
    case embedding, norms, qkv, qkPrepare, cacheWrite, attention, attentionOutput, residual,
         gateUp, down, lmHead

    public var name: String {
        switch self {
        case .embedding: return "embedding lookup"
        case .norms: return "RMSNorm"
        case .qkv: return "Q/K/V projections"
        case .qkPrepare: return "RoPE (+bias, q/k norm)"
        case .cacheWrite: return "KV cache write"
        case .attention: return "attention"
        case .attentionOutput: return "attention output projection"
        case .residual: return "residual adds"
        case .gateUp: return "FFN gate+up projections and SwiGLU"
        case .down: return "FFN down projection"
        case .lmHead: return "final norm + LM head"
        }
    }
}

/// Wall time per step of the forward passes run while it is attached to a workspace
/// (`Workspace.profile`); off by default, and then a forward pass reads no clock.
public final class ForwardProfile: @unchecked Sendable {
    public private(set) var nanoseconds = [UInt64](repeating: 0, count: ForwardStep.allCases.count)
    public private(set) var passes = 0
    public init() {}

    public func reset() {
        nanoseconds = [UInt64](repeating: 0, count: ForwardStep.allCases.count)
        passes = 0
    }

    func add(_ step: ForwardStep, _ ns: UInt64) { nanoseconds[step.rawValue] += ns }
    func finishPass() { passes += 1 }
}

/// Charges the time since the previous lap to a step; does nothing without a profile.
struct ProfileClock {
    let profile: ForwardProfile?
    private var last: UInt64

    init(_ profile: ForwardProfile?) {
        self.profile = profile
        last = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
    }

    @inline(__always) mutating func lap(_ step: ForwardStep) {
        guard let profile else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        profile.add(step, now - last)
        last = now
    }
}
