import CurlHTTP
import DynamicJSON
import Foundation

extension StatsService {
    /// Migma's stats endpoint, one campaign per call.
    static let migmaStatsEndpoint = "/v1/campaigns/{id}/stats"

    /// `campaigns.getStats` on a Migma workspace: one `GET /v1/campaigns/{id}/stats` per uncached id,
    /// concurrently within the budget, cached and coalesced per campaign; a 404 puts the id in `missing`.
    /// Dates are optional and ignored (`windows: []`); `campaigns[id]` is Migma's stats object.
    func migmaStats(_ params: GetStatsParams, workspace: UpstreamWorkspace, context: CallContext) async throws -> JSONDocument {
        guard !params.campaignIDs.isEmpty else {
            throw GatewayError.invalidParams(field: "campaign_ids", reason: "required for a migma workspace (Migma has no campaign listing)")
        }
        let request = StatsRequest(params: params, workspace: workspace, plan: StatsPlan(perCampaignIDs: params.campaignIDs), context: context)
        let scope = CallScope(workspace: workspace.name, operation: "migma-stats")
        let lookup = await fetcher.lookup(params.campaignIDs, scope: scope)
        try await checkAffordable(lookup.needed.count, request: request)
        if params.dryRun { return .value(await planOnly(request, estimatedCalls: lookup.needed.count, cacheHits: lookup.hits)) }
        let fetched = try await fetcher.fetch(lookup, scope: scope, chunkSize: 1, ttl: { [fresh = ttlPolicy.fresh] _ in fresh }, context: context) {
            [upstream] ids, context in
            // Campaign ids are `[A-Za-z0-9_-]` (GetStatsParams), so the id is one safe path segment.
            let id = ids[0]
            let outcome = try await upstream.call(
                UpstreamRequest(method: "GET", path: "/v1/campaigns/\(id)/stats", endpoint: Self.migmaStatsEndpoint), workspace: workspace,
                context: context, accepting: [200, 404], decode: Self.migmaStatsObject)
            return ItemsAnswer(values: outcome.value.map { [id: $0] } ?? [:], calls: outcome.calls)
        }
        let values = fetched.values
        let campaigns: JSONDocument =
            params.view == "summary"
            ? .value(.object(try values.mapValues { StatsSummary.migma(try $0.decoded(), metric: params.metric) }))
            : .object(values.mapValues(JSONDocument.encoded))
        var answer: [String: JSONDocument] = [
            "workspace": .value(.string(workspace.name)), "start_date": .value(params.range.map { .string($0.start.iso) } ?? .null),
            "end_date": .value(params.range.map { .string($0.end.iso) } ?? .null),
            "attribution_type": .value(.string(params.attribution)), "metric_type": .value(.string(params.metric)), "windows": .value([]),
            "campaigns": campaigns, "missing": .value(.array(params.campaignIDs.filter { values[$0] == nil }.map(JSON.string))),
            "upstream": .value(fetched.usage.json),
        ]
        Staleness.mark(&answer, fetched.staleness)
        return .object(answer)
    }

    /// Migma's `data` object from a 200, or nil for a 404 (unknown campaign).
    static func migmaStatsObject(_ response: HTTPClientResponse) throws -> JSON? {
        guard response.status == 200 else { return nil }
        let json = try UpstreamClient.json(response)
        guard let data = json["data"], data.objectValue != nil else {
            throw UpstreamCallError(
                gatewayError: .upstreamFailed(status: 200, reason: "the Migma answer has no data object"), status: 0, retryAfter: nil)
        }
        return data
    }
}
