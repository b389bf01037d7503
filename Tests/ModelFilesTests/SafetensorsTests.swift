import Foundation
import Testing
import ModelFiles

struct SafetensorsTests {
    func temp(_ name: String = "t") -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("st-\(name)-\(UUID().uuidString)").path
    }

    /// A file with the given header JSON and `dataBytes` bytes of data.
    func raw(header: String, dataBytes: Int, headerLength: UInt64? = nil) throws -> String {
        var d = Data()
        withUnsafeBytes(of: (headerLength ?? UInt64(header.utf8.count)).littleEndian) { d.append(contentsOf: $0) }
        d.append(Data(header.utf8))
        d.append(Data(repeating: 0, count: dataBytes))
        let p = temp() + ".safetensors"
        try d.write(to: URL(fileURLWithPath: p))
        return p
    }

    @Test func roundTripsF32F16BF16() throws {
        let values: [Float] = [0, 1, -2.5, 3.140625, 1e-3, -65504, 0.333333]
        var w = SafetensorsWriter()
        try w.add("a", shape: [7], floats: values, as: .f32)
        try w.add("b", shape: [7, 1], floats: values, as: .f16)
        try w.add("c", shape: [1, 7], floats: values, as: .bf16)
        w.metadata = ["format": "pt"]
        let p = temp() + ".safetensors"
        try w.write(to: p)
        let f = try SafetensorsFile(path: p)
        #expect(f.metadata == ["format": "pt"])
        #expect(try f.floats("a") == values)
        #expect(try f.floats("b") == values.map { Float(Float16($0)) })
        #expect(try f.floats("c").enumerated().allSatisfy { abs($0.element - values[$0.offset]) <= abs(values[$0.offset]) / 128 })
        #expect(f.tensors["b"]?.shape == [7, 1])
        // The header is padded so tensor data starts 8-byte aligned.
        let headerLength = try Data(contentsOf: URL(fileURLWithPath: p)).prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect((8 + headerLength) % 8 == 0)
        #expect(throws: SafetensorsError.missingTensor(path: p, name: "zzz")) { try f.floats("zzz") }
    }

    @Test func malformedFilesNameTheProblem() throws {
        let tiny = temp(); try Data([1, 2, 3]).write(to: URL(fileURLWithPath: tiny))
        #expect(throws: SafetensorsError.tooSmall(path: tiny, size: 3)) { try SafetensorsFile(path: tiny) }

        let long = try raw(header: "{}", dataBytes: 0, headerLength: 1 << 40)
        #expect(throws: SafetensorsError.badHeaderLength(path: long, length: 1 << 40, fileSize: 10)) { try SafetensorsFile(path: long) }

        let json = try raw(header: "{not json", dataBytes: 0)
        #expect(throws: SafetensorsError.self) { try SafetensorsFile(path: json) }
        do { _ = try SafetensorsFile(path: json) } catch let e as SafetensorsError {
            guard case .badHeaderJSON = e else { Issue.record("expected badHeaderJSON, got \(e)"); return }
        }

        let dtype = try raw(header: #"{"x":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8)
        #expect(throws: SafetensorsError.unknownDType(path: dtype, tensor: "x", dtype: "Q4")) { try SafetensorsFile(path: dtype) }

        let size = try raw(header: #"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8)
        #expect(throws: SafetensorsError.sizeMismatch(path: size, tensor: "x", shape: [3], dtype: "F32", bytes: 8)) { try SafetensorsFile(path: size) }

        let bounds = try raw(header: #"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, dataBytes: 8)
        #expect(throws: SafetensorsError.outOfBounds(path: bounds, tensor: "x", end: 16, available: 8)) { try SafetensorsFile(path: bounds) }

        let overlap = try raw(header: #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, dataBytes: 12)
        #expect(throws: SafetensorsError.self) { try SafetensorsFile(path: overlap) }
        do { _ = try SafetensorsFile(path: overlap) } catch let e as SafetensorsError {
            guard case .overlap = e else { Issue.record("expected overlap, got \(e)"); return }
        }

        let offsets = try raw(header: #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, dataBytes: 8)
        #expect(throws: SafetensorsError.badEntry(path: offsets, tensor: "x", reason: "data_offsets must be [begin, end] with 0 <= begin <= end")) {
            try SafetensorsFile(path: offsets)
        }
        let shape = try raw(header: #"{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, dataBytes: 4)
        #expect(throws: SafetensorsError.self) { try SafetensorsFile(path: shape) }

        let ints = try raw(header: #"{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, dataBytes: 8)
        #expect(throws: SafetensorsError.unsupportedDType(path: ints, tensor: "x", dtype: "I64")) { try SafetensorsFile(path: ints).floats("x") }
    }

    @Test func shardedDirectoriesFollowTheIndex() throws {
        let dir = temp("dir")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var a = SafetensorsWriter(); try a.add("layer.0", shape: [2], floats: [1, 2])
        var b = SafetensorsWriter(); try b.add("layer.1", shape: [2], floats: [3, 4])
        try a.write(to: dir + "/model-00001-of-00002.safetensors")
        try b.write(to: dir + "/model-00002-of-00002.safetensors")
        try a.write(to: dir + "/stray.safetensors")  // not in the index: ignored
        let index = #"{"metadata":{"total_size":16},"weight_map":{"layer.0":"model-00001-of-00002.safetensors","layer.1":"model-00002-of-00002.safetensors"}}"#
        try Data(index.utf8).write(to: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))
        let d = try SafetensorsDirectory(directory: dir)
        #expect(d.tensorNames == ["layer.0", "layer.1"])
        #expect(try d.floats("layer.1") == [3, 4])

        // Without an index every file counts, and a tensor in two files is an error.
        try FileManager.default.removeItem(atPath: dir + "/model.safetensors.index.json")
        #expect(throws: SafetensorsError.self) { try SafetensorsDirectory(directory: dir) }
        let empty = temp("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(throws: SafetensorsError.noFiles(directory: empty)) { try SafetensorsDirectory(directory: empty) }
    }
}
