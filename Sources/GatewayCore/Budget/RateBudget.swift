/// One workspace's shared budget of upstream calls, spent fairly by every caller.
///
/// In process (`InProcessRateBudget`), or shared by every replica through Redis (`RedisRateBudget`).
public protocol RateBudget: Sendable {
    /// Waits until one upstream call may be made for `workspace` on behalf of `claim`'s caller.
    /// Throws `CancellationError` when the waiting task is cancelled (e.g. by its deadline), and
    /// -32029 at once when a pause or block of the budget outlasts the claim's deadline.
    func acquire(workspace: String, claim: BudgetClaim) async throws -> BudgetGrant

    /// Reports that a granted call finished (answered, failed or abandoned); it then counts
    /// against the windows from this instant on, unless it was never `sent` (no connection to the
    /// upstream was made), when it counts against none. Every grant must be completed exactly once.
    func complete(_ grant: BudgetGrant, sent: Bool)

    /// When `calls` more calls of `priority` could all have been granted and answered (a typical
    /// call's duration after the last grant), counting every call already waiting or admitted that
    /// goes before them (interactive calls go before background ones); a shared budget asks its
    /// store until `deadline` at the latest.
    func projectedCompletion(
        workspace: String, calls: Int, priority: BudgetPriority, deadline: ContinuousClock.Instant?
    ) async -> ContinuousClock.Instant

    /// Admits `calls` more calls when, as projected (`projectedCompletion`), they could all have
    /// been answered by `deadline` with a margin for calls slower than typical: decided and counted
    /// at once, so that of two requests asking together for the last slots only one is admitted.
    func admit(workspace: String, calls: Int, by deadline: ContinuousClock.Instant) async -> AdmissionOutcome

    /// Grants nothing for `workspace` before `instant` (the upstream said 429 / Retry-After).
    func pause(workspace: String, until instant: ContinuousClock.Instant)

    /// Takes `workspaces` (a reloaded configuration) from now on: new limits for known accounts,
    /// keeping their calls and waiters; new accounts and names added; nothing forgotten.
    func reconfigure(workspaces: [UpstreamWorkspace])

    /// The calls this process was granted for `workspace`'s account that are in flight or
    /// completed within the last `period` (for a shared budget, this replica's part).
    func callsInWindow(workspace: String, period: Duration) -> Int
}

/// Which class of work a call is: interactive calls are granted first; background work (jobs,
/// refresh-ahead) takes only the slots they leave free, paced evenly so that an interactive call
/// never waits for more than one grant interval behind it, beside its reserved share if any.
public enum BudgetPriority: String, Sendable, CaseIterable {
    /// A synchronous request's call.
    case interactive
    /// A job's or a refresh's call.
    case background
}

/// Who waits for a grant: the caller (grants go round-robin across callers), when its request
/// arrived (a caller's earlier requests first), its deadline (read when a pause or block begins),
/// the admission the call was planned under (its wait takes up one of the admitted calls) and its class.
public struct BudgetClaim: Sendable {
    /// The caller's name.
    public var caller: String
    /// Interactive or background.
    public var priority: BudgetPriority
    /// When the request arrived.
    public var arrived: ContinuousClock.Instant
    /// The request's deadline (the latest waiter's, for a shared call).
    public var deadline: @Sendable () -> ContinuousClock.Instant
    /// The admission of the request's plan, for a planned call (not a retry).
    public var admission: BudgetAdmission?

    /// A claim of `caller`'s request that arrived at `arrived`, for a call of `admission` if any.
    public init(
        caller: String, arrived: ContinuousClock.Instant = .now, admission: BudgetAdmission? = nil, priority: BudgetPriority = .interactive,
        deadline: @escaping @Sendable () -> ContinuousClock.Instant
    ) {
        self.caller = caller
        self.priority = priority
        self.arrived = arrived
        self.admission = admission
        self.deadline = deadline
    }
}

/// Permission for one upstream call; hand it back with `RateBudget.complete`.
public struct BudgetGrant: Sendable, Hashable {
    /// The workspace it was granted for.
    public let workspace: String
    /// The grant's id where the budget tracks grants one by one (a shared budget), else 0.
    public let id: UInt64
    /// When it was granted.
    public let granted: ContinuousClock.Instant
    /// The class of the call it was granted for.
    public let priority: BudgetPriority

    /// Creates a grant made now.
    public init(workspace: String, id: UInt64 = 0, priority: BudgetPriority = .interactive) {
        self.workspace = workspace
        self.id = id
        self.priority = priority
        granted = .now
    }
}

extension RateBudget {
    /// `projectedCompletion` of interactive calls.
    public func projectedCompletion(workspace: String, calls: Int, deadline: ContinuousClock.Instant?) async -> ContinuousClock.Instant {
        await projectedCompletion(workspace: workspace, calls: calls, priority: .interactive, deadline: deadline)
    }

    /// Waits until one upstream call may be made, with no deadline but cancellation.
    public func acquire(workspace: String, caller: String) async throws -> BudgetGrant {
        try await acquire(workspace: workspace, claim: BudgetClaim(caller: caller) { .now + .seconds(86_400 * 365) })
    }
}
