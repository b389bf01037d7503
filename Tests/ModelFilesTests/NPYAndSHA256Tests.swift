import Foundation
import Testing
import ModelFiles

struct NPYTests {
    @Test func roundTripAndHeaderAlignment() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID().uuidString).npy").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let v: [Float] = [1, -2.5, .pi, 0, 1e-30, -1e30]
        try NPY.write(v, shape: [2, 3], to: path)
        let r = try NPY.readFloat32(path: path)
        #expect(r.shape == [2, 3])
        #expect(r.values == v)
        let bytes = NPY.encode(v, shape: [6])
        #expect((bytes.count - 4 * v.count) % 64 == 0)
        #expect(try NPY.parse(bytes, path: "x").shape == [6])
    }

    @Test func malformedFilesAreNamed() {
        #expect(throws: NPYError.malformed("x", "not an .npy file (bad magic)")) { _ = try NPY.parse([1, 2, 3], path: "x") }
        var b = NPY.encode([1, 2, 3, 4], shape: [4])
        b.removeLast(4)
        #expect(throws: NPYError.self) { _ = try NPY.parse(b, path: "x") }
        #expect(throws: NPYError.shapeMismatch("y", values: 3, shape: [2, 2])) { try NPY.write([1, 2, 3], shape: [2, 2], to: "y") }
    }
}

struct SHA256Tests {
    func hex(_ s: [UInt8]) -> String { s.withUnsafeBytes { SHA256.hex($0) } }

    @Test func knownAnswers() {
        #expect(hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalEqualsOneShot() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var h = SHA256()
        for chunk in stride(from: 0, to: data.count, by: 37) {
            data[chunk..<min(chunk + 37, data.count)].withUnsafeBytes { h.update($0) }
        }
        #expect(h.finalize().map { String(format: "%02x", $0) }.joined() == hex(data))
    }
}
