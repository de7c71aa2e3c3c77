import Dates
import GatewayConfig
import GatewayProto

/// Validated params of `reports.getDaily`: one `date`, or `start_date`/`end_date`.
public struct GetDailyParams: Sendable {
    /// The workspace named, if any.
    public var workspace: String?
    /// The days asked for, both ends included.
    public var range: DayRange
    /// Return the plan; spend nothing.
    public var dryRun: Bool

    /// Validates a request against the configured daily-report span.
    public static func parse(_ request: Gateway_V1_GetDailyRequest, limits: LimitsConfiguration) throws(GatewayError) -> GetDailyParams {
        let range: DayRange
        let date = try FieldRules.day("date", request.hasDate ? request.date : nil)
        let start = try FieldRules.day("start_date", request.hasStartDate ? request.startDate : nil)
        switch (date, start, try FieldRules.day("end_date", request.hasEndDate ? request.endDate : nil)) {
        case (let date?, nil, nil):
            range = DayRange(start: date, end: date)!
        case (nil, let start?, let end?):
            guard let both = DayRange(start: start, end: end) else {
                throw .invalidParams(field: "end_date", reason: "must not be before start_date")
            }
            range = both
        case (nil, nil, nil):
            throw .invalidParams(field: "date", reason: "give date, or start_date and end_date")
        default:
            throw .invalidParams(field: "date", reason: "give either date, or both start_date and end_date")
        }
        guard range.dayCount <= limits.dailyReportSpanDays else {
            throw .invalidParams(field: "end_date", reason: "the span is \(range.dayCount) days; at most \(limits.dailyReportSpanDays)")
        }
        _ = try FieldRules.int("timeout_ms", request.hasTimeoutMs ? request.timeoutMs : nil, in: 1...CallContext.maxTimeoutMs)
        return GetDailyParams(
            workspace: try FieldRules.string("workspace", request.hasWorkspace ? request.workspace : nil), range: range, dryRun: request.dryRun)
    }
}
