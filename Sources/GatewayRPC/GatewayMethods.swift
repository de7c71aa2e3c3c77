import DynamicJSON
import GatewayConfig
import GatewayCore
import GatewayProto

extension Gateway_V1_GetStatsRequest: DeadlineCarrying {}
extension Gateway_V1_ListCampaignsRequest: DeadlineCarrying {}
extension Gateway_V1_GetDailyRequest: DeadlineCarrying {}

/// The gateway's methods: each JSON-RPC name bound to its RPC in the .proto files and to the service that serves it.
enum GatewayMethods {
    /// The services behind the methods.
    struct Services {
        var stats: StatsService
        var campaigns: CampaignListService
        var reports: DailyReportService
    }

    static func all(_ services: Services, workspaces: WorkspaceDirectory, limits: LimitsConfiguration) -> [RPCMethod] {
        [
            getStats(stats: services.stats, workspaces: workspaces, limits: limits), listCampaigns(services.campaigns, workspaces: workspaces),
            getDaily(services.reports, workspaces: workspaces, limits: limits),
        ]
    }

    /// The errors every upstream-backed method may answer.
    private static let upstreamErrors = [-32602, -32003, -32013, -32029, -32050, -32004]

    private static func getDaily(_ reports: DailyReportService, workspaces: WorkspaceDirectory, limits: LimitsConfiguration) -> RPCMethod {
        RPCMethod(
            name: "reports.getDaily", rpcPath: "/gateway.v1.ReportService/GetDaily", request: Gateway_V1_GetDailyRequest.self,
            response: Gateway_V1_GetDailyResponse.self, errorCodes: upstreamErrors, isPublic: false,
            handler: { request, context in
                let parsed = try GetDailyParams.parse(request, limits: limits)
                let workspace = try workspaces.resolve(parsed.workspace, for: context.caller)
                return try await reports.getDaily(parsed, workspace: workspace, context: context)
            })
    }

    private static func listCampaigns(_ campaigns: CampaignListService, workspaces: WorkspaceDirectory) -> RPCMethod {
        RPCMethod(
            name: "campaigns.list", rpcPath: "/gateway.v1.CampaignService/List", request: Gateway_V1_ListCampaignsRequest.self,
            response: Gateway_V1_ListCampaignsResponse.self, errorCodes: upstreamErrors, isPublic: false,
            handler: { request, context in
                let parsed = try ListCampaignsParams.parse(request)
                let workspace = try workspaces.resolve(parsed.workspace, for: context.caller)
                let listed = try await campaigns.list(parsed, workspace: workspace, context: context)
                return .value(listed)
            })
    }

    private static func getStats(stats: StatsService, workspaces: WorkspaceDirectory, limits: LimitsConfiguration) -> RPCMethod {
        @Sendable func prepare(_ request: Gateway_V1_GetStatsRequest, _ context: CallContext) throws -> (GetStatsParams, UpstreamWorkspace) {
            let parsed = try GetStatsParams.parse(request, limits: limits)
            return (parsed, try workspaces.resolve(parsed.workspace, for: context.caller))
        }
        return RPCMethod(
            name: "campaigns.getStats", rpcPath: "/gateway.v1.CampaignService/GetStats", request: Gateway_V1_GetStatsRequest.self,
            response: Gateway_V1_GetStatsResponse.self, errorCodes: upstreamErrors, isPublic: false,
            handler: { request, context in
                let (parsed, workspace) = try prepare(request, context)
                return try await stats.getStats(parsed, workspace: workspace, context: context)
            },
            cachedAnswer: { request, context in
                let (parsed, workspace) = try prepare(request, context)
                return stats.cachedAnswer(parsed, workspace: workspace)
            })
    }
}
