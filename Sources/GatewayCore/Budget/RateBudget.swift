/// One workspace's shared budget of upstream calls, spent fairly by every caller.
///
/// In process (`InProcessRateBudget`), or shared by every replica through Redis (`RedisRateBudget`).
public protocol RateBudget: Sendable {
    /// Waits until one upstream call may be made for `workspace` on behalf of `caller`.
    /// Throws `CancellationError` when the waiting task is cancelled (e.g. by its deadline).
    /// Within a caller, requests that arrived earlier (`since`) are granted first.
    func acquire(workspace: String, caller: String, since: ContinuousClock.Instant) async throws -> BudgetGrant

    /// Reports that a granted call finished (answered, failed or abandoned); it then counts
    /// against the windows from this instant on. Every grant must be completed exactly once.
    func complete(_ grant: BudgetGrant)

    /// When `calls` more calls could all have been granted, counting every call already waiting;
    /// a shared budget asks its store until `deadline` at the latest.
    func projectedCompletion(workspace: String, calls: Int, deadline: ContinuousClock.Instant?) async -> ContinuousClock.Instant

    /// Grants nothing for `workspace` before `instant` (the upstream said 429 / Retry-After).
    func pause(workspace: String, until instant: ContinuousClock.Instant)
}

/// Permission for one upstream call; hand it back with `RateBudget.complete`.
public struct BudgetGrant: Sendable, Hashable {
    /// The workspace it was granted for.
    public let workspace: String
    /// The grant's id where the budget tracks grants one by one (a shared budget), else 0.
    public let id: UInt64

    /// Creates a grant.
    public init(workspace: String, id: UInt64 = 0) {
        self.workspace = workspace
        self.id = id
    }
}

extension RateBudget {
    /// Waits until one upstream call may be made, for a request arriving now.
    public func acquire(workspace: String, caller: String) async throws -> BudgetGrant {
        try await acquire(workspace: workspace, caller: caller, since: .now)
    }
}
