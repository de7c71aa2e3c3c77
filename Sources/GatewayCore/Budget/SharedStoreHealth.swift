import CoreMetrics
import LockedState
import Logging

/// Whether the replicas share through Redis right now, from two sources: the store itself
/// (reachable or not, as its last use or the once-a-second probe found it) and each account's
/// budget (shared, or on its fallback share, which can outlast the store's recovery by a window).
/// Degraded while either says so: one log line per transition, a gauge (`campaign_gateway_redis_degraded`,
/// 1 while degraded), and the reasons `/readyz` reports.
public final class SharedStoreHealth: Sendable {
    private struct State {
        var storeFailure: String?
        var accountsOnShare: [String: String] = [:]
        var holds: [String: BudgetHold] = [:]

        var degraded: Bool { storeFailure != nil || !accountsOnShare.isEmpty }
    }

    /// Until when a budget Redis grants grants nothing, or keeps to this replica's share as well.
    private struct BudgetHold {
        var blocked: ContinuousClock.Instant?
        var share: ContinuousClock.Instant?
    }

    private let state = Locked(State())
    private let gauge: Gauge
    private let logger: Logger

    /// Starts healthy (shared mode).
    public init(metrics: any MetricsFactory, logger: Logger) {
        gauge = Gauge(label: MetricCatalog.redisDegraded.name, factory: metrics)
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

    /// What holds back budgets Redis grants (a lost state, calls Redis never saw), one line per account, sorted; empty when nothing does.
    public var budgetHolds: [String] {
        let now = ContinuousClock.now
        return state.withLock { state in
            state.holds.sorted { $0.key < $1.key }.compactMap { account, hold in
                if let blocked = hold.blocked, blocked > now {
                    return
                        "budget of \(account): no upstream call for \(Self.seconds(blocked - now)) s (calls Redis may have lost must leave their windows)"
                }
                if let share = hold.share, share > now {
                    return
                        "budget of \(account): this replica's share only for \(Self.seconds(share - now)) s (calls Redis never saw may be in a window)"
                }
                return nil
            }
        }
    }

    /// Redis answered for the budget of `account` (named by its workspaces): no grant before `blocked`, only this replica's share before `share`.
    public func budgetHeld(_ account: String, blocked: ContinuousClock.Instant?, share: ContinuousClock.Instant?) {
        state.withLock { $0.holds[account] = BudgetHold(blocked: blocked, share: share) }
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

    private static func seconds(_ duration: Duration) -> Int64 {
        duration.components.seconds + (duration.components.attoseconds > 0 ? 1 : 0)
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
