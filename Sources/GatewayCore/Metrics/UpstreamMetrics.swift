import CoreMetrics

/// Upstream calls by workspace, endpoint and status class, their latency, retries and the 429s
/// received; every series exists (at zero) from start-up for each workspace's endpoints (`prime`).
public struct UpstreamMetrics: Sendable {
    /// What a call's `status_class` can be: an answer's HTTP status class, or `error` when none came.
    static let statusClasses = ["2xx", "3xx", "4xx", "5xx", "error"]
    private let factory: any MetricsFactory

    /// Records into `factory`.
    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Makes the series of every workspace name and its provider's endpoints (zero until counted).
    public func prime(_ endpoints: [(workspace: String, endpoints: [String])]) {
        for (workspace, names) in endpoints {
            for endpoint in names {
                for statusClass in Self.statusClasses { _ = calls(workspace, endpoint, statusClass) }
                _ = latency(workspace, endpoint)
                _ = retries(workspace, endpoint)
            }
            _ = rateLimited(workspace)
        }
    }

    /// Counts one call to `endpoint` that took `duration` and answered `status` (nil: no answer).
    public func record(workspace: String, endpoint: String, status: Int?, duration: Duration) {
        let statusClass = status.map { (200...599).contains($0) ? "\($0 / 100)xx" : "error" } ?? "error"
        calls(workspace, endpoint, statusClass).increment()
        latency(workspace, endpoint).recordNanoseconds(duration.wholeNanoseconds)
        if status == 429 { rateLimited(workspace).increment() }
    }

    /// Counts one retry of a call to `endpoint`.
    public func retried(workspace: String, endpoint: String) {
        retries(workspace, endpoint).increment()
    }

    private func calls(_ workspace: String, _ endpoint: String, _ statusClass: String) -> Counter {
        Counter(
            label: MetricCatalog.upstreamCalls.name,
            dimensions: [("workspace", workspace), ("endpoint", endpoint), ("status_class", statusClass)], factory: factory)
    }

    private func latency(_ workspace: String, _ endpoint: String) -> Timer {
        Timer(label: MetricCatalog.upstreamDuration.name, dimensions: [("workspace", workspace), ("endpoint", endpoint)], factory: factory)
    }

    private func retries(_ workspace: String, _ endpoint: String) -> Counter {
        Counter(label: MetricCatalog.upstreamRetries.name, dimensions: [("workspace", workspace), ("endpoint", endpoint)], factory: factory)
    }

    private func rateLimited(_ workspace: String) -> Counter {
        Counter(label: MetricCatalog.upstreamRateLimited.name, dimensions: [("workspace", workspace)], factory: factory)
    }
}
