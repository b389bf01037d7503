import CKernels
import Foundation

/// Which integer matrix-product kernels run: the fastest this CPU has, or an older path chosen
/// with `AUTODECO_KERNELS=avx2|portable` (to compare them on one machine, or to rule a kernel out).
/// Either of those also keeps `VectorOps.storeExp` (the vocabulary's exponentials and every
/// softmax, attention's included) and `probabilityMoments` on their Swift path instead of AVX-512.
public enum IntegerKernelChoice: String, Sendable, CaseIterable {
    /// 16-row packed weights and AVX-512 VNNI (`vpdpwssd`).
    case vnni
    /// GGUF-layout weights, AVX2 `vpmaddwd` (one row x up to 4 tokens per tile).
    case avx2
    /// GGUF-layout weights, plain C loops.
    case portable

    /// `AUTODECO_KERNELS` if set and runnable here, else the fastest this CPU supports. Choosing
    /// `portable` also switches the unpacked kernels to their portable loops.
    public static let current: IntegerKernelChoice = {
        let best: IntegerKernelChoice = PackedRows16.supportedByThisCPU ? .vnni : (ad_kernels_use_avx2() != 0 ? .avx2 : .portable)
        guard let asked = requested else { return best }
        if asked == .portable { ad_kernels_force_portable_everywhere() }
        if asked == .vnni && best != .vnni { return best }
        if asked == .avx2 && best == .portable { return best }
        return asked
    }()

    /// The path `AUTODECO_KERNELS` asks for, if it names one.
    public static let requested = ProcessInfo.processInfo.environment["AUTODECO_KERNELS"].flatMap(IntegerKernelChoice.init(rawValue:))

    /// Whether models pack their Q4_1 / Q8_0 matrices at load.
    public var packsWeights: Bool { self == .vnni }
}
