import Foundation
import Testing
import AutoDeco

/// Training data on the default model: tokenisation with completion-only labels and EOS, the
/// rejection sampler's output and its resume, and the shipped default heads.
@Suite(.serialized) struct DataPreparationTests {
    let lm: LoadedModel
    init() throws { lm = try AutoDecoGenerationTests.model.get() }

    func temp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
    }

    @Test func completionTokensAreLabelledAndEndWithEOS() throws {
        let prompt = try lm.renderChat([ChatMessage(role: "user", content: "2 + 2 =")])
        let ex = TrainingExample(prompt: prompt, completion: "The answer is 4.")
        let t = try #require(ex.tokenized(with: lm.tokenizer, maxLength: 512))
        let promptIDs = lm.tokenizer.encode(prompt, addSpecial: true, parseSpecial: true)
        #expect(Array(t.tokens.prefix(t.promptCount)) == promptIDs)
        #expect(t.tokens.last == lm.tokenizer.eosTokenID)
        #expect(lm.tokenizer.decode(Array(t.tokens[t.promptCount..<(t.tokens.count - 1)])) == "The answer is 4.")
        // An EOS already there is not doubled; a cut that leaves no completion token gives nil.
        let eosText = lm.tokenizer.decode([lm.tokenizer.eosTokenID!], renderSpecial: true)
        let withEOS = TrainingExample(prompt: prompt, completion: "4" + eosText)
        #expect(withEOS.tokenized(with: lm.tokenizer, maxLength: 512)?.tokens.filter { $0 == lm.tokenizer.eosTokenID }.count
                == t.tokens.filter { $0 == lm.tokenizer.eosTokenID }.count)
        #expect(ex.tokenized(with: lm.tokenizer, maxLength: promptIDs.count) == nil)
    }

    @Test func rejectionSamplingKeepsAcceptedAnswersAndResumes() throws {
        let problems = (1...3).map { Problem(id: "p\($0)", problem: "What is \($0) + \($0)?", gold: "\(2 * $0)") }
        let settings = RejectionSamplingSettings(samplesPerProblem: 2, temperature: 0.8, maxTokens: 12, seed: 4)
        let sampler = RejectionSampler(model: lm, settings: settings, slots: 4)
        // Accept answers by length parity: deterministic, and some are rejected.
        let accept: (String, String, Bool) -> Bool = { text, _, _ in text.count % 2 == 0 }
        let whole = temp("whole.jsonl")
        let all = try sampler.run(problems: problems, output: whole, accept: accept)
        #expect(all.samples == 6 && all.problemsDone == 3)
        let wholeLines = try String(contentsOfFile: whole, encoding: .utf8).split(separator: "\n").sorted()
        #expect(wholeLines.count == all.accepted)
        let examples = try TrainingExample.load(whole)
        #expect(examples.allSatisfy { $0.prompt.contains("What is") && $0.prompt.contains("\\boxed{}") && $0.completion.count % 2 == 0 })

        // "Killed" after the first problem: then the same command again with all problems.
        let resumed = temp("resumed.jsonl")
        try sampler.run(problems: Array(problems.prefix(1)), output: resumed, accept: accept)
        // A line cut by the kill in the progress log is dropped.
        let progress = RejectionSampler.progressPath(for: resumed)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: progress)); try h.seekToEnd(); h.write(Data("{\"id\": \"p2\", \"sam".utf8)); try h.close()
        let second = try sampler.run(problems: problems, output: resumed, accept: accept)
        #expect(second.samples == 6 && second.accepted == all.accepted)
        #expect(try String(contentsOfFile: resumed, encoding: .utf8).split(separator: "\n").sorted() == wholeLines)

        // Other settings on the same output are refused, by name.
        let other = RejectionSampler(model: lm, settings: RejectionSamplingSettings(samplesPerProblem: 3, maxTokens: 12, seed: 4))
        #expect(throws: DataFileError.self) { try other.run(problems: problems, output: resumed, accept: accept) }
    }

    @Test func shippedHeadsLoadForTheDefaultModel() throws {
        let dir = try #require(DefaultHeads.directory, "default heads not found")
        let heads = try AutoDecoCheckpoint.load(directory: dir, hiddenSize: lm.model.config.hidden, baseModelType: lm.model.config.architecture)
        #expect(heads.temperatureHeadEnabled && heads.topPHeadEnabled)
    }

    /// A file a killed run was appending to: the cut last line is dropped and cut off the file, so
    /// the next append starts a line of its own (eval's samples.partial.jsonl, the sampler's log).
    @Test func appendedFilesLoseOnlyTheCutLine() throws {
        let path = temp("appended.jsonl")
        try "{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3, \"b".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try JSONLines.readAppended(path).map { $0["a"] as? Int } == [1, 2])
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try file.seekToEnd(); file.write(JSONLines.encode(["a": 4])); try file.close()
        #expect(try JSONLines.readAppended(path).map { $0["a"] as? Int } == [1, 2, 4])
        #expect(try JSONLines.readAppended(temp("absent.jsonl")).isEmpty)
    }

    @Test func problemFileErrorsNameTheLine() throws {
        let path = temp("problems.jsonl")
        try "{\"problem\": \"1+1\", \"gt\": \"2\"}\n{\"problem\": \"2+2\"}\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DataFileError.badLine(path: path, line: 2, reason: "missing field 'gt'")) { try Problem.load(path) }
        try "{\"problem\": \"1+1\", \"gt\": 2}\nnot json\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DataFileError.badLine(path: path, line: 2, reason: "not a JSON object")) { try Problem.load(path) }
    }
}
