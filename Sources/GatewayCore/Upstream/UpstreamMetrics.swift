import CoreMetrics

/// Counts upstream calls by endpoint and outcome (an HTTP status, or a transport failure kind).
public struct UpstreamMetrics: Sendable {
    private let factory: any MetricsFactory

    /// Records into `factory` (the Prometheus registry in production).
    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Counts one upstream call.
    public func record(endpoint: String, outcome: String) {
        Counter(label: "gateway_upstream_calls_total", dimensions: [("endpoint", endpoint), ("outcome", outcome)], factory: factory).increment()
    }
}
