import Foundation

/// The safetensors files of a checkpoint directory, seen as one set of tensors: with
/// `model.safetensors.index.json` the shards it names (its `weight_map` says which file holds
/// which tensor), otherwise every `*.safetensors` file in the directory.
public final class SafetensorsDirectory: @unchecked Sendable {
    public let directory: String
    public let files: [SafetensorsFile]
    private let owner: [String: Int]

    public init(directory: String) throws {
        self.directory = directory
        let dir = URL(fileURLWithPath: directory)
        let index = dir.appendingPathComponent("model.safetensors.index.json")
        var names: [String]
        if FileManager.default.fileExists(atPath: index.path) {
            let obj = try? JSONSerialization.jsonObject(with: Data(contentsOf: index))
            guard let root = obj as? [String: Any], let map = root["weight_map"] as? [String: Any] else {
                throw SafetensorsError.badIndex(path: index.path, reason: "expected an object with a 'weight_map' object")
            }
            var set = Set<String>()
            for (tensor, file) in map {
                guard let f = file as? String, !f.contains("/") else {
                    throw SafetensorsError.badIndex(path: index.path, reason: "weight_map['\(tensor)'] is not a file name in this directory")
                }
                set.insert(f)
            }
            names = set.sorted()
        } else {
            names = (try FileManager.default.contentsOfDirectory(atPath: directory)).filter { $0.hasSuffix(".safetensors") }.sorted()
        }
        guard !names.isEmpty else { throw SafetensorsError.noFiles(directory: directory) }
        var files = [SafetensorsFile]()
        var owner = [String: Int]()
        for (i, n) in names.enumerated() {
            let f = try SafetensorsFile(path: dir.appendingPathComponent(n).path)
            for t in f.tensors.keys {
                if let other = owner[t] { throw SafetensorsError.duplicateTensor(path: f.path, name: t, otherFile: files[other].path) }
                owner[t] = i
            }
            files.append(f)
        }
        self.files = files
        self.owner = owner
    }

    public var tensorNames: [String] { owner.keys.sorted() }

    public func file(containing name: String) throws -> SafetensorsFile {
        guard let i = owner[name] else { throw SafetensorsError.missingTensor(path: directory, name: name) }
        return files[i]
    }

    public func info(_ name: String) throws -> SafetensorsTensorInfo { try file(containing: name).info(name) }
    public func floats(_ name: String) throws -> [Float] { try file(containing: name).floats(name) }
}
