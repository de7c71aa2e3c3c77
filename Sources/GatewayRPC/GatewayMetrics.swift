import CoreMetrics
import GatewayCore
import Prometheus

/// The gateway's Prometheus registry and its request metrics.
public struct GatewayMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    /// A swift-metrics factory writing into `registry`.
    public let factory: PrometheusMetricsFactory

    /// Creates metrics over a fresh registry.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
        ]
        self.factory = factory
    }

    /// The Prometheus text exposition of every metric.
    public func render() -> String {
        registry.emitToString()
    }
}

/// The per-call metrics, with every handle made once at start-up (and every series present, at
/// zero, from the first scrape): calls by method and code, and latency by method.
struct CallMetrics: Sendable {
    private let counters: [String: [String: CoreMetrics.Counter]]
    private let timers: [String: CoreMetrics.Timer]

    /// Handles for each of `methods` (plus `unknown`) and every answer code (`ok` and each `GatewayError.kind`).
    init(methods: [String], factory: any MetricsFactory) {
        let labels = methods + ["unknown"]
        counters = Dictionary(
            uniqueKeysWithValues: labels.map { method in
                (
                    method,
                    Dictionary(
                        uniqueKeysWithValues: (["ok"] + GatewayError.kinds).map {
                            (
                                $0,
                                CoreMetrics.Counter(
                                    label: "gateway_requests_total", dimensions: [("method", method), ("code", $0)], factory: factory)
                            )
                        })
                )
            })
        timers = Dictionary(
            uniqueKeysWithValues: labels.map {
                ($0, CoreMetrics.Timer(label: "gateway_request_duration_seconds", dimensions: [("method", $0)], factory: factory))
            })
    }

    /// Counts one call of `method` answered with `code` (`ok` or a `GatewayError.kind`) and records its latency.
    func record(method: String, code: String, duration: Duration) {
        counters[method]?[code]?.increment()
        timers[method]?.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}
