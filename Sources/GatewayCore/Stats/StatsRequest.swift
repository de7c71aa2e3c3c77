import Dates
import DynamicJSON

/// One getStats request as the service works on it: params, workspace, plan, call context.
struct StatsRequest: Sendable {
    let params: GetStatsParams
    let workspace: UpstreamWorkspace
    let plan: StatsPlan
    let context: CallContext

    /// The cache and coalescing scope of one window of this request; items are campaign ids.
    func scope(_ window: DayRange) -> CallScope {
        CallScope(workspace: workspace.name, operation: "stats \(params.attribution) \(params.metric) \(window)")
    }
}

/// Everything gathered for a request: per-window figures by campaign id, cost, staleness.
struct CollectedStats: Sendable {
    let windows: [DayRange]
    var windowFigures: [[String: EncodedJSON]]
    var upstream = UpstreamUsage()
    var staleness: Staleness?

    init(windows: [DayRange]) {
        self.windows = windows
        self.windowFigures = Array(repeating: [:], count: windows.count)
    }
}
