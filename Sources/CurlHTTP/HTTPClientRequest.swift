import Foundation

/// One upstream HTTP request, as the curl client sends it.
public struct HTTPClientRequest: Sendable {
    /// The HTTP method, upper case (`GET`, `POST`, ...).
    public var method: String
    /// The absolute URL.
    public var url: String
    /// Header fields in order; names as given.
    public var headers: [(name: String, value: String)]
    /// The request body, sent with an exact `Content-Length`.
    public var body: Data?
    /// How long connecting may take, in milliseconds.
    public var connectTimeoutMs: Int
    /// How long the whole transfer may take, in milliseconds (includes time queued for a connection).
    public var totalTimeoutMs: Int

    /// Creates a request; timeouts default to 5 s to connect and 30 s in total.
    public init(
        method: String = "GET",
        url: String,
        headers: [(name: String, value: String)] = [],
        body: Data? = nil,
        connectTimeoutMs: Int = 5_000,
        totalTimeoutMs: Int = 30_000
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeoutMs = connectTimeoutMs
        self.totalTimeoutMs = totalTimeoutMs
    }
}
