import DynamicJSON
import GatewayConfig
import GatewayCore

/// The gateway's methods, wired to the services that serve them.
enum GatewayMethods {
    static func all(stats: StatsService, workspaces: WorkspaceDirectory, limits: LimitsConfiguration) -> [RPCMethod] {
        [getStats(stats: stats, workspaces: workspaces, limits: limits)]
    }

    private static func getStats(stats: StatsService, workspaces: WorkspaceDirectory, limits: LimitsConfiguration) -> RPCMethod {
        let date: JSON = ["type": "string", "format": "date", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"]
        return RPCMethod(
            name: "campaigns.getStats", connectPath: "/gateway.v1.CampaignService/GetStats",
            summary: "Campaign stats for any ids over any span, from the fewest upstream calls.",
            parameters: [
                .init(name: "workspace", schema: ["type": "string"], required: false, summary: "Configured workspace; optional when the caller may use exactly one."),
                .init(
                    name: "campaign_ids", schema: ["type": "array", "items": ["type": "string"], "maxItems": .int(limits.maxCampaignIDs)],
                    required: false, summary: "Campaign ids (duplicates sent once); absent or empty = every campaign of the range."),
                .init(name: "start_date", schema: date, required: true, summary: "First day, YYYY-MM-DD, included."),
                .init(name: "end_date", schema: date, required: true, summary: "Last day, YYYY-MM-DD, included; span at most max_span_days."),
                .init(
                    name: "attribution_type", schema: ["type": "string", "enum": .array(GetStatsParams.attributionTypes.map(JSON.string)), "default": "VIEW_THROUGH"],
                    required: false, summary: "MoEngage attribution type."),
                .init(
                    name: "metric_type", schema: ["type": "string", "enum": ["TOTAL", "UNIQUE"], "default": "TOTAL"], required: false,
                    summary: "TOTAL (additive) or UNIQUE (not additive across windows)."),
                .init(name: "view", schema: ["type": "string", "enum": ["full", "summary"], "default": "full"], required: false, summary: "full upstream shape, or summary figures."),
                .init(name: "dry_run", schema: ["type": "boolean", "default": false], required: false, summary: "Return the plan; spend nothing."),
                .init(name: "timeout_ms", schema: ["type": "integer", "minimum": 1, "maximum": 600_000], required: false, summary: "Deadline; else Connect-Timeout-Ms; else the configured default."),
            ],
            resultSchema: [
                "type": "object",
                "required": ["workspace", "start_date", "end_date", "attribution_type", "metric_type", "windows", "campaigns", "missing", "upstream", "stale"],
                "properties": [
                    "windows": ["type": "array", "description": "The ≤30-day windows used, in order."],
                    "campaigns": ["type": ["object", "null"], "description": "Per campaign id: the folded upstream tree {platforms: …}."],
                    "by_window": ["type": "array", "description": "Per-window figures; present only when there is more than one window."],
                    "missing": ["type": "array", "description": "Ids asked for that the upstream had nothing for."],
                    "upstream": ["type": "object", "description": "calls, cache_hits, coalesced."],
                    "stale": ["type": "boolean", "description": "True (with stale_age_s) when served from an expired entry after an upstream failure."],
                    "stale_age_s": ["type": "integer", "description": "Seconds since the stale entry was fetched."],
                    "dry_run": ["type": "boolean", "description": "Present and true for a plan-only answer."],
                    "plan": [
                        "type": "object",
                        "description": "dry_run only: estimated_calls (after the cache), cache_hits, all_campaigns, id_chunks, limit, earliest_completion_ms.",
                    ],
                ],
            ],
            errorCodes: [-32602, -32003, -32013, -32029, -32050, -32004],
            isPublic: false,
            handler: { params, context in
                let parsed = try GetStatsParams.parse(params, limits: limits)
                let workspace = try workspaces.resolve(parsed.workspace, for: context.caller)
                return try await stats.getStats(parsed, workspace: workspace, context: context)
            })
    }
}
