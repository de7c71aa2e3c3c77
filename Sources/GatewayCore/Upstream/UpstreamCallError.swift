/// One failed upstream attempt: what to tell the caller, and what a retry loop needs to know.
public struct UpstreamCallError: Error, Sendable {
    /// The error to answer with if no retry succeeds.
    public let gatewayError: GatewayError
    /// The HTTP status; 0 when there was no HTTP answer.
    public let status: Int
    /// The upstream's `Retry-After`, when it sent one.
    public let retryAfter: Duration?
    /// Whether the request may have reached the upstream (false when no connection was made).
    public var reachedUpstream = true

    /// Whether the same request may fare differently (false for a failed TLS check or an oversized answer).
    public var isTransient = true

    /// Whether another attempt may succeed: 5xx, 429, and transient transport failures.
    public var isRetryable: Bool {
        isTransient && (status == 0 || status == 429 || status >= 500)
    }
}
