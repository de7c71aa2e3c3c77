import GatewayConfig
import Synchronization

/// The in-process `RateBudget`: an exact sliding-window schedule per workspace and a fair queue.
///
/// Guarantees: never more grants than a limit's `calls` within any window of its period plus
/// the safety margin, for every limit of the workspace; when callers wait, grants go
/// round-robin across callers. A waiter sleeps until the next grant is possible, then the
/// first to wake grants every waiter that fits, in fair order.
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

    private let state: Mutex<State>

    /// A budget for each workspace's limits, each window widened by `safetyMargin`.
    public init(workspaces: [WorkspaceConfiguration], safetyMargin: Duration) {
        var byName: [String: Workspace] = [:]
        for workspace in workspaces {
            let limits = workspace.rateLimits.map {
                SlidingWindowSchedule.Limit(calls: $0.calls, window: .milliseconds(Int64(($0.perSeconds * 1_000).rounded(.up))) + safetyMargin)
            }
            byName[workspace.name] = Workspace(schedule: SlidingWindowSchedule(limits: limits))
        }
        state = Mutex(State(workspaces: byName))
    }

    /// Waits for a grant; see `RateBudget.acquire`.
    public func acquire(workspace: String, caller: String) async throws {
        try Task.checkCancellation()
        let id = state.withLock { state -> Int in
            state.nextID += 1
            state.workspaces[workspace]?.queue.enqueue(state.nextID, id: state.nextID, caller: caller)
            return state.nextID
        }
        do {
            while true {
                let wakeAt: ContinuousClock.Instant? = state.withLock { state in
                    guard var entry = state.workspaces[workspace] else { return nil }
                    defer { state.workspaces[workspace] = entry }
                    Self.grantDue(&entry, now: .now)
                    if entry.granted.remove(id) != nil { return nil }
                    return Self.nextGrantInstant(entry, now: .now)
                }
                guard let wakeAt else { return }
                try await Task.sleep(until: wakeAt, clock: .continuous)
            }
        } catch {
            state.withLock { state in
                _ = state.workspaces[workspace]?.queue.remove(id: id)
                state.workspaces[workspace]?.granted.remove(id)
            }
            throw error
        }
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
        while !entry.queue.isEmpty, entry.schedule.nextAllowed(after: now) <= now, let next = entry.queue.next() {
            entry.schedule.record(now)
            entry.granted.insert(next)
        }
    }

    private static func nextGrantInstant(_ entry: Workspace, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        max(entry.schedule.nextAllowed(after: now), entry.pausedUntil ?? now)
    }
}
