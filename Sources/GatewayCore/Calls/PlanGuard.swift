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
    /// together with the `alreadySpent` ones they must fit the call limit, and the budget must be
    /// able to grant them (the spent ones are in its log already) before the deadline.
    public func check(_ calls: Int, alreadySpent: Int = 0, workspace: String, context: CallContext, dryRun: Bool) throws {
        guard alreadySpent + calls <= limits.maxUpstreamCallsPerRequest else {
            throw GatewayError.planTooLarge(estimatedCalls: alreadySpent + calls, limit: limits.maxUpstreamCallsPerRequest)
        }
        guard calls > 0, !dryRun else { return }
        let completion = budget.projectedCompletion(workspace: workspace, calls: calls)
        if completion > context.deadline {
            throw GatewayError.rateBudgetExhausted(retryAfterMs: max(1, (completion - context.deadline).wholeMilliseconds), estimatedCalls: calls)
        }
    }

    /// Milliseconds until the budget could have granted `calls` more calls for `workspace`.
    public func earliestCompletionMs(_ calls: Int, workspace: String) -> Int {
        max(0, (budget.projectedCompletion(workspace: workspace, calls: calls) - ContinuousClock.now).wholeMilliseconds)
    }
}
