import CoreMetrics
import GatewayCore
import LockedState

/// Each caller's requests in flight over every transport, at most `limits.max_in_flight_per_caller`
/// at once: one noisy service cannot take every worker; past it the request is answered -32029
/// (HTTP 429 with `Retry-After`) at once and counted.
final class CallerInFlightLimit: Sendable {
    private let maximum: Int
    private let counts = Locked<[String: Int]>([:])
    private let refusals: [String: Counter]

    /// A limit of `maximum` requests per caller, refusals counted by caller (`callers` from the first scrape).
    init(maximum: Int, callers: [String], metrics: GatewayMetrics) {
        self.maximum = maximum
        refusals = Dictionary(
            uniqueKeysWithValues: callers.map {
                ($0, Counter(label: MetricCatalog.callerInFlightRefusals.name, dimensions: [("caller", $0)], factory: metrics.factory))
            })
    }

    /// Runs `body` as one of `caller`'s requests in flight; -32029 instead when it has the most already.
    func run<Value>(caller: String, _ body: () async -> Value) async -> Result<Value, GatewayError> {
        let admitted = counts.withLock { counts -> Bool in
            guard counts[caller, default: 0] < maximum else { return false }
            counts[caller, default: 0] += 1
            return true
        }
        guard admitted else {
            refusals[caller]?.increment()
            return .failure(.callerBusy(caller: caller, limit: maximum))
        }
        defer {
            counts.withLock { counts in
                let left = counts[caller, default: 1] - 1
                counts[caller] = left == 0 ? nil : left
            }
        }
        return .success(await body())
    }
}
