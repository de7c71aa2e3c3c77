import CoreMetrics

/// Background work as an operator watches it: jobs by state, jobs running, their upstream calls,
/// refreshes ahead of expiry and the reads they served; every series exists from start-up.
public struct BackgroundMetrics: Sendable {
    private let factory: any MetricsFactory
    private let running: Meter
    private let jobCalls: Counter
    /// Reads that found an entry refreshed ahead.
    public let refreshHits: Counter

    /// Records into `factory`.
    public init(factory: any MetricsFactory) {
        self.factory = factory
        running = Meter(label: MetricCatalog.jobsRunning.name, factory: factory)
        running.set(0)
        jobCalls = Counter(label: MetricCatalog.jobCalls.name, factory: factory)
        refreshHits = Counter(label: MetricCatalog.refreshHits.name, factory: factory)
        for state in JobState.allCases { _ = jobs(state) }
        for outcome in ["ok", "failed"] { _ = refreshes(outcome) }
    }

    /// Counts a job reaching `state` here.
    public func job(_ state: JobState) {
        jobs(state).increment()
    }

    /// Counts `body`'s job as running here while it runs.
    public func running<T>(_ body: () async -> T) async -> T {
        running.increment()
        defer { running.decrement() }
        return await body()
    }

    /// Counts `calls` upstream calls made for jobs.
    public func jobCalls(_ calls: Int) {
        if calls > 0 { jobCalls.increment(by: Int64(calls)) }
    }

    /// Counts a refresh ahead of expiry that succeeded (or not).
    public func refreshed(ok: Bool) {
        refreshes(ok ? "ok" : "failed").increment()
    }

    private func jobs(_ state: JobState) -> Counter {
        Counter(label: MetricCatalog.jobs.name, dimensions: [("state", state.rawValue)], factory: factory)
    }

    private func refreshes(_ outcome: String) -> Counter {
        Counter(label: MetricCatalog.refreshes.name, dimensions: [("outcome", outcome)], factory: factory)
    }
}
