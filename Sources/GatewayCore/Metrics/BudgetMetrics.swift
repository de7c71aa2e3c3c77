import CoreMetrics
import LockedState

/// The rate budget as an operator watches it, by workspace: grants and how long they were waited
/// for, -32029 refusals, and (set at each scrape, `observeWindows`) the calls counted in each
/// limit's current window beside the limit; every series exists from start-up (`prime`).
public struct BudgetMetrics: Sendable {
    /// One configured limit of a workspace.
    public struct Window: Sendable {
        /// The workspace's name.
        public var workspace: String
        /// The limit's calls.
        public var calls: Int
        /// The limit's period.
        public var period: Duration
        /// The `window` label: the period in seconds (`60s`, `1s`, `0.5s`).
        var label: String {
            let seconds = Double(period.wholeMilliseconds) / 1_000
            return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
        }

        /// A limit of `calls` per `period` of `workspace`.
        public init(workspace: String, calls: Int, period: Duration) {
            self.workspace = workspace
            self.calls = calls
            self.period = period
        }
    }

    private let factory: any MetricsFactory
    private let windows = Locked<[Window]>([])

    /// Records into `factory`.
    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Makes the series of `workspaces` and their configured limits, watched from now on.
    public func prime(workspaces upstream: [UpstreamWorkspace]) {
        let workspaces = upstream.map(\.name)
        let windows = upstream.flatMap { workspace in
            workspace.configuration.rateLimits.map {
                Window(workspace: workspace.name, calls: $0.calls, period: .milliseconds(Int64(($0.perSeconds * 1_000).rounded(.up))))
            }
        }
        for workspace in workspaces {
            for priority in BudgetPriority.allCases { _ = grants(workspace, priority) }
            _ = wait(workspace)
            _ = refusals(workspace)
        }
        for window in windows {
            Gauge(label: MetricCatalog.budgetWindowLimit.name, dimensions: dimensions(window), factory: factory).record(window.calls)
            Gauge(label: MetricCatalog.budgetWindowCalls.name, dimensions: dimensions(window), factory: factory).record(0)
        }
        self.windows.withLock { $0 = windows }
    }

    /// Counts a grant of `priority` for `workspace` that was waited for `waited`.
    public func granted(workspace: String, priority: BudgetPriority, waited: Duration) {
        grants(workspace, priority).increment()
        wait(workspace).recordNanoseconds(waited.wholeNanoseconds)
    }

    /// Counts a -32029 refusal for `workspace` (a plan refused, or a wait outlasting its deadline).
    public func refused(workspace: String) {
        refusals(workspace).increment()
    }

    /// Sets each limit's window gauge from `budget` (this process's calls: sum across replicas).
    public func observeWindows(of budget: any RateBudget) {
        for window in windows.withLock({ $0 }) {
            let calls = budget.callsInWindow(workspace: window.workspace, period: window.period)
            Gauge(label: MetricCatalog.budgetWindowCalls.name, dimensions: dimensions(window), factory: factory).record(calls)
        }
    }

    private func dimensions(_ window: Window) -> [(String, String)] {
        [("workspace", window.workspace), ("window", window.label)]
    }

    private func grants(_ workspace: String, _ priority: BudgetPriority) -> Counter {
        Counter(label: MetricCatalog.budgetGrants.name, dimensions: [("workspace", workspace), ("class", priority.rawValue)], factory: factory)
    }

    private func wait(_ workspace: String) -> Timer {
        Timer(label: MetricCatalog.budgetWait.name, dimensions: [("workspace", workspace)], factory: factory)
    }

    private func refusals(_ workspace: String) -> Counter {
        Counter(label: MetricCatalog.budgetRefusals.name, dimensions: [("workspace", workspace)], factory: factory)
    }
}
