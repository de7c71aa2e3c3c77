import Dates
import DynamicJSON
import GatewayConfig

/// Validated params of `campaigns.getStats`.
public struct GetStatsParams: Sendable {
    /// The workspace named, if any.
    public var workspace: String?
    /// Distinct campaign ids in the order given; empty means every campaign of the range.
    public var campaignIDs: [String]
    /// The dates asked for, both ends included (nil for Migma, where dates are optional).
    public var range: DayRange?
    /// `VIEW_THROUGH` by default.
    public var attribution: String
    /// `TOTAL` by default.
    public var metric: String
    /// `full` by default, or `summary`.
    public var view: String
    /// Return the plan and spend nothing.
    public var dryRun: Bool
    /// The caller's deadline in milliseconds, if given.
    public var timeoutMs: Int?

    static let fields: Set<String> = [
        "workspace", "campaign_ids", "start_date", "end_date", "attribution_type", "metric_type", "view", "dry_run", "timeout_ms",
    ]
    /// MoEngage's attribution types.
    public static let attributionTypes = ["VIEW_THROUGH", "CLICK_THROUGH", "IN_SESSION", "TOTAL_CONVERSIONS", "CLICK_CONVERSIONS"]
    /// MoEngage's metric types.
    public static let metricTypes = ["TOTAL", "UNIQUE"]

    /// Validates params against the contract and the configured limits.
    public static func parse(_ params: JSON?, limits: LimitsConfiguration) throws(GatewayError) -> GetStatsParams {
        let reader = try ParamReader(params, allowed: fields)
        let ids = try reader.campaignIDs("campaign_ids")
        guard ids.count <= limits.maxCampaignIDs else {
            throw .invalidParams(field: "campaign_ids", reason: "at most \(limits.maxCampaignIDs) distinct ids, got \(ids.count)")
        }
        let start = try reader.day("start_date")
        let end = try reader.day("end_date")
        var range: DayRange?
        switch (start, end) {
        case (let start?, let end?):
            guard let both = DayRange(start: start, end: end) else {
                throw .invalidParams(field: "end_date", reason: "must not be before start_date")
            }
            guard both.dayCount <= limits.maxSpanDays else {
                throw .invalidParams(
                    field: "end_date", reason: "the span is \(both.dayCount) days; at most \(limits.maxSpanDays) days, both ends included")
            }
            range = both
        case (nil, nil):
            range = nil
        case (nil, _?):
            throw .invalidParams(field: "start_date", reason: "required with end_date")
        case (_?, nil):
            throw .invalidParams(field: "end_date", reason: "required with start_date")
        }
        return GetStatsParams(
            workspace: try reader.string("workspace"), campaignIDs: ids, range: range,
            attribution: try reader.oneOf("attribution_type", attributionTypes, default: "VIEW_THROUGH"),
            metric: try reader.oneOf("metric_type", metricTypes, default: "TOTAL"),
            view: try reader.oneOf("view", ["full", "summary"], default: "full"),
            dryRun: try reader.bool("dry_run"),
            timeoutMs: try reader.int("timeout_ms", in: 1...CallContext.maxTimeoutMs))
    }
}
