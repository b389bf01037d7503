import Foundation
import Testing
import Kernels
import ModelFiles

/// Deliberately broken files: each must be a thrown error naming the problem, never a crash
/// or an out-of-bounds read.
struct BrokenGGUFTests {
    /// A small valid file with two tensors and a string array.
    static func validImage() throws -> [UInt8] {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("tokenizer.ggml.tokens", .array(.strings(["<s>", "a", "b"])))
        try w.addTensor(name: "first", shape: [32, 2], floats: [Float](repeating: 0.5, count: 64), as: .q8_0)
        try w.addTensor(name: "second", shape: [32], floats: [Float](repeating: 1, count: 32), as: .f32)
        return w.serialized()
    }

    /// Opens `bytes` as a GGUF file and returns the error it throws (nil if it parses).
    static func openError(_ bytes: [UInt8]) throws -> GGUFError? {
        let path = try temporaryFile(bytes: bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do { _ = try GGUFFile(path: path); return nil } catch let e as GGUFError { return e }
    }

    /// Byte position of the data-offset field of tensor `name` in a writer image.
    static func offsetField(of name: String, dims: Int, in image: [UInt8]) -> Int? {
        let needle = Array(name.utf8)
        for i in 0..<(image.count - needle.count) where Array(image[i..<(i + needle.count)]) == needle {
            return i + needle.count + 4 + 8 * dims + 4
        }
        return nil
    }

    static func patch64(_ image: inout [UInt8], at pos: Int, _ v: UInt64) {
        for i in 0..<8 { image[pos + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
    }

    @Test func badMagicAndVersion() throws {
        var img = try Self.validImage()
        img[0] = UInt8(ascii: "X")
        guard case .badMagic? = try Self.openError(img) else { Issue.record("expected badMagic"); return }
        img = try Self.validImage()
        img[4] = 99
        guard case .unsupportedVersion(_, 99)? = try Self.openError(img) else { Issue.record("expected unsupportedVersion"); return }
    }

    @Test func everyTruncationIsAnError() throws {
        let img = try Self.validImage()
        var data = try GGUFFile(path: temporaryFile(bytes: img)).dataOffset
        data = min(data, img.count)
        // Every prefix cut inside the header or the tensor data must be rejected.
        for n in 0..<img.count where n < data || n < img.count - 128 {
            let e = try Self.openError(Array(img[0..<n]))
            #expect(e != nil, "prefix of \(n) bytes parsed")
        }
    }

    @Test func randomCorruptionNeverCrashes() throws {
        let img = try Self.validImage()
        var rng = SeededGenerator(seed: 7)
        var rejected = 0
        for _ in 0..<400 {
            var bad = img
            for _ in 0..<3 {
                let pos = Int(rng.next() % UInt64(min(bad.count, 200)))
                bad[pos] = UInt8(truncatingIfNeeded: rng.next())
            }
            if try Self.openError(bad) != nil { rejected += 1 }
        }
        #expect(rejected > 100)
    }

    @Test func absurdCountsAreNamed() throws {
        var img = try Self.validImage()
        Self.patch64(&img, at: 8, UInt64(1) << 60)  // tensor count
        guard case .absurdCount(_, _, _, let what)? = try Self.openError(img) else { Issue.record("expected absurdCount"); return }
        #expect(what == "tensor count")
    }

    @Test func unsupportedTypeNamesTypeAndTensor() throws {
        var img = try Self.validImage()
        guard let field = Self.offsetField(of: "second", dims: 1, in: img) else { Issue.record("no field"); return }
        img[field - 4] = 12  // Q4_K
        let e = try Self.openError(img)
        #expect(e == .unsupportedTensorType(path: e.map(pathOf) ?? "", tensor: "second", type: GGMLType(rawValue: 12)))
        #expect(e?.description.contains("unsupported tensor type Q4_K in tensor 'second'") == true)
    }

    @Test func offsetsBeyondTheFileOverlappingOrMisaligned() throws {
        var img = try Self.validImage()
        guard let field = Self.offsetField(of: "second", dims: 1, in: img) else { Issue.record("no field"); return }
        Self.patch64(&img, at: field, 1 << 20)
        guard case .tensorOutOfBounds(_, "second", _, _, _)? = try Self.openError(img) else { Issue.record("expected out of bounds"); return }
        Self.patch64(&img, at: field, 0)
        guard case .tensorsOverlap? = try Self.openError(img) else { Issue.record("expected overlap"); return }
        Self.patch64(&img, at: field, 3)
        guard case .misalignedTensor(_, "second", 3, 32)? = try Self.openError(img) else { Issue.record("expected misaligned"); return }
        Self.patch64(&img, at: field, UInt64.max)
        guard case .tensorOutOfBounds? = try Self.openError(img) else { Issue.record("expected out of bounds for 2^64-1"); return }
    }

    @Test func wrongKeyTypesAndMissingKeysAreNamed() throws {
        let path = try temporaryFile(bytes: try Self.validImage())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let f = try GGUFFile(path: path)
        #expect(throws: GGUFError.missingKey(path: path, key: "llama.block_count")) { _ = try f.int("llama.block_count") }
        #expect(throws: GGUFError.self) { _ = try f.int("general.architecture") }
        #expect(throws: GGUFError.missingTensor(path: path, name: "nope")) { _ = try f.info("nope") }
    }

    @Test func notAFileIsAnError() {
        #expect(throws: (any Error).self) { _ = try GGUFFile(path: "/nonexistent/model.gguf") }
    }
}

private func pathOf(_ e: GGUFError) -> String {
    if case .unsupportedTensorType(let p, _, _) = e { return p }
    return ""
}
