// swift-tools-version:6.1
import PackageDescription

// The hot loops need a real SIMD target: without `-target-cpu`, Swift lowers
// `addingProduct` to a libm `fmaf` call per lane (50x slower, see
// ../shared/notes/swift-performance.md). haswell = AVX2 + FMA, the x86-64
// baseline we support; AUTODECO_TARGET_CPU overrides it (e.g. `native`).
// On other architectures the compiler default is used (NEON has FMA).
#if arch(x86_64)
let targetCPU = Context.environment["AUTODECO_TARGET_CPU"] ?? "haswell"
let simdFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", targetCPU])]
#else
let simdFlags: [SwiftSetting] = []
#endif

let common: [SwiftSetting] = simdFlags + [.swiftLanguageMode(.v5)]

let package = Package(
    name: "AutoDeco",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "AutoDeco", targets: ["AutoDeco", "Evaluation"]),
        .executable(name: "autodeco", targets: ["AutoDecoCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // The HTTP server only (target AutoDecoServer); no core target depends on it.
        // Traits: without swift-configuration, which the server does not use.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Layer 1: hot loops on raw buffers. CKernels holds the int16 dot products that Swift
        // cannot express (vpmaddwd, vpdpwssd; measured in docs/performance.md), with portable loops,
        // and the AVX-512 exp/log passes (Swift cannot switch to AVX-512 at run time).
        // -O3 in release: clang's -O2 (SwiftPM's default) keeps the 8-bit kernel's accumulators
        // on the stack; -O3 keeps them in registers: 40% faster stand-alone for 16 tokens (docs/performance.md, item 14).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"], .when(configuration: .release))]),
        .target(name: "Kernels", dependencies: ["CKernels"], swiftSettings: common),
        // Layer 2: file formats (GGUF, npy), memory-mapped and validated.
        .target(name: "ModelFiles", dependencies: ["Kernels"], swiftSettings: common),
        // Layer 3: BPE tokenizer, detokenizer, chat templates.
        .target(name: "Tokenizers", dependencies: ["ModelFiles"], swiftSettings: common),
        // Layer 4: the Llama family forward pass.
        .target(name: "Models", dependencies: ["Kernels", "ModelFiles", "Tokenizers"], swiftSettings: common),
        // Layer 5: samplers, controllers, the generation loop.
        .target(name: "Decoding", dependencies: ["Kernels", "Models"], swiftSettings: common),
        // Layer 6 and the library product: the paper (heads, losses, training, data) and the public API;
        // ships the default model's trained heads as a resource.
        .target(name: "AutoDeco", dependencies: ["Decoding", "Models", "ModelFiles", "Kernels"],
                resources: [.copy("DefaultHeads")], swiftSettings: common),
        // Layer 7: grading, datasets, evaluation protocols.
        .target(name: "Evaluation", dependencies: ["AutoDeco"], swiftSettings: common),
        // Layer 8: the OpenAI-compatible HTTP server (the only target that depends on a web framework).
        .target(
            name: "AutoDecoServer",
            dependencies: ["AutoDeco", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: common),
        // Layer 9: the command-line tool, thin over the library.
        .executableTarget(
            name: "AutoDecoCLI",
            dependencies: ["AutoDeco", "Evaluation", "AutoDecoServer", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: common),

        // Helpers shared by the test targets (tiny random models).
        .target(name: "TestSupport", dependencies: ["Kernels", "ModelFiles"], path: "Tests/Support", swiftSettings: common),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"], swiftSettings: common),
        .testTarget(name: "ModelFilesTests", dependencies: ["ModelFiles"], swiftSettings: common),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "ModelFiles", "Models"], swiftSettings: common),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "ModelFiles", "Tokenizers", "TestSupport"], swiftSettings: common),
        .testTarget(name: "AutoDecoTests", dependencies: ["AutoDeco", "TestSupport"], swiftSettings: common),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "AutoDeco"], swiftSettings: common),
        .testTarget(name: "ServerTests", dependencies: ["AutoDecoServer", "AutoDeco", .product(name: "Logging", package: "swift-log")],
                    exclude: ["Clients"], swiftSettings: common),
        .testTarget(name: "DecodingTests", dependencies: ["Decoding", "Kernels", "Models", "Tokenizers", "ModelFiles"], swiftSettings: common),
    ]
)
