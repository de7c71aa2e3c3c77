import GatewayConfig
import LockedState

/// The in-process `RateBudget`: an exact sliding-window schedule per upstream account and a fair queue.
///
/// Workspace names on the same account (e.g. two names for one MoEngage Workspace ID) spend one
/// budget, under every limit either name configures.
///
/// Guarantees: for every limit of the workspace, never more than `calls` calls in flight or
/// completed within any window of its period plus the safety margin; when callers wait,
/// interactive calls go before background ones (`ClassedWaiters`), and grants go round-robin
/// across callers within a class. A waiter sleeps until the next grant is possible (or polls
/// briefly while in-flight calls fill a limit), then the first to wake grants every waiter that
/// fits, in fair order.
public final class InProcessRateBudget: RateBudget {
    private struct Workspace {
        var schedule: SlidingWindowSchedule
        var waiters: ClassedWaiters
        var granted: Set<Int> = []
        var admitted = AdmittedCalls()
        var typical = TypicalCallDuration()
        var pausedUntil: ContinuousClock.Instant?

        init(limits: [SlidingWindowSchedule.Limit], reservedShare: Double) {
            schedule = SlidingWindowSchedule(limits: limits)
            waiters = ClassedWaiters(reservedShare: reservedShare, horizon: schedule.horizon, spacing: schedule.evenSpacing)
        }

        /// Takes `limits` from now on.
        mutating func relimit(_ limits: [SlidingWindowSchedule.Limit]) {
            schedule.relimit(limits)
            waiters.horizon = schedule.horizon
            waiters.spacing = schedule.evenSpacing
        }

        /// When `calls` more calls of `priority`, after every call waiting or admitted that goes
        /// before them, could all have been granted and answered (background calls at their pace).
        func projectedCompletion(of calls: Int, priority: BudgetPriority, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
            let start = max(now, pausedUntil ?? now)
            let callDuration = typical.value(at: now)
            let completion = schedule.projectedCompletion(
                of: waiters.ahead(of: priority) + admitted.total + calls, after: start, callDuration: callDuration)
            guard priority == .background, calls > 0 else { return completion }
            return max(completion, waiters.pacedCompletion(of: calls, after: start, callDuration: callDuration))
        }
    }

    private struct State {
        /// By account.
        var workspaces: [String: Workspace]
        /// Workspace name → account.
        var accounts: [String: String]
        var nextID = 0
    }

    private let state: Locked<State>
    private let safetyMargin: Duration
    private let reservedBackgroundShare: Double
    /// How often a waiter looks again while only in-flight calls block it.
    private static let inFlightPoll: Duration = .milliseconds(20)

    /// A budget for each account's limits (every limit any of its workspace names configures),
    /// each window widened by `safetyMargin`, keeping `reservedBackgroundShare` of the grants for
    /// background work while both classes wait.
    public init(workspaces: [UpstreamWorkspace], safetyMargin: Duration, reservedBackgroundShare: Double = 0) {
        self.safetyMargin = safetyMargin
        self.reservedBackgroundShare = reservedBackgroundShare
        state = Locked(
            State(
                workspaces: SlidingWindowSchedule.limitsByAccount(of: workspaces, safetyMargin: safetyMargin).mapValues {
                    Workspace(limits: $0, reservedShare: reservedBackgroundShare)
                },
                accounts: Dictionary(uniqueKeysWithValues: workspaces.map { ($0.name, $0.account) })))
    }

    /// See `RateBudget.reconfigure`: each account keeps its calls and waiters under its new limits.
    public func reconfigure(workspaces: [UpstreamWorkspace]) {
        let limits = SlidingWindowSchedule.limitsByAccount(of: workspaces, safetyMargin: safetyMargin)
        state.withLock { state in
            for (account, accountLimits) in limits {
                if state.workspaces[account] == nil {
                    state.workspaces[account] = Workspace(limits: accountLimits, reservedShare: reservedBackgroundShare)
                } else {
                    state.workspaces[account]?.relimit(accountLimits)
                }
            }
            state.accounts.merge(workspaces.map { ($0.name, $0.account) }) { _, new in new }
        }
    }

    /// Waits for a grant; see `RateBudget.acquire`.
    public func acquire(workspace name: String, claim: BudgetClaim) async throws -> BudgetGrant {
        try Task.checkCancellation()
        let workspace = account(of: name)
        let id = state.withLock { state -> Int in
            state.nextID += 1
            state.workspaces[workspace]?.waiters.enqueue(state.nextID, caller: claim.caller, since: claim.arrived, priority: claim.priority)
            state.workspaces[workspace]?.admitted.take(claim.admission?.id)
            return state.nextID
        }
        do {
            while true {
                let wakeAt: ContinuousClock.Instant? = state.withLock { state in
                    guard var entry = state.workspaces[workspace] else {
                        preconditionFailure("acquire for an unconfigured workspace")
                    }
                    defer { state.workspaces[workspace] = entry }
                    Self.grantDue(&entry, now: .now)
                    if entry.granted.remove(id) != nil { return nil }
                    return Self.nextGrantInstant(entry, now: .now)
                }
                guard let wakeAt else { return BudgetGrant(workspace: name, priority: claim.priority) }
                let paused = state.withLock { $0.workspaces[workspace]?.pausedUntil } ?? .now
                if paused > claim.deadline() { throw GatewayError.outlasted(until: paused) }
                try await Task.sleep(until: wakeAt, clock: .continuous)
            }
        } catch {
            state.withLock { state in
                state.workspaces[workspace]?.waiters.remove(id)
                // Granted by another waiter's pass but never used: it still counts from now.
                if state.workspaces[workspace]?.granted.remove(id) != nil {
                    state.workspaces[workspace]?.schedule.complete(at: .now)
                }
            }
            throw error
        }
    }

    /// See `RateBudget.complete`.
    public func complete(_ grant: BudgetGrant, sent: Bool) {
        let workspace = account(of: grant.workspace)
        let now = ContinuousClock.now
        state.withLock { state in
            guard sent else {
                state.workspaces[workspace]?.schedule.withdraw()
                return
            }
            state.workspaces[workspace]?.schedule.complete(at: now)
            state.workspaces[workspace]?.typical.record(now - grant.granted, at: now)
        }
    }

    /// See `RateBudget.projectedCompletion`.
    public func projectedCompletion(
        workspace name: String, calls: Int, priority: BudgetPriority, deadline: ContinuousClock.Instant?
    ) async -> ContinuousClock.Instant {
        let workspace = account(of: name)
        return state.withLock { $0.workspaces[workspace]?.projectedCompletion(of: calls, priority: priority, now: .now) } ?? .now
    }

    /// See `RateBudget.admit`.
    public func admit(workspace name: String, calls: Int, by deadline: ContinuousClock.Instant) async -> AdmissionOutcome {
        let workspace = account(of: name)
        return state.withLock { state in
            let completion = state.workspaces[workspace]?.projectedCompletion(of: calls, priority: .interactive, now: .now) ?? .now
            let now = ContinuousClock.now
            let typical = state.workspaces[workspace]?.typical
            let margin = typical?.margin(at: now) ?? .zero
            guard completion + margin <= deadline else {
                return .refused(completion: completion + margin, atOnce: now + (typical?.value(at: now) ?? .zero) + margin)
            }
            let id = state.workspaces[workspace]?.admitted.add(calls)
            return .admitted(
                BudgetAdmission(id: id ?? 0, completion: completion) { [self] id in
                    self.state.withLock { $0.workspaces[workspace]?.admitted.release(id) }
                })
        }
    }

    /// See `RateBudget.callsInWindow`.
    public func callsInWindow(workspace name: String, period: Duration) -> Int {
        let workspace = account(of: name)
        return state.withLock { $0.workspaces[workspace]?.schedule.calls(within: period, at: .now) } ?? 0
    }

    /// See `RateBudget.pause`.
    public func pause(workspace name: String, until instant: ContinuousClock.Instant) {
        let workspace = account(of: name)
        state.withLock { state in
            guard let current = state.workspaces[workspace] else { return }
            state.workspaces[workspace]?.pausedUntil = max(current.pausedUntil ?? instant, instant)
        }
    }

    private func account(of workspace: String) -> String {
        state.withLock { $0.accounts[workspace] } ?? workspace
    }

    /// Grants every waiter that fits now: interactive ones first, background ones at their pace
    /// (`ClassedWaiters`), each class in fair order.
    private static func grantDue(_ entry: inout Workspace, now: ContinuousClock.Instant) {
        if let paused = entry.pausedUntil, paused > now { return }
        while let allowed = entry.schedule.nextAllowed(after: now), allowed <= now, let priority = entry.waiters.nextClass(at: now),
            let next = entry.waiters.take(priority, at: now)
        {
            entry.schedule.grant()
            entry.granted.insert(next)
        }
    }

    private static func nextGrantInstant(_ entry: Workspace, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let allowed = entry.schedule.nextAllowed(after: now) ?? now + inFlightPoll
        let paced = entry.waiters.count(.interactive) == 0 ? entry.waiters.backgroundDue(at: now) : now
        return max(allowed, paced, entry.pausedUntil ?? now)
    }
}
