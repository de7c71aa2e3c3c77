import CoreMetrics
import GatewayCore
import LockedState
import Prometheus

/// The gateway's Prometheus registry, and what sets its gauges of state at each scrape.
public struct GatewayMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    /// A swift-metrics factory writing into `registry`.
    public let factory: PrometheusMetricsFactory
    private let observers = Locked<[@Sendable () -> Void]>([])

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

    /// Runs `observe` before every scrape (it sets gauges of state: cache size, budget windows).
    func onScrape(_ observe: @escaping @Sendable () -> Void) {
        observers.withLock { $0.append(observe) }
    }

    /// Sets `campaign_gateway_build_info{version}` to 1.
    func recordBuild(version: String) {
        Gauge(label: MetricCatalog.buildInfo.name, dimensions: [("version", version)], factory: factory).record(1)
    }

    /// Sets `campaign_gateway_ready` (1 ready, 0 not: `/readyz`'s 503) from `problems` at each scrape.
    func observeReadiness(_ problems: @escaping @Sendable () -> [String]) {
        let ready = Gauge(label: MetricCatalog.ready.name, factory: factory)
        onScrape { ready.record(problems().isEmpty ? 1 : 0) }
    }

    /// The Prometheus text exposition of every metric, gauges of state as of now, each with its
    /// `# HELP` line from `MetricCatalog` (swift-metrics handles carry none).
    public func render() -> String {
        for observe in observers.withLock({ $0 }) { observe() }
        var text = ""
        for line in registry.emitToString().split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE "), let name = line.dropFirst(7).split(separator: " ").first, let help = Self.help[String(name)] {
                text += "# HELP \(name) \(help)\n"
            }
            text += line
            text += "\n"
        }
        return String(text.dropLast())
    }

    private static let help = Dictionary(uniqueKeysWithValues: MetricCatalog.all.map { ($0.name, $0.help) })
}

/// The per-call metrics, with every handle made once at start-up (and every series present, at
/// zero, from the first scrape): calls by method, caller and code, latency by method, and the
/// calls being answered now.
struct CallMetrics: Sendable {
    /// The caller label of requests that did not authenticate.
    static let unauthenticated = "unauthenticated"
    private let counters: [String: [String: [String: CoreMetrics.Counter]]]
    private let timers: [String: CoreMetrics.Timer]
    private let inFlight: CoreMetrics.Meter
    /// Calls answered whole from the answer cache.
    let answerCacheHits: CoreMetrics.Counter

    /// Handles for each of `methods` (plus `unknown`), each of `callers` (plus `unauthenticated`)
    /// and every answer code (`ok` and each `GatewayError.kind`).
    init(methods: [String], callers: [String], factory: any MetricsFactory) {
        let methodLabels = methods + ["unknown"]
        let codes = ["ok"] + GatewayError.kinds
        func counter(_ method: String, _ caller: String, _ code: String) -> CoreMetrics.Counter {
            CoreMetrics.Counter(
                label: MetricCatalog.requests.name, dimensions: [("method", method), ("caller", caller), ("code", code)], factory: factory)
        }
        counters = Dictionary(
            uniqueKeysWithValues: methodLabels.map { method in
                (
                    method,
                    Dictionary(
                        uniqueKeysWithValues: (callers + [Self.unauthenticated]).map { caller in
                            (caller, Dictionary(uniqueKeysWithValues: codes.map { ($0, counter(method, caller, $0)) }))
                        })
                )
            })
        timers = Dictionary(
            uniqueKeysWithValues: methodLabels.map {
                ($0, CoreMetrics.Timer(label: MetricCatalog.requestDuration.name, dimensions: [("method", $0)], factory: factory))
            })
        inFlight = CoreMetrics.Meter(label: MetricCatalog.requestsInFlight.name, factory: factory)
        inFlight.set(0)
        answerCacheHits = CoreMetrics.Counter(label: MetricCatalog.answerCacheHits.name, factory: factory)
    }

    /// Counts `body`'s call as being answered while it runs.
    func inFlight<T>(_ body: () async -> T) async -> T {
        inFlight.increment()
        defer { inFlight.decrement() }
        return await body()
    }

    /// Counts one call of `method` by `caller` answered with `code` (`ok` or a `GatewayError.kind`) and records its latency.
    func record(method: String, caller: String, code: String, duration: Duration) {
        counters[method]?[caller]?[code]?.increment()
        timers[method]?.recordNanoseconds(duration.wholeNanoseconds)
    }

    /// Counts a request refused because it did not authenticate.
    func recordUnauthenticated() {
        counters["unknown"]?[Self.unauthenticated]?[GatewayError.unauthenticated.kind]?.increment()
    }
}
