import Foundation
import Hummingbird

/// What the request log reports of one request, filled in by whichever handler serves it
/// (a streamed response fills it in while its body is written).
final class RequestRecord: @unchecked Sendable {
    private let lock = NSLock()
    private var _id: String?
    private var _promptTokens = 0
    private var _completionTokens = 0

    var id: String? {
        get { lock.withLock { _id } }
        set { lock.withLock { _id = newValue } }
    }
    var promptTokens: Int {
        get { lock.withLock { _promptTokens } }
        set { lock.withLock { _promptTokens = newValue } }
    }
    var completionTokens: Int {
        get { lock.withLock { _completionTokens } }
        set { lock.withLock { _completionTokens = newValue } }
    }
}

/// The request context of the server: Hummingbird's core plus the request's log record.
struct ServerContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let record = RequestRecord()
    init(source: Source) { coreContext = .init(source: source) }
}
