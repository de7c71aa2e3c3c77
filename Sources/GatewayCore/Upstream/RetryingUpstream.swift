import DynamicJSON

/// Every upstream call of the gateway: paid from the workspace's rate budget, retried on
/// transient failures with backoff, all within the request's deadline.
///
/// A 429 also pauses the workspace's budget for the upstream's `Retry-After` (or the backoff),
/// so other callers do not run into the same wall.
public struct RetryingUpstream: Sendable {
    private let client: MoEngageClient
    private let budget: any RateBudget
    private let policy: RetryPolicy

    /// Creates the caller.
    public init(client: MoEngageClient, budget: any RateBudget, policy: RetryPolicy = RetryPolicy()) {
        self.client = client
        self.budget = budget
        self.policy = policy
    }

    /// The answer and how many upstream calls it took.
    public struct Outcome: Sendable {
        /// The upstream's JSON answer.
        public var json: JSON
        /// Attempts made (each one paid from the budget).
        public var calls: Int
    }

    /// POSTs `body` to `path`, retrying transient failures; throws `GatewayError` when it gives up.
    public func post(path: String, body: JSON, workspace: UpstreamWorkspace, context: CallContext) async throws -> Outcome {
        var attempt = 0
        while true {
            attempt += 1
            let grant = try await budget.acquire(workspace: workspace.name, caller: context.caller.name)
            do {
                defer { budget.complete(grant) }
                let json = try await client.post(path: path, body: body, workspace: workspace, context: context)
                return Outcome(json: json, calls: attempt)
            } catch let failure as UpstreamCallError {
                guard failure.isRetryable, attempt < policy.maxAttempts else { throw failure.gatewayError }
                let delay = policy.delay(afterAttempt: attempt, jitter: Double.random(in: 0...1), retryAfter: failure.retryAfter)
                if failure.status == 429 {
                    budget.pause(workspace: workspace.name, until: .now + delay)
                }
                guard ContinuousClock.now + delay < context.deadline else { throw failure.gatewayError }
                context.logger.notice(
                    "retrying upstream call",
                    metadata: ["endpoint": "\(path)", "status": "\(failure.status)", "attempt": "\(attempt)", "delay_ms": "\(delay.components.seconds * 1_000 + delay.components.attoseconds / 1_000_000_000_000_000)"])
                try await Task.sleep(for: delay)
            }
        }
    }
}
