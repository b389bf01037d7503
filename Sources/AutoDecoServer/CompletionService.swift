import Decoding
import Foundation
import Hummingbird
import Models

/// Serves `/v1/completions` and `/v1/chat/completions`: validates a body into a job, queues its
/// choices on the scheduler and answers with one JSON document or a server-sent event stream.
struct CompletionService: Sendable {
    let model: LoadedModel
    let modelID: String
    let scheduler: GenerationScheduler
    let contextSize: Int
    let limits: ServerLimits

    func complete(_ endpoint: Endpoint, body data: Data, record: RequestRecord) async throws -> Response {
        let job = try CompletionJob(endpoint: endpoint, body: CompletionRequestBody.decode(data), model: model,
                                    contextSize: contextSize, limits: limits)
        let id = "\(endpoint.idPrefix)-\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24))"
        record.id = id
        let promptTokens = job.prompts.reduce(0) { $0 + $1.count }
        record.promptTokens = promptTokens
        let choices = (0..<job.choiceCount).map { (prompt: job.prompts[$0 / job.n], parameters: job.parameters(choice: $0)) }
        let submission = try scheduler.submit(choices)
        let formatter = CompletionFormatter(endpoint: endpoint, id: id, created: Int(Date().timeIntervalSince1970),
                                            model: modelID, tokenizer: model.tokenizer, logprobs: job.logprobs)
        if job.stream {
            return stream(submission, job: job, formatter: formatter, promptTokens: promptTokens, record: record)
        }
        var states = [ChoiceState](repeating: ChoiceState(), count: job.choiceCount)
        for try await event in submission.events {
            switch event {
            case .token(let c, let token):
                states[c].text += token.text
                states[c].tokens.append(token)
                record.completionTokens += 1
            case .finished(let c, let reason):
                states[c].finishReason = reason
            }
        }
        // The client went away (the handler's task was cancelled): the stream ended early.
        try Task.checkCancellation()
        let json = formatter.response(states, promptTokens: promptTokens).text
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    /// Server-sent events: per chat choice a role chunk, then one chunk per token (its text,
    /// log-probabilities, temperature and top-p), one closing chunk per choice with its finish
    /// reason, the usage chunk if asked for, and `data: [DONE]`. A failed write (the client
    /// disconnected) cancels the choices still running.
    private func stream(_ submission: GenerationScheduler.Submission, job: CompletionJob, formatter: CompletionFormatter,
                        promptTokens: Int, record: RequestRecord) -> Response {
        let body = ResponseBody { writer in
            defer { submission.cancel() }
            func send(_ text: String) async throws { try await writer.write(ByteBuffer(string: "data: \(text)\n\n")) }
            if job.endpoint == .chat {
                for c in 0..<job.choiceCount { try await send(formatter.roleChunk(choice: c, includeUsage: job.includeUsage).text) }
            }
            var offsets = [Int](repeating: 0, count: job.choiceCount)
            var completionTokens = 0
            do {
                for try await event in submission.events {
                    switch event {
                    case .token(let c, let token):
                        try await send(formatter.chunk(choice: c, token: token, finishReason: nil, textOffset: offsets[c],
                                                       includeUsage: job.includeUsage).text)
                        offsets[c] += token.text.count
                        completionTokens += 1
                        record.completionTokens = completionTokens
                    case .finished(let c, let reason):
                        try await send(formatter.chunk(choice: c, token: nil, finishReason: reason, textOffset: offsets[c],
                                                       includeUsage: job.includeUsage).text)
                    }
                }
            } catch let error as APIError {
                try await send(error.json)
            }
            if job.includeUsage {
                try await send(formatter.usageChunk(promptTokens: promptTokens, completionTokens: completionTokens).text)
            }
            try await send("[DONE]")
            // The client has everything now; if it hangs up before the end of the body, nothing is lost.
            try? await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}
