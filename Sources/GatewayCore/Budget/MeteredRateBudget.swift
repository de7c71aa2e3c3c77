/// A `RateBudget` whose grants, waits and -32029 answers to waiters are counted in `BudgetMetrics`.
public struct MeteredRateBudget: RateBudget {
    private let budget: any RateBudget
    private let metrics: BudgetMetrics

    /// Counts what `budget` grants and refuses into `metrics`.
    public init(_ budget: any RateBudget, metrics: BudgetMetrics) {
        self.budget = budget
        self.metrics = metrics
    }

    /// See `RateBudget.acquire`.
    public func acquire(workspace: String, claim: BudgetClaim) async throws -> BudgetGrant {
        let asked = ContinuousClock.now
        do {
            let grant = try await budget.acquire(workspace: workspace, claim: claim)
            metrics.granted(workspace: workspace, priority: claim.priority, waited: .now - asked)
            return grant
        } catch let error as GatewayError where error.jsonRPCCode == -32029 {
            metrics.refused(workspace: workspace)
            throw error
        }
    }

    /// See `RateBudget.complete`.
    public func complete(_ grant: BudgetGrant, sent: Bool) { budget.complete(grant, sent: sent) }

    /// See `RateBudget.projectedCompletion`.
    public func projectedCompletion(
        workspace: String, calls: Int, priority: BudgetPriority, deadline: ContinuousClock.Instant?
    ) async -> ContinuousClock.Instant {
        await budget.projectedCompletion(workspace: workspace, calls: calls, priority: priority, deadline: deadline)
    }

    /// See `RateBudget.admit`.
    public func admit(workspace: String, calls: Int, by deadline: ContinuousClock.Instant) async -> AdmissionOutcome {
        await budget.admit(workspace: workspace, calls: calls, by: deadline)
    }

    /// See `RateBudget.pause`.
    public func pause(workspace: String, until instant: ContinuousClock.Instant) { budget.pause(workspace: workspace, until: instant) }

    /// See `RateBudget.reconfigure`.
    public func reconfigure(workspaces: [UpstreamWorkspace]) { budget.reconfigure(workspaces: workspaces) }

    /// See `RateBudget.callsInWindow`.
    public func callsInWindow(workspace: String, period: Duration) -> Int { budget.callsInWindow(workspace: workspace, period: period) }
}
