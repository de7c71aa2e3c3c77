import GatewayConfig

/// Refuses a plan before anything is spent: over the per-request call limit (-32013), or not
/// servable by the workspace's rate budget before the deadline (-32029).
public struct PlanGuard: Sendable {
    private let budget: any RateBudget
    private let limits: LimitsConfiguration
    private let metrics: BudgetMetrics?

    /// Checks against `budget` and `limits`, counting -32029 refusals in `metrics`.
    public init(budget: any RateBudget, limits: LimitsConfiguration, metrics: BudgetMetrics? = nil) {
        self.budget = budget
        self.limits = limits
        self.metrics = metrics
    }

    /// The per-request call limit.
    public var callLimit: Int { limits.maxUpstreamCallsPerRequest }

    /// Throws -32013 when `calls` more upstream calls would pass the request's call limit with
    /// every call the inbound HTTP request planned before (a batch's other elements, earlier
    /// pages), and -32004 when a real run of them has no time left. Counts nothing.
    public func check(_ calls: Int, context: CallContext, dryRun: Bool) throws {
        try context.allowance.check(calls)
        // A batch element that waited for its turn past the request's deadline has nothing left to plan with.
        guard calls == 0 || dryRun || context.remainingMs > 0 else { throw GatewayError.deadlineExceeded }
    }

    /// Admits a real run's `calls` (checked) of which it makes `starting` itself (the rest are
    /// identical calls of other requests it joined): the budget must admit those (grant them, after
    /// every call waiting or admitted before, in time to be answered by the deadline), else -32029,
    /// or -32004 at once when even calls granted now would be answered past the deadline.
    /// Counts `calls` against the request's allowance; answers the context to make them with (it
    /// carries the admission). A request joining calls projected answered only after its deadline
    /// (`joinedAnswerBy`) is refused at once as well.
    public func admit(
        _ calls: Int, starting: Int, joinedAnswerBy: ContinuousClock.Instant? = nil, workspace: String, context: CallContext
    ) async throws -> CallContext {
        /// -32029 for calls answered only at `answered`, past the deadline.
        func refusal(answered: ContinuousClock.Instant) -> GatewayError {
            metrics?.refused(workspace: workspace)
            return .rateBudgetExhausted(retryAfterMs: max(1, (answered - context.deadline).wholeMilliseconds), estimatedCalls: starting)
        }
        if let joinedAnswerBy, joinedAnswerBy > context.deadline { throw refusal(answered: joinedAnswerBy) }
        var admitted = context
        // Background work waits for slots interactive calls leave free: it is not admitted against them.
        if starting > 0, context.priority == .interactive {
            switch await budget.admit(workspace: workspace, calls: starting, by: context.deadline) {
            case .refused(_, let atOnce) where atOnce > context.deadline:
                // Not the budget: the upstream's typical latency alone is longer than the time left.
                throw GatewayError.deadlineExceeded
            case .refused(let completion, _):
                throw refusal(answered: completion)
            case .admitted(let admission):
                admitted.admission = admission
            }
        }
        try context.allowance.reserve(calls)
        return admitted
    }

    /// `check` then, for a real run, `admit` of calls this request makes all itself.
    public func admit(_ calls: Int, workspace: String, context: CallContext, dryRun: Bool) async throws -> CallContext {
        try check(calls, context: context, dryRun: dryRun)
        guard calls > 0, !dryRun else { return context }
        return try await admit(calls, starting: calls, workspace: workspace, context: context)
    }

    /// Milliseconds until the budget could have granted `calls` more calls for `workspace`.
    public func earliestCompletionMs(_ calls: Int, workspace: String) async -> Int {
        max(0, (await budget.projectedCompletion(workspace: workspace, calls: calls, deadline: nil) - ContinuousClock.now).wholeMilliseconds)
    }
}
