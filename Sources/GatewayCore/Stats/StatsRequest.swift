import Dates
import DynamicJSON

/// One getStats request as the service works on it: params, workspace, plan, call context.
struct StatsRequest: Sendable {
    let params: GetStatsParams
    let workspace: UpstreamWorkspace
    let plan: StatsPlan
    let context: CallContext

    /// The cache key of one campaign in one window of this request.
    func cacheKey(_ id: String, window: DayRange) -> StatsCacheKey {
        StatsCacheKey(workspace: workspace.name, campaignID: id, window: window, attribution: params.attribution, metric: params.metric)
    }

    /// The coalescing key of one window of this request.
    func windowKey(_ window: DayRange) -> StatsWindowKey {
        StatsWindowKey(workspace: workspace.name, window: window, attribution: params.attribution, metric: params.metric)
    }
}

/// What a request cost upstream, as `upstream` in the answer.
struct UpstreamUsage: Sendable {
    var calls = 0
    var cacheHits = 0
    var coalesced = 0

    mutating func absorb(_ other: UpstreamUsage) {
        calls += other.calls
        cacheHits += other.cacheHits
        coalesced += other.coalesced
    }
}

/// The figures of one window fetch: campaigns, cost, and the age of any stale entry served.
struct WindowFetch: Sendable {
    var campaigns: [String: JSON] = [:]
    var usage = UpstreamUsage()
    var staleAge: Duration?
}

/// Everything gathered for a request: per-window figures by campaign id, cost, staleness.
struct CollectedStats: Sendable {
    let windows: [DayRange]
    var windowFigures: [[String: JSON]]
    var upstream = UpstreamUsage()
    var staleAge: Duration?

    init(windows: [DayRange]) {
        self.windows = windows
        self.windowFigures = Array(repeating: [:], count: windows.count)
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var wholeMilliseconds: Int {
        Int(components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000)
    }
}
