import Dates
import DynamicJSON
import GatewayConfig

/// Serves `campaigns.getStats`: plans the upstream calls, runs them concurrently, folds the answers.
///
/// This version serves one window (≤30 days) for any number of ids, or every campaign of the
/// window; longer spans answer -32013 until the multi-window merge lands.
public struct StatsService: Sendable {
    /// MoEngage's stats endpoint.
    public static let statsPath = "/core-services/v1/campaign-stats"

    private let client: MoEngageClient
    private let limits: LimitsConfiguration

    /// Creates the service.
    public init(client: MoEngageClient, limits: LimitsConfiguration) {
        self.client = client
        self.limits = limits
    }

    /// Answers one validated request for one workspace.
    public func getStats(_ params: GetStatsParams, workspace: UpstreamWorkspace, context: CallContext) async throws -> JSON {
        guard workspace.configuration.provider == .moengage else {
            throw GatewayError.invalidParams(field: "workspace", reason: "provider \(workspace.configuration.provider.rawValue) is not served by campaigns.getStats yet")
        }
        guard params.view == "full" else { throw GatewayError.invalidParams(field: "view", reason: "view \"summary\" is not served yet") }
        guard let range = params.range else { throw GatewayError.invalidParams(field: "start_date", reason: "required for a moengage workspace") }
        let plan = StatsPlan(range: range, ids: params.campaignIDs)
        if params.dryRun {
            return planDescription(plan, params: params, workspace: workspace)
        }
        guard plan.windows.count == 1 else {
            throw GatewayError.planTooLarge(
                estimatedCalls: plan.estimatedCalls, limit: limits.maxUpstreamCallsPerRequest,
                reason: "spans over \(StatsPlan.maxWindowDays) days are not served yet")
        }
        guard plan.estimatedCalls <= limits.maxUpstreamCallsPerRequest else {
            throw GatewayError.planTooLarge(estimatedCalls: plan.estimatedCalls, limit: limits.maxUpstreamCallsPerRequest)
        }
        let window = plan.windows[0]
        let fetched = try await withDeadline(context.deadline) { [self] in
            plan.isAllCampaigns
                ? try await fetchAllCampaigns(window: window, params: params, workspace: workspace, context: context)
                : try await fetchChunks(plan.idChunks, window: window, params: params, workspace: workspace, context: context)
        }
        let missing = params.campaignIDs.filter { fetched.campaigns[$0] == nil }
        return [
            "workspace": .string(workspace.name), "start_date": .string(range.start.iso), "end_date": .string(range.end.iso),
            "attribution_type": .string(params.attribution), "metric_type": .string(params.metric),
            "windows": .array(plan.windows.map(Self.windowJSON)),
            "campaigns": .object(fetched.campaigns),
            "missing": .array(missing.map(JSON.string)),
            "upstream": ["calls": .int(fetched.calls), "cache_hits": 0, "coalesced": 0],
            "stale": false,
        ]
    }

    private struct Fetched: Sendable {
        var campaigns: [String: JSON] = [:]
        var calls = 0
        var totalCampaigns = 0

        mutating func absorb(_ other: Fetched) {
            campaigns.merge(other.campaigns) { first, _ in first }
            calls += other.calls
        }
    }

    private func fetchChunks(_ chunks: [[String]], window: DayRange, params: GetStatsParams, workspace: UpstreamWorkspace, context: CallContext)
        async throws -> Fetched
    {
        try await withThrowingTaskGroup(of: Fetched.self) { group in
            for chunk in chunks {
                group.addTask {
                    try await fetchPage(ids: chunk, offset: 0, window: window, params: params, workspace: workspace, context: context)
                }
            }
            var result = Fetched()
            for try await page in group { result.absorb(page) }
            return result
        }
    }

    private func fetchAllCampaigns(window: DayRange, params: GetStatsParams, workspace: UpstreamWorkspace, context: CallContext) async throws
        -> Fetched
    {
        var result = try await fetchPage(ids: nil, offset: 0, window: window, params: params, workspace: workspace, context: context)
        let pages = (result.totalCampaigns + StatsPlan.maxIDsPerCall - 1) / StatsPlan.maxIDsPerCall
        guard pages <= limits.maxUpstreamCallsPerRequest else {
            throw GatewayError.planTooLarge(estimatedCalls: pages, limit: limits.maxUpstreamCallsPerRequest)
        }
        try await withThrowingTaskGroup(of: Fetched.self) { group in
            for page in Swift.stride(from: 1, to: pages, by: 1) {
                group.addTask {
                    try await fetchPage(
                        ids: nil, offset: page * StatsPlan.maxIDsPerCall, window: window, params: params, workspace: workspace, context: context)
                }
            }
            for try await page in group { result.absorb(page) }
        }
        return result
    }

    private func fetchPage(ids: [String]?, offset: Int, window: DayRange, params: GetStatsParams, workspace: UpstreamWorkspace, context: CallContext)
        async throws -> Fetched
    {
        var body: [String: JSON] = [
            "request_id": .string(context.requestID), "start_date": .string(window.start.iso), "end_date": .string(window.end.iso),
            "attribution_type": .string(params.attribution), "metric_type": .string(params.metric),
            "offset": .int(offset), "limit": .int(StatsPlan.maxIDsPerCall),
        ]
        if let ids { body["campaign_ids"] = .array(ids.map(JSON.string)) }
        let answer = try await client.post(path: Self.statsPath, body: .object(body), workspace: workspace, context: context)
        guard let data = answer["data"]?.objectValue else {
            throw GatewayError.upstreamFailed(status: 200, reason: "the upstream answer has no data object")
        }
        var fetched = Fetched(calls: 1, totalCampaigns: answer["total_campaigns"]?.intValue ?? 0)
        for (id, elements) in data {
            guard let list = elements.arrayValue else {
                throw GatewayError.upstreamFailed(status: 200, reason: "the upstream data for a campaign is not a list")
            }
            fetched.campaigns[id] = StatsFold.fold(list)
        }
        return fetched
    }

    private func planDescription(_ plan: StatsPlan, params: GetStatsParams, workspace: UpstreamWorkspace) -> JSON {
        [
            "workspace": .string(workspace.name), "dry_run": true,
            "windows": .array(plan.windows.map(Self.windowJSON)),
            "plan": [
                "estimated_calls": .int(plan.estimatedCalls), "all_campaigns": .bool(plan.isAllCampaigns),
                "id_chunks": .int(plan.idChunks.count), "cache_hits": 0,
            ],
        ]
    }

    private static func windowJSON(_ window: DayRange) -> JSON {
        ["start_date": .string(window.start.iso), "end_date": .string(window.end.iso)]
    }
}
