import CurlHTTP
import DynamicJSON
import Foundation

extension StatsService {
    /// `campaigns.getStats` on a Migma workspace: one `GET /v1/campaigns/{id}/stats` per uncached id,
    /// concurrently within the budget, cached and coalesced per campaign; a 404 puts the id in `missing`.
    /// Dates are optional and ignored (`windows: []`); `campaigns[id]` is Migma's stats object.
    func migmaStats(_ params: GetStatsParams, workspace: UpstreamWorkspace, context: CallContext) async throws -> JSONDocument {
        guard !params.campaignIDs.isEmpty else {
            throw GatewayError.invalidParams(field: "campaign_ids", reason: "required for a migma workspace (Migma has no campaign listing)")
        }
        let request = StatsRequest(params: params, workspace: workspace, plan: StatsPlan(perCampaignIDs: params.campaignIDs), context: context)
        let work = ItemWork(
            scope: CallScope(workspace: workspace.name, operation: "migma-stats"), items: params.campaignIDs, chunkSize: 1,
            ttl: { [fresh = ttlPolicy.fresh] _ in fresh }
        ) { [upstream] ids, context in
            let id = ids[0]
            let outcome = try await upstream.call(
                UpstreamRequest(method: "GET", path: MigmaAdapter.statsPath(of: id), endpoint: MigmaAdapter.statsEndpoint), workspace: workspace,
                context: context, accepting: [200, 404], decode: MigmaAdapter.statsObject)
            return ItemsAnswer(values: outcome.value.map { [id: $0] } ?? [:], calls: outcome.calls)
        }
        let results: ItemResults
        switch try await path.executor.run([work], workspace: workspace.name, context: context, dryRun: params.dryRun) {
        case .planned(let plan): return .value(planOnly(request, plan))
        case .done(let done): results = done
        }
        let values = results.values[0]
        let campaigns: JSONDocument =
            params.view == "summary"
            ? .value(.object(try values.mapValues { StatsSummary.migma(try $0.decoded(), metric: params.metric) }))
            : .object(values.mapValues(JSONDocument.encoded))
        var answer: [String: JSONDocument] = [
            "workspace": .value(.string(workspace.name)), "start_date": .value(params.range.map { .string($0.start.iso) } ?? .null),
            "end_date": .value(params.range.map { .string($0.end.iso) } ?? .null),
            "attribution_type": .value(.string(params.attribution)), "metric_type": .value(.string(params.metric)), "windows": .value([]),
            "campaigns": campaigns, "missing": .value(.array(params.campaignIDs.filter { values[$0] == nil }.map(JSON.string))),
        ]
        results.mark(&answer)
        return .object(answer)
    }
}
