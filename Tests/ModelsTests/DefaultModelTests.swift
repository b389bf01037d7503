import Foundation
import Testing
import ModelFiles
import Models

struct DefaultModelTests {
    @Test func cacheDirectoryOverrideWins() {
        #expect(DefaultModel.cacheDirectory(override: "/tmp/x").path == "/tmp/x")
        #expect(DefaultModel.cacheDirectory().path.hasSuffix("autodeco") || ProcessInfo.processInfo.environment["AUTODECO_CACHE"] != nil)
    }

    @Test func damagedFilesAreRejectedWithWhatToDo() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("not-smollm-\(UUID().uuidString).gguf")
        try Data(repeating: 7, count: 1000).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        do {
            try DefaultModel.verify(path)
            Issue.record("a 1000-byte file passed verification")
        } catch let e as ModelFetchError {
            #expect(e == .sizeMismatch(path.path, expected: DefaultModel.size, found: 1000))
            #expect(e.description.contains("--model PATH"))
        }
    }

    @Test func cachedModelIsVerified() throws {
        let path = try DefaultModel.ensure(log: { _ in })
        try DefaultModel.verify(URL(fileURLWithPath: path))
    }
}
