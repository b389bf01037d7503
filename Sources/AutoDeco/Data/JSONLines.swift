import Foundation

/// Errors in the JSON Lines files the trainer and the samplers read, naming file and line.
public enum DataFileError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case badLine(path: String, line: Int, reason: String)
    case empty(path: String)
    case settingsMismatch(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "\(p): cannot read: \(r)"
        case .badLine(let p, let l, let r): return "\(p):\(l): \(r)"
        case .empty(let p): return "\(p): no items"
        case .settingsMismatch(let p, let r): return "\(p): \(r)"
        }
    }
}

/// Reading and appending JSON Lines: one object a line, blank lines skipped.
public enum JSONLines {
    /// The objects of a file with their 1-based line numbers.
    public static func read(_ path: String) throws -> [(line: Int, object: [String: Any])] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataFileError.unreadable(path: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        var out = [(Int, [String: Any])]()
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                throw DataFileError.badLine(path: path, line: lineNumber, reason: "not a JSON object")
            }
            out.append((lineNumber, obj))
        }
        return out
    }

    /// The objects of a file that a run appends to and may have been killed while writing: a last
    /// line without its newline is cut off the file (so the next append starts a fresh line) and
    /// not returned; lines that are not JSON objects are skipped. No file: no objects.
    public static func readAppended(_ path: String) throws -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let newline = UInt8(ascii: "\n")
        let complete = data.lastIndex(of: newline).map { data.prefix(through: $0) } ?? Data()
        if complete.count < data.count {
            let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? file.close() }
            try file.truncate(atOffset: UInt64(complete.count))
        }
        return complete.split(separator: newline).compactMap { (try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any] }
    }

    /// One object as a line (keys sorted, '/' unescaped), newline included.
    public static func encode(_ object: [String: Any]) -> Data {
        var d = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        d.append(UInt8(ascii: "\n"))
        return d
    }

    /// A string field, or a named error.
    static func string(_ obj: [String: Any], _ key: String, path: String, line: Int) throws -> String {
        if let s = obj[key] as? String { return s }
        if let n = obj[key] as? NSNumber, key == "gt" { return n.stringValue }  // numeric gold answers
        throw DataFileError.badLine(path: path, line: line, reason: obj[key] == nil ? "missing field '\(key)'" : "field '\(key)' is not a string")
    }
}

/// A problem with a gold answer (the format of ../shared/data: `problem`, `gt`, optional `id`).
public struct Problem: Sendable, Equatable {
    public var id: String
    public var problem: String
    public var gold: String
    public init(id: String, problem: String, gold: String) { self.id = id; self.problem = problem; self.gold = gold }

    /// The chat-formatted prompt of the problem for `model`: one user message, the problem then,
    /// after a newline, the instruction (none when empty). Rejection sampling and evaluation both ask this way.
    public func chatPrompt(for model: LoadedModel, instruction: String) throws -> String {
        try model.renderChat([ChatMessage(role: "user", content: instruction.isEmpty ? problem : problem + "\n" + instruction)])
    }

    public static func load(_ path: String) throws -> [Problem] {
        let items = try JSONLines.read(path).map { line, obj in
            Problem(id: (obj["id"] as? String) ?? "line-\(line)",
                    problem: try JSONLines.string(obj, "problem", path: path, line: line),
                    gold: try JSONLines.string(obj, "gt", path: path, line: line))
        }
        guard !items.isEmpty else { throw DataFileError.empty(path: path) }
        return items
    }
}

/// A training example in the official format: `prompt` (already chat-formatted) and `completion`.
public struct TrainingExample: Sendable, Equatable {
    public var prompt: String
    public var completion: String
    public init(prompt: String, completion: String) { self.prompt = prompt; self.completion = completion }

    public static func load(_ path: String) throws -> [TrainingExample] {
        let items = try JSONLines.read(path).map { line, obj in
            TrainingExample(prompt: try JSONLines.string(obj, "prompt", path: path, line: line),
                            completion: try JSONLines.string(obj, "completion", path: path, line: line))
        }
        guard !items.isEmpty else { throw DataFileError.empty(path: path) }
        return items
    }

    public var jsonObject: [String: Any] { ["prompt": prompt, "completion": completion] }
}
