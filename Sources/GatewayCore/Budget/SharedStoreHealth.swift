import CoreMetrics
import LockedState
import Logging

/// Whether the replicas share through Redis right now, from two sources: the store itself
/// (reachable or not, as its last use or the once-a-second probe found it) and each account's
/// budget (shared, or on its fallback share, which can outlast the store's recovery by a window).
/// Degraded while either says so: one log line per transition, a gauge (`gateway_redis_degraded`,
/// 1 while degraded), and the reasons `/readyz` reports.
public final class SharedStoreHealth: Sendable {
    private struct State {
        var storeFailure: String?
        var accountsOnShare: [String: String] = [:]

        var degraded: Bool { storeFailure != nil || !accountsOnShare.isEmpty }
    }

    private let state = Locked(State())
    private let gauge: Gauge
    private let logger: Logger

    /// Starts healthy (shared mode).
    public init(metrics: any MetricsFactory, logger: Logger) {
        gauge = Gauge(label: "gateway_redis_degraded", factory: metrics)
        gauge.record(0)
        self.logger = logger
    }

    /// Whether the store failed at its last use (the cache and the leases skip it meanwhile).
    public var isStoreDown: Bool { state.withLock { $0.storeFailure != nil } }

    /// Whether anything shared is degraded (the store, or a budget on its fallback share).
    public var isDegraded: Bool { state.withLock(\.degraded) }

    /// Why the replica is degraded (never a secret), sorted; empty while shared.
    public var degradedReasons: [String] {
        state.withLock { state in
            (state.storeFailure.map { ["redis: \($0)"] } ?? [])
                + state.accountsOnShare.sorted { $0.key < $1.key }.map { "budget of \($0.key): \($0.value)" }
        }
    }

    /// A use of the store failed.
    public func storeFailed(_ reason: String) {
        update { $0.storeFailure = reason }
    }

    /// A use of the store succeeded.
    public func storeAnswered() {
        update { $0.storeFailure = nil }
    }

    /// The budget of `account` (named by its workspaces) keeps to this replica's share (or waits before it may), for `reason`.
    public func budgetOnShare(_ account: String, reason: String) {
        update { $0.accountsOnShare[account] = reason }
    }

    /// The budget of `account` (named by its workspaces) is granted through Redis again.
    public func budgetShared(_ account: String) {
        update { $0.accountsOnShare[account] = nil }
    }

    /// Redis lost the budget state of `account` (named by its workspaces) (a restart, a flush, an eviction): logged, as no
    /// replica grants for `blockedFor` (calls it may have forgotten must leave their windows first).
    public func budgetStateLost(_ account: String, blockedFor: Duration) {
        logger.warning(
            "redis lost budget state: no upstream call for this account until the calls it may have forgotten have left their windows",
            metadata: ["workspaces": "\(account)", "blocked_ms": "\(blockedFor.wholeMilliseconds)"])
    }

    private func update(_ change: (inout State) -> Void) {
        let (before, after, reasons) = state.withLock { state -> (Bool, Bool, [String]) in
            let before = state.degraded
            change(&state)
            return (before, state.degraded, (state.storeFailure.map { [$0] } ?? []) + state.accountsOnShare.values.sorted())
        }
        guard before != after else { return }
        gauge.record(after ? 1 : 0)
        if after {
            logger.error(
                "redis degraded: per-replica budget shares and the local cache", metadata: ["reason": "\(reasons.first ?? "unknown")"])
        } else {
            logger.notice("redis shared again: one budget and one cache for every replica")
        }
    }
}
