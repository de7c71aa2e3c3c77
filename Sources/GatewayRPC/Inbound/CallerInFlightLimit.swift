import CoreMetrics
import GatewayCore
import LockedState

/// Each caller's requests in flight over every transport, at most `limits.max_in_flight_per_caller`
/// at once: one noisy service cannot take every worker; past it the request is answered -32029
/// (HTTP 429 with `Retry-After`) at once and counted by caller.
final class CallerInFlightLimit: Sendable {
    private let state: Locked<(maximum: Int, counts: [String: Int])>
    private let factory: any MetricsFactory

    /// A limit of `maximum` requests per caller, refusals counted in `metrics`.
    init(maximum: Int, metrics: GatewayMetrics) {
        state = Locked((maximum, [:]))
        factory = metrics.factory
    }

    /// Limits to `maximum` from now on (requests in flight finish), with the refusal series of `callers`.
    func configure(maximum: Int, callers: [String]) {
        for caller in callers { _ = refusals(caller) }
        state.withLock { $0.maximum = maximum }
    }

    /// Runs `body` as one of `caller`'s requests in flight; -32029 instead when it has the most already.
    func run<Value>(caller: String, _ body: () async -> Value) async -> Result<Value, GatewayError> {
        let refusedAt = state.withLock { state -> Int? in
            guard state.counts[caller, default: 0] < state.maximum else { return state.maximum }
            state.counts[caller, default: 0] += 1
            return nil
        }
        if let refusedAt {
            refusals(caller).increment()
            return .failure(.callerBusy(caller: caller, limit: refusedAt))
        }
        defer {
            state.withLock { state in
                let left = state.counts[caller, default: 1] - 1
                state.counts[caller] = left == 0 ? nil : left
            }
        }
        let value = await body()
        return .success(value)
    }

    private func refusals(_ caller: String) -> Counter {
        Counter(label: MetricCatalog.callerInFlightRefusals.name, dimensions: [("caller", caller)], factory: factory)
    }
}
