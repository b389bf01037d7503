import Foundation
import Kernels

/// How training data is sampled (recorded with the output, so a resumed run keeps them).
public struct RejectionSamplingSettings: Sendable, Equatable {
    public var samplesPerProblem: Int
    public var temperature: Float
    public var topP: Float
    public var maxTokens: Int
    public var seed: UInt64
    /// Appended to each problem (after a newline) in the user message.
    public var instruction: String

    public static let defaultInstruction = "Please reason step by step, and put your final answer within \\boxed{}."

    public init(samplesPerProblem: Int = 4, temperature: Float = 1, topP: Float = 1, maxTokens: Int = 256, seed: UInt64 = 0,
                instruction: String = RejectionSamplingSettings.defaultInstruction) {
        self.samplesPerProblem = samplesPerProblem; self.temperature = temperature; self.topP = topP
        self.maxTokens = maxTokens; self.seed = seed; self.instruction = instruction
    }

    var jsonObject: [String: Any] {
        // Floats as they were typed (0.7, not 0.699999988).
        ["samples": samplesPerProblem, "temperature": Double("\(temperature)") ?? 0, "top_p": Double("\(topP)") ?? 0,
         "max_tokens": maxTokens, "seed": String(seed), "instruction": instruction]
    }
}

/// Counters of a rejection-sampling run (including the part done before a resume).
public struct RejectionSamplingProgress: Sendable, Equatable {
    public var problemsDone = 0, problemsTotal = 0
    public var samples = 0, accepted = 0, truncated = 0
    public var generatedTokens = 0
    /// Tokens and seconds of this process only (for tokens/s).
    public var sessionTokens = 0
    public var sessionSeconds = 0.0
    public var acceptanceRate: Double { samples > 0 ? Double(accepted) / Double(samples) : 0 }
    public var tokensPerSecond: Double { sessionSeconds > 0 ? Double(sessionTokens) / sessionSeconds : 0 }
}

/// The paper's data recipe: the base model answers each problem K times; the answers the
/// grader accepts become `{"prompt", "completion"}` training lines. Many samples are decoded
/// together (continuous batching). Resumable: a sidecar `OUT.progress.jsonl` records every
/// finished problem with the size of OUT after its lines were written, so a killed run
/// continues after the last finished problem (OUT is cut back to that size).
public final class RejectionSampler {
    public let model: LoadedModel
    public let settings: RejectionSamplingSettings
    public let slots: Int

    public init(model: LoadedModel, settings: RejectionSamplingSettings, slots: Int = 16) {
        self.model = model; self.settings = settings; self.slots = slots
    }

    /// The chat-formatted prompt of a problem: one user message, the problem then the instruction.
    public func prompt(for problem: Problem) throws -> String {
        try problem.chatPrompt(for: model, instruction: settings.instruction)
    }

    /// The seed of sample `s` of problem `i`: a function of the run's seed only, so the samples
    /// do not depend on batching or on where a run was resumed.
    func sampleSeed(problem i: Int, sample s: Int) -> UInt64 {
        var g = SeededGenerator(seed: settings.seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(s) &* 0xBF58_476D_1CE4_E5B9)
        return g.next()
    }

    public static func progressPath(for output: String) -> String { output + ".progress.jsonl" }

    /// Samples every problem not yet done, appends accepted answers to `output`.
    /// `accept(text, gold, truncated)` grades one answer.
    @discardableResult
    public func run(problems: [Problem], output: String, accept: (String, String, Bool) -> Bool,
                    progress report: (RejectionSamplingProgress) -> Void = { _ in }) throws -> RejectionSamplingProgress {
        var state = RejectionSamplingProgress()
        state.problemsTotal = problems.count
        let progressPath = Self.progressPath(for: output)
        let done = try resume(output: output, progressPath: progressPath, into: &state)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: progressPath))
        defer { try? out.close(); try? log.close() }
        try out.seekToEnd(); try log.seekToEnd()

        let K = settings.samplesPerProblem
        let todo = problems.indices.filter { !done.contains(problems[$0].id) }
        var prompts = [Int: (text: String, ids: [Int32])]()
        struct Pending { var accepted: [String] = []; var finished = 0, truncated = 0, tokens = 0 }
        var pending = [Int: Pending]()
        var queue = todo.lazy.flatMap { i in (0..<K).map { (i, $0) } }.makeIterator()
        let generator = BatchGenerator(model: model, slots: slots, contextSize: try contextSize(problems))
        let start = Date()
        report(state)
        var firstError: Error?
        try generator.run(next: {
            guard firstError == nil, let (i, s) = queue.next() else { return nil }
            if prompts[i] == nil {
                do {
                    let text = try prompt(for: problems[i])
                    prompts[i] = (text, model.tokenizer.encode(text, addSpecial: true, parseSpecial: true))
                } catch { firstError = error; return nil }
            }
            let sampling = SamplingParameters(temperature: settings.temperature, topK: 0, topP: settings.topP, minP: 0,
                                              seed: sampleSeed(problem: i, sample: s))
            return BatchRequest(id: i * K + s, prompt: prompts[i]!.ids,
                                parameters: GenerateParameters(maxTokens: settings.maxTokens, sampling: sampling))
        }) { result in
            let i = result.id / K
            let truncated = result.stopReason != .stop
            var p = pending[i, default: Pending()]
            p.finished += 1
            p.tokens += result.tokens.count
            if truncated { p.truncated += 1 }
            let text = result.text
            if accept(text, problems[i].gold, truncated) { p.accepted.append(text) }
            state.samples += 1; state.generatedTokens += result.tokens.count; state.sessionTokens += result.tokens.count
            if truncated { state.truncated += 1 }
            if p.finished == K {
                pending[i] = nil
                for completion in p.accepted {
                    out.write(JSONLines.encode(TrainingExample(prompt: prompts[i]!.text, completion: completion).jsonObject))
                }
                try out.synchronize()
                let size = try out.offset()
                log.write(JSONLines.encode(["id": problems[i].id, "samples": K, "accepted": p.accepted.count,
                                            "truncated": p.truncated, "tokens": p.tokens, "out_bytes": size]))
                try log.synchronize()
                state.accepted += p.accepted.count
                state.problemsDone += 1
                prompts[i] = nil
            } else {
                pending[i] = p
            }
            state.sessionSeconds = Date().timeIntervalSince(start)
            report(state)
        }
        if let firstError { throw firstError }
        state.sessionSeconds = Date().timeIntervalSince(start)
        return state
    }

    /// Room for the longest prompt (the one with the most bytes, plus a margin) and the answer.
    private func contextSize(_ problems: [Problem]) throws -> Int {
        guard let longest = problems.max(by: { $0.problem.utf8.count < $1.problem.utf8.count }) else { return 1 }
        let tokens = model.tokenizer.encode(try prompt(for: longest), addSpecial: true, parseSpecial: true).count
        return min(model.model.config.contextLength, tokens + 32 + settings.maxTokens + 1)
    }

    /// Reads the sidecar of an earlier run (checking its settings), cuts OUT back to the last
    /// finished problem, and returns the ids already done. Starts both files when there is none.
    private func resume(output: String, progressPath: String, into state: inout RejectionSamplingProgress) throws -> Set<String> {
        let fm = FileManager.default
        guard fm.fileExists(atPath: progressPath) else {
            if fm.fileExists(atPath: output), (try? fm.attributesOfItem(atPath: output)[.size] as? Int) ?? 0 > 0 {
                throw DataFileError.settingsMismatch(path: output, reason: "exists but has no \(progressPath): not a resumable run; choose another --out or remove it")
            }
            fm.createFile(atPath: output, contents: nil)
            fm.createFile(atPath: progressPath, contents: JSONLines.encode(["settings": settings.jsonObject]))
            return []
        }
        // A line cut by a kill is dropped (and cut off the sidecar); everything before it is kept.
        let lines = try JSONLines.readAppended(progressPath)
        guard let header = lines.first?["settings"] as? [String: Any] else {
            throw DataFileError.settingsMismatch(path: progressPath, reason: "no settings line; remove it and \(output) to start over")
        }
        let ours = settings.jsonObject
        for (k, v) in ours where JSONLines.encode([k: header[k] ?? NSNull()]) != JSONLines.encode([k: v]) {
            throw DataFileError.settingsMismatch(path: progressPath,
                                                 reason: "was started with \(k) = \(header[k] ?? "missing"), this run has \(v); use the same settings or another --out")
        }
        var done = Set<String>()
        var size = 0
        for line in lines.dropFirst() {
            guard let id = line["id"] as? String else { continue }
            done.insert(id)
            size = max(size, line["out_bytes"] as? Int ?? 0)
            state.problemsDone += 1
            state.samples += line["samples"] as? Int ?? 0
            state.accepted += line["accepted"] as? Int ?? 0
            state.truncated += line["truncated"] as? Int ?? 0
            state.generatedTokens += line["tokens"] as? Int ?? 0
        }
        // OUT without lines of unfinished problems.
        if !fm.fileExists(atPath: output) { fm.createFile(atPath: output, contents: nil) }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        try out.truncate(atOffset: UInt64(size))
        try out.close()
        return done
    }
}
