import GatewayConfig

/// Refuses a plan before anything is spent: over the per-request call limit (-32013), or not
/// servable by the workspace's rate budget before the deadline (-32029).
public struct PlanGuard: Sendable {
    private let budget: any RateBudget
    private let limits: LimitsConfiguration

    /// Checks against `budget` and `limits`.
    public init(budget: any RateBudget, limits: LimitsConfiguration) {
        self.budget = budget
        self.limits = limits
    }

    /// The per-request call limit.
    public var callLimit: Int { limits.maxUpstreamCallsPerRequest }

    /// Throws when `calls` more upstream calls for `workspace` cannot be made within this request:
    /// with every call the inbound HTTP request planned before (a batch's other elements, earlier
    /// pages) they must fit the call limit, and the budget must admit them (grant them, after every
    /// call waiting or admitted before, by the deadline). A real run counts them against the
    /// request's allowance and answers the context to make them with (it carries the admission); a
    /// dry run counts nothing.
    public func admit(_ calls: Int, workspace: String, context: CallContext, dryRun: Bool) async throws -> CallContext {
        try context.allowance.check(calls)
        guard calls > 0, !dryRun else { return context }
        // A batch element that waited for its turn past the request's deadline has nothing left to plan with.
        guard context.remainingMs > 0 else { throw GatewayError.deadlineExceeded }
        switch await budget.admit(workspace: workspace, calls: calls, by: context.deadline) {
        case .refused(let completion):
            throw GatewayError.rateBudgetExhausted(retryAfterMs: max(1, (completion - context.deadline).wholeMilliseconds), estimatedCalls: calls)
        case .admitted(let admission):
            try context.allowance.reserve(calls)
            var admitted = context
            admitted.admission = admission
            return admitted
        }
    }

    /// Milliseconds until the budget could have granted `calls` more calls for `workspace`.
    public func earliestCompletionMs(_ calls: Int, workspace: String) async -> Int {
        max(0, (await budget.projectedCompletion(workspace: workspace, calls: calls, deadline: nil) - ContinuousClock.now).wholeMilliseconds)
    }
}
