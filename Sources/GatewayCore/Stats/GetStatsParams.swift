import Dates
import GatewayConfig
import GatewayProto

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

    /// MoEngage's attribution types.
    public static let attributionTypes = ["VIEW_THROUGH", "CLICK_THROUGH", "IN_SESSION", "TOTAL_CONVERSIONS", "CLICK_CONVERSIONS"]
    /// MoEngage's metric types.
    public static let metricTypes = ["TOTAL", "UNIQUE"]

    /// Validates a request against the contract and the configured limits.
    public static func parse(_ request: Gateway_V1_GetStatsRequest, limits: LimitsConfiguration) throws(GatewayError) -> GetStatsParams {
        let ids = try FieldRules.campaignIDs("campaign_ids", request.campaignIds)
        guard ids.count <= limits.maxCampaignIDs else {
            throw .invalidParams(field: "campaign_ids", reason: "at most \(limits.maxCampaignIDs) distinct ids, got \(ids.count)")
        }
        let start = try FieldRules.day("start_date", request.hasStartDate ? request.startDate : nil)
        let end = try FieldRules.day("end_date", request.hasEndDate ? request.endDate : nil)
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
            workspace: try FieldRules.string("workspace", request.hasWorkspace ? request.workspace : nil), campaignIDs: ids, range: range,
            attribution: try FieldRules.oneOf(
                "attribution_type", request.hasAttributionType ? request.attributionType : nil, attributionTypes, default: "VIEW_THROUGH"),
            metric: try FieldRules.oneOf("metric_type", request.hasMetricType ? request.metricType : nil, metricTypes, default: "TOTAL"),
            view: try FieldRules.oneOf("view", request.hasView ? request.view : nil, ["full", "summary"], default: "full"),
            dryRun: request.dryRun,
            timeoutMs: try FieldRules.int("timeout_ms", request.hasTimeoutMs ? request.timeoutMs : nil, in: 1...CallContext.maxTimeoutMs))
    }
}
