import DynamicJSON
import GatewayConfig
import GatewayCore

/// The gateway's methods, wired to the services that serve them.
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

    private static func getDaily(_ reports: DailyReportService, workspaces: WorkspaceDirectory, limits: LimitsConfiguration) -> RPCMethod {
        let date: JSON = ["type": "string", "format": "date", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"]
        return RPCMethod(
            name: "reports.getDaily", connectPath: "/gateway.v1.ReportService/GetDaily",
            summary: "MoEngage daily campaign reports, signed, downloaded, unzipped and parsed in the gateway; one upstream call per day.",
            parameters: [
                .init(name: "workspace", schema: ["type": "string"], required: false, summary: "Configured MoEngage workspace with a secret key."),
                .init(name: "date", schema: date, required: false, summary: "One day, YYYY-MM-DD (or start_date and end_date)."),
                .init(name: "start_date", schema: date, required: false, summary: "First day, included."),
                .init(
                    name: "end_date", schema: date, required: false,
                    summary: "Last day, included; span at most daily_report_span_days (\(limits.dailyReportSpanDays))."),
                .init(name: "dry_run", schema: ["type": "boolean", "default": false], required: false, summary: "Return the plan; spend nothing."),
                .init(
                    name: "timeout_ms", schema: ["type": "integer", "minimum": 1, "maximum": .int(CallContext.maxTimeoutMs)], required: false,
                    summary: "Deadline."),
            ],
            resultSchema: [
                "type": "object", "required": ["workspace", "days", "upstream"],
                "properties": [
                    "days": [
                        "type": "array", "description": "Per day in order: {date, columns, rows}, or {date, error} when the day has no report.",
                    ],
                    "upstream": ["type": "object", "description": "calls, cache_hits, coalesced."],
                ],
            ],
            errorCodes: upstreamErrors, isPublic: false,
            handler: { params, context in
                let parsed = try GetDailyParams.parse(params, limits: limits)
                let workspace = try workspaces.resolve(parsed.workspace, for: context.caller)
                return try await reports.getDaily(parsed, workspace: workspace, context: context)
            })
    }

    /// The errors every upstream-backed method may answer.
    private static let upstreamErrors = [-32602, -32003, -32013, -32029, -32050, -32004]

    private static func listCampaigns(_ campaigns: CampaignListService, workspaces: WorkspaceDirectory) -> RPCMethod {
        let strings: JSON = ["type": "array", "items": ["type": "string"]]
        let date: JSON = ["type": "string", "format": "date", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"]
        return RPCMethod(
            name: "campaigns.list", connectPath: "/gateway.v1.CampaignService/List",
            summary: "Campaign metadata and reachability (MoEngage), every page walked, children grouped under their parents.",
            parameters: [
                .init(
                    name: "workspace", schema: ["type": "string"], required: false,
                    summary: "Configured MoEngage workspace; optional when the caller may use exactly one."),
                .init(
                    name: "campaign_ids", schema: strings, required: false,
                    summary: "Only these campaigns (served per id or by list-and-filter, whichever costs fewer calls)."),
                .init(name: "channels", schema: strings, required: false, summary: "Channel filter, e.g. EMAIL, PUSH."),
                .init(name: "status", schema: strings, required: false, summary: "Status filter, e.g. SCHEDULED."),
                .init(name: "delivery_type", schema: strings, required: false, summary: "Delivery type filter, e.g. ONE_TIME, PERIODIC."),
                .init(name: "created_by", schema: strings, required: false, summary: "Creator e-mail filter."),
                .init(name: "tags", schema: strings, required: false, summary: "Tag filter."),
                .init(name: "name", schema: ["type": "string"], required: false, summary: "Name filter."),
                .init(
                    name: "created_from", schema: date, required: false,
                    summary: "Created on or after, YYYY-MM-DD (with created_to; sent upstream as DD-MM-YYYY)."),
                .init(name: "created_to", schema: date, required: false, summary: "Created on or before, YYYY-MM-DD (with created_from)."),
                .init(
                    name: "include_child_campaigns", schema: ["type": "boolean", "default": false], required: false,
                    summary: "List child campaigns too."),
                .init(
                    name: "dry_run", schema: ["type": "boolean", "default": false], required: false,
                    summary: "Return the plan (strategy, estimated calls); spend nothing."),
                .init(
                    name: "timeout_ms", schema: ["type": "integer", "minimum": 1, "maximum": .int(CallContext.maxTimeoutMs)], required: false,
                    summary: "Deadline."),
            ],
            resultSchema: [
                "type": "object", "required": ["workspace", "campaigns", "upstream"],
                "properties": [
                    "campaigns": [
                        "type": "array",
                        "description": "Upstream campaign objects, flat; children keep parent_campaign_id; parents present get children: [ids].",
                    ],
                    "upstream": ["type": "object", "description": "calls, cache_hits, coalesced."],
                ],
            ],
            errorCodes: upstreamErrors, isPublic: false,
            handler: { params, context in
                let parsed = try ListCampaignsParams.parse(params)
                let workspace = try workspaces.resolve(parsed.workspace, for: context.caller)
                return .value(try await campaigns.list(parsed, workspace: workspace, context: context))
            })
    }

    private static func getStats(stats: StatsService, workspaces: WorkspaceDirectory, limits: LimitsConfiguration) -> RPCMethod {
        @Sendable func prepare(_ params: JSON?, _ context: CallContext) throws -> (GetStatsParams, UpstreamWorkspace) {
            let parsed = try GetStatsParams.parse(params, limits: limits)
            return (parsed, try workspaces.resolve(parsed.workspace, for: context.caller))
        }
        let date: JSON = ["type": "string", "format": "date", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"]
        return RPCMethod(
            name: "campaigns.getStats", connectPath: "/gateway.v1.CampaignService/GetStats",
            summary: "Campaign stats for any ids over any span, from the fewest upstream calls.",
            parameters: [
                .init(
                    name: "workspace", schema: ["type": "string"], required: false,
                    summary: "Configured workspace; optional when the caller may use exactly one."),
                .init(
                    name: "campaign_ids", schema: ["type": "array", "items": ["type": "string"], "maxItems": .int(limits.maxCampaignIDs)],
                    required: false, summary: "Campaign ids (duplicates sent once); absent or empty = every campaign of the range."),
                .init(name: "start_date", schema: date, required: true, summary: "First day, YYYY-MM-DD, included."),
                .init(name: "end_date", schema: date, required: true, summary: "Last day, YYYY-MM-DD, included; span at most max_span_days."),
                .init(
                    name: "attribution_type",
                    schema: ["type": "string", "enum": .array(GetStatsParams.attributionTypes.map(JSON.string)), "default": "VIEW_THROUGH"],
                    required: false, summary: "MoEngage attribution type."),
                .init(
                    name: "metric_type", schema: ["type": "string", "enum": ["TOTAL", "UNIQUE"], "default": "TOTAL"], required: false,
                    summary: "TOTAL (additive) or UNIQUE (not additive across windows)."),
                .init(
                    name: "view", schema: ["type": "string", "enum": ["full", "summary"], "default": "full"], required: false,
                    summary: "full upstream shape, or summary figures."),
                .init(name: "dry_run", schema: ["type": "boolean", "default": false], required: false, summary: "Return the plan; spend nothing."),
                .init(
                    name: "timeout_ms", schema: ["type": "integer", "minimum": 1, "maximum": .int(CallContext.maxTimeoutMs)], required: false,
                    summary: "Deadline; else Connect-Timeout-Ms; else the configured default."),
            ],
            resultSchema: [
                "type": "object",
                "required": [
                    "workspace", "start_date", "end_date", "attribution_type", "metric_type", "windows", "campaigns", "missing", "upstream", "stale",
                ],
                "properties": [
                    "windows": ["type": "array", "description": "The ≤30-day windows used, in order."],
                    "campaigns": ["type": ["object", "null"], "description": "Per campaign id: the folded upstream tree {platforms: …}."],
                    "by_window": ["type": "array", "description": "Per-window figures; present only when there is more than one window."],
                    "missing": ["type": "array", "description": "Ids asked for that the upstream had nothing for."],
                    "upstream": ["type": "object", "description": "calls, cache_hits, coalesced."],
                    "stale": [
                        "type": "boolean", "description": "True (with stale_age_s) when served from an expired entry after an upstream failure.",
                    ],
                    "stale_age_s": ["type": "integer", "description": "Seconds since the stale entry was fetched."],
                    "dry_run": ["type": "boolean", "description": "Present and true for a plan-only answer."],
                    "plan": [
                        "type": "object",
                        "description":
                            "dry_run only: estimated_calls (after the cache), cache_hits, all_campaigns, id_chunks, limit, earliest_completion_ms.",
                    ],
                ],
            ],
            errorCodes: upstreamErrors,
            isPublic: false,
            handler: { params, context in
                let (parsed, workspace) = try prepare(params, context)
                return try await stats.getStats(parsed, workspace: workspace, context: context)
            },
            cachedAnswer: { params, context in
                let (parsed, workspace) = try prepare(params, context)
                return stats.cachedAnswer(parsed, workspace: workspace)
            })
    }
}
