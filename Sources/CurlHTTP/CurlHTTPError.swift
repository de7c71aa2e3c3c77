/// Why an upstream transfer failed before a complete HTTP response was read.
///
/// A struct over a private code enum, so cases can be added without breaking callers and
/// `code` is safe as a metrics label.
public struct CurlHTTPError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: String, Sendable, Hashable {
        case timedOut = "timed_out"
        case connectFailed = "connect_failed"
        case connectionDropped = "connection_dropped"
        case responseTooLarge = "response_too_large"
        case cancelled
        case shutdown
        case tlsFailed = "tls_failed"
        case transport
    }

    private let code: Code
    /// libcurl's own description of the failure (never contains request headers or bodies).
    public let detail: String
    /// Bytes of the request were written on some connection (libcurl may have written it on a
    /// reused connection that then died, and failed only to connect again for its hidden retry).
    var requestWritten = false

    private init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    /// The connect or total timeout passed.
    public static func timedOut(_ detail: String) -> Self { .init(.timedOut, detail) }
    /// No connection could be made.
    public static func connectFailed(_ detail: String) -> Self { .init(.connectFailed, detail) }
    /// The peer closed the connection before the response was complete.
    public static func connectionDropped(_ detail: String) -> Self { .init(.connectionDropped, detail) }
    /// The response body exceeded the configured cap and the transfer was aborted.
    public static func responseTooLarge(limit: Int) -> Self { .init(.responseTooLarge, "response body over \(limit) bytes") }
    /// The waiting task was cancelled and its transfer removed.
    public static let cancelled = Self(.cancelled, "cancelled")
    /// The client was shut down before the transfer finished.
    public static let shutdown = Self(.shutdown, "client shut down")
    /// TLS handshake or peer verification failed.
    public static func tlsFailed(_ detail: String) -> Self { .init(.tlsFailed, detail) }
    /// Any other transport failure reported by libcurl.
    public static func transport(_ detail: String) -> Self { .init(.transport, detail) }

    /// A stable, low-cardinality name for this failure kind.
    public var kind: String { code.rawValue }

    /// Whether a retry of the same request may succeed.
    public var isTransient: Bool {
        switch code {
        case .timedOut, .connectFailed, .connectionDropped, .transport: return true
        case .responseTooLarge, .cancelled, .shutdown, .tlsFailed: return false
        }
    }

    /// Whether the request may have reached the server: false only when no connection was made or
    /// its TLS handshake failed and no byte of the request was written on any connection.
    public var mayHaveReachedServer: Bool {
        requestWritten || (code != .connectFailed && code != .tlsFailed)
    }

    /// The same kind and detail (whether the request was written is not part of what failed).
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code && lhs.detail == rhs.detail }

    /// Hashes the kind and detail.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(detail)
    }

    /// `kind: detail`.
    public var description: String { "\(code.rawValue): \(detail)" }
}
