import GatewayConfig
import LockedState

/// The in-process `RateBudget`: an exact sliding-window schedule per workspace and a fair queue.
///
/// Guarantees: for every limit of the workspace, never more than `calls` calls in flight or
/// completed within any window of its period plus the safety margin; when callers wait, grants
/// go round-robin across callers. A waiter sleeps until the next grant is possible (or polls
/// briefly while in-flight calls fill a limit), then the first to wake grants every waiter that
/// fits, in fair order.
public final class InProcessRateBudget: RateBudget {
    private struct Workspace {
        var schedule: SlidingWindowSchedule
        var queue = FairQueue<Int>()
        var granted: Set<Int> = []
        var pausedUntil: ContinuousClock.Instant?
    }

    private struct State {
        var workspaces: [String: Workspace]
        var nextID = 0
    }

    private let state: Locked<State>
    /// How often a waiter looks again while only in-flight calls block it.
    private static let inFlightPoll: Duration = .milliseconds(20)

    /// A budget for each workspace's limits, each window widened by `safetyMargin`.
    public init(workspaces: [WorkspaceConfiguration], safetyMargin: Duration) {
        var byName: [String: Workspace] = [:]
        for workspace in workspaces {
            let limits = workspace.rateLimits.map {
                SlidingWindowSchedule.Limit(calls: $0.calls, window: .milliseconds(Int64(($0.perSeconds * 1_000).rounded(.up))) + safetyMargin)
            }
            byName[workspace.name] = Workspace(schedule: SlidingWindowSchedule(limits: limits))
        }
        state = Locked(State(workspaces: byName))
    }

    /// Waits for a grant; see `RateBudget.acquire`.
    public func acquire(workspace: String, caller: String) async throws -> BudgetGrant {
        try Task.checkCancellation()
        let id = state.withLock { state -> Int in
            state.nextID += 1
            state.workspaces[workspace]?.queue.enqueue(state.nextID, id: state.nextID, caller: caller)
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
                guard let wakeAt else { return BudgetGrant(workspace: workspace) }
                try await Task.sleep(until: wakeAt, clock: .continuous)
            }
        } catch {
            state.withLock { state in
                _ = state.workspaces[workspace]?.queue.remove(id: id)
                // Granted by another waiter's pass but never used: it still counts from now.
                if state.workspaces[workspace]?.granted.remove(id) != nil {
                    state.workspaces[workspace]?.schedule.complete(at: .now)
                }
            }
            throw error
        }
    }

    /// See `RateBudget.complete`.
    public func complete(_ grant: BudgetGrant) {
        state.withLock { $0.workspaces[grant.workspace]?.schedule.complete(at: .now) }
    }

    /// See `RateBudget.projectedCompletion`.
    public func projectedCompletion(workspace: String, calls: Int) -> ContinuousClock.Instant {
        state.withLock { state in
            guard let entry = state.workspaces[workspace] else { return .now }
            let start = max(.now, entry.pausedUntil ?? .now)
            return entry.schedule.projectedCompletion(of: entry.queue.count + calls, after: start)
        }
    }

    /// See `RateBudget.pause`.
    public func pause(workspace: String, until instant: ContinuousClock.Instant) {
        state.withLock { state in
            guard let current = state.workspaces[workspace] else { return }
            state.workspaces[workspace]?.pausedUntil = max(current.pausedUntil ?? instant, instant)
        }
    }

    /// Grants every waiter that fits now, in fair order.
    private static func grantDue(_ entry: inout Workspace, now: ContinuousClock.Instant) {
        if let paused = entry.pausedUntil, paused > now { return }
        while !entry.queue.isEmpty, let allowed = entry.schedule.nextAllowed(after: now), allowed <= now, let next = entry.queue.next() {
            entry.schedule.grant()
            entry.granted.insert(next)
        }
    }

    private static func nextGrantInstant(_ entry: Workspace, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let allowed = entry.schedule.nextAllowed(after: now) ?? now + inFlightPoll
        return max(allowed, entry.pausedUntil ?? now)
    }
}
