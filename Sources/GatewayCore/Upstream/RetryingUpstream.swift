import CurlHTTP
import DynamicJSON

/// Every upstream call of the gateway: paid from the workspace's rate budget, retried on
/// transient failures with backoff, all within the request's deadline.
///
/// A 429 also pauses the workspace's budget for the upstream's `Retry-After` (or the backoff),
/// so other callers do not run into the same wall.
public struct RetryingUpstream: Sendable {
    private let client: UpstreamClient
    private let budget: any RateBudget
    private let policy: RetryPolicy

    /// Creates the caller.
    public init(client: UpstreamClient, budget: any RateBudget, policy: RetryPolicy = RetryPolicy()) {
        self.client = client
        self.budget = budget
        self.policy = policy
    }

    /// A decoded answer and how many upstream calls it took.
    public struct Outcome<Value: Sendable>: Sendable {
        /// The decoded answer.
        public var value: Value
        /// Attempts that may have reached the upstream (each attempt, sent or not, is paid from the budget).
        public var calls: Int
    }

    /// Sends `request` until a status in `accepting` arrives and `decode` accepts it, retrying
    /// transient failures (5xx, 429, transport, a malformed body); throws `GatewayError` when it gives
    /// up, carrying the attempts that may have reached the upstream (`upstreamCalls`).
    public func call<Value: Sendable>(
        _ request: UpstreamRequest, workspace: UpstreamWorkspace, context: CallContext, accepting: Set<Int> = [200],
        decode: (HTTPClientResponse) throws -> Value
    ) async throws -> Outcome<Value> {
        var attempt = 0
        // Attempts that may have reached the upstream: every answer, and every failure but a connection never made.
        var sent = 0
        while true {
            attempt += 1
            // A retry was not planned: only the first attempt takes up an admitted call.
            let claim = BudgetClaim(
                caller: context.caller.name, arrived: context.arrived, admission: attempt == 1 ? context.admission : nil, priority: context.priority
            ) { context.deadline }
            let grant = try await budget.acquire(workspace: workspace.name, claim: claim)
            var answered = false
            // A call that made no connection never counted upstream: the budget takes its grant back.
            var reached = true
            context.callsMade?.began()
            do {
                defer {
                    budget.complete(grant, sent: reached)
                    context.callsMade?.ended(reached: reached)
                }
                let response: HTTPClientResponse
                do {
                    response = try await client.send(request, workspace: workspace, context: context, accepting: accepting)
                } catch let failure as UpstreamCallError {
                    reached = failure.reachedUpstream
                    throw failure
                }
                answered = true
                return Outcome(value: try decode(response), calls: sent + 1)
            } catch var error as GatewayError {
                error.upstreamCalls = sent + (answered ? 1 : 0)
                throw error
            } catch let failure as UpstreamCallError {
                if failure.reachedUpstream { sent += 1 }
                let delay = policy.delay(afterAttempt: attempt, jitter: Double.random(in: 0...1), retryAfter: failure.retryAfter)
                // A 429 pauses the workspace for everyone, whether or not this call tries again.
                if failure.status == 429 {
                    budget.pause(workspace: workspace.name, until: .now + delay)
                }
                guard failure.isRetryable, attempt < policy.maxAttempts, ContinuousClock.now + delay < context.deadline else {
                    var error = failure.gatewayError
                    error.upstreamCalls = sent
                    throw error
                }
                client.metrics.retried(workspace: workspace.name, endpoint: request.endpoint)
                context.logger.notice(
                    "retrying upstream call",
                    metadata: [
                        "endpoint": "\(request.endpoint)", "status": "\(failure.status)", "attempt": "\(attempt)",
                        "delay_ms": "\(delay.wholeMilliseconds)",
                    ])
                try await Task.sleep(for: delay)
            }
        }
    }

    /// POSTs a JSON body to a MoEngage JSON API and returns the parsed answer.
    public func postJSON(path: String, body: JSON, workspace: UpstreamWorkspace, context: CallContext) async throws -> Outcome<JSON> {
        try await call(UpstreamRequest(method: "POST", path: path, body: body), workspace: workspace, context: context, decode: UpstreamClient.json)
    }
}
