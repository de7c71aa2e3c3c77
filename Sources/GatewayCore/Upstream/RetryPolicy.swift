/// Bounded exponential backoff with jitter. Pure: the random draw is passed in.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included (default 4).
    public var maxAttempts: Int
    /// Delay before the first retry (default 200 ms).
    public var baseDelay: Duration
    /// Longest delay (default 5 s).
    public var maxDelay: Duration

    /// Creates a policy; every parameter has the default documented on its property.
    public init(maxAttempts: Int = 4, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(5)) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The delay after failed attempt `attempt` (1-based): `base × 2^(attempt-1)`, capped, scaled by
    /// `jitter` in [0.5, 1]; never shorter than the upstream's `Retry-After`.
    public func delay(afterAttempt attempt: Int, jitter: Double, retryAfter: Duration?) -> Duration {
        let exponential = baseDelay * (1 << min(attempt - 1, 20))
        let backoff = min(exponential, maxDelay) * (0.5 + 0.5 * min(max(jitter, 0), 1))
        return max(backoff, retryAfter ?? .zero)
    }
}
