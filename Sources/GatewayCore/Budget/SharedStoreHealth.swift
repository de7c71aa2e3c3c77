import CoreMetrics
import LockedState
import Logging

/// Whether the shared store (Redis) is usable, as every replica-shared component saw it last:
/// one log line per transition, a gauge (`gateway_redis_degraded`, 1 while degraded), and the
/// state `/readyz` reports.
public final class SharedStoreHealth: Sendable {
    private struct State {
        var degraded = false
        var reason: String?
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

    /// Whether the last use of the store failed.
    public var isDegraded: Bool { state.withLock(\.degraded) }

    /// Why the store is degraded (the last failure, never a secret), or nil while shared.
    public var degradedReason: String? { state.withLock { $0.degraded ? $0.reason : nil } }

    /// A use of the store failed: degraded from now (logged once per transition).
    public func failed(_ reason: String) {
        let changed = state.withLock { state -> Bool in
            defer {
                state.degraded = true
                state.reason = reason
            }
            return !state.degraded
        }
        guard changed else { return }
        gauge.record(1)
        logger.error("redis unavailable: degraded to per-replica budget shares and the local cache", metadata: ["reason": "\(reason)"])
    }

    /// A use of the store succeeded: shared again (logged once per transition).
    public func recovered() {
        let changed = state.withLock { state -> Bool in
            defer { state.degraded = false }
            return state.degraded
        }
        guard changed else { return }
        gauge.record(0)
        logger.notice("redis reachable again: shared budget and cache")
    }
}
