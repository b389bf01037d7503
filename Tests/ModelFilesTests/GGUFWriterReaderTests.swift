import Foundation
import Testing
import Kernels
import ModelFiles

/// Writer → reader round trips: every metadata type and every tensor type we support.
struct GGUFWriterReaderTests {
    @Test func metadataOfEveryTypeRoundTrips() throws {
        let values: [(String, GGUFValue)] = [
            ("u8", .uint8(200)), ("i8", .int8(-5)), ("u16", .uint16(60000)), ("i16", .int16(-300)),
            ("u32", .uint32(4_000_000_000)), ("i32", .int32(-7)), ("u64", .uint64(1 << 40)), ("i64", .int64(-(1 << 40))),
            ("f32", .float32(0.125)), ("f64", .float64(-2.5e-300)), ("b", .bool(true)), ("s", .string("héllo ✓")),
            ("ai", .array(.integers([1, -2, 3], type: .int32))), ("af", .array(.floats([0.5, 1.5], type: .float32))),
            ("ab", .array(.bools([true, false]))), ("as", .array(.strings(["a", "", "ü"]))),
            ("aa", .array(.arrays([.strings(["x"]), .integers([9], type: .uint8)]))),
        ]
        var w = GGUFWriter()
        for (k, v) in values { w.set(k, v) }
        try w.addTensor(name: "t", shape: [32], floats: [Float](repeating: 1, count: 32), as: .f32)
        let path = try temporaryFile(w)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let f = try GGUFFile(path: path)
        #expect(f.version == 3)
        #expect(f.metadataKeys == values.map(\.0))
        for (k, v) in values { #expect(f.metadata[k] == v, "key \(k)") }
    }

    @Test(arguments: [WeightFormat.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1])
    func tensorsRoundTripAligned(format: WeightFormat) throws {
        var rng = SystemRandomNumberGenerator()
        let a = (0..<(64 * 3)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<32).map { _ in Float.random(in: -1...1, using: &rng) }
        var w = GGUFWriter()
        try w.addTensor(name: "a", shape: [64, 3], floats: a, as: format)
        try w.addTensor(name: "b", shape: [32], floats: b, as: format)
        let path = try temporaryFile(w)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let f = try GGUFFile(path: path)
        let info = try f.info("a")
        #expect(info.shape == [64, 3])
        #expect(info.type == GGMLType(format))
        #expect((f.dataOffset + info.offset) % f.alignment == 0)
        var expected = [UInt8]()
        for r in 0..<3 { expected += Quantizer.quantize(Array(a[(r * 64)..<(r * 64 + 64)]), to: format) }
        #expect(Array(f.tensorBytes(info)) == expected)
        #expect(Array(f.tensorBytes(try f.info("b"))) == Quantizer.quantize(b, to: format))
    }

    @Test func writerRejectsRowsThatDoNotFillBlocks() {
        var w = GGUFWriter()
        #expect(throws: GGUFWriterError.self) { try w.addTensor(name: "x", shape: [48], floats: [Float](repeating: 0, count: 48), as: .q4_0) }
        #expect(throws: GGUFWriterError.self) { try w.addTensor(name: "y", shape: [32], floats: [1], as: .f32) }
    }
}

func temporaryFile(_ w: GGUFWriter) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("gguf-\(UUID().uuidString).gguf").path
    try w.write(to: path)
    return path
}

func temporaryFile(bytes: [UInt8]) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("gguf-\(UUID().uuidString).gguf").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}
