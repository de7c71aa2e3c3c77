import Dates
import DynamicJSON
import GatewayConfig

/// Validated params of `reports.getDaily`: one `date`, or `start_date`/`end_date`.
public struct GetDailyParams: Sendable {
    /// The workspace named, if any.
    public var workspace: String?
    /// The days asked for, both ends included.
    public var range: DayRange
    /// Return the plan; spend nothing.
    public var dryRun: Bool

    static let fields: Set<String> = ["workspace", "date", "start_date", "end_date", "dry_run", "timeout_ms"]

    /// Validates params against the configured daily-report span.
    public static func parse(_ params: JSON?, limits: LimitsConfiguration) throws(GatewayError) -> GetDailyParams {
        let reader = try ParamReader(params, allowed: fields)
        let range: DayRange
        switch (try reader.day("date"), try reader.day("start_date"), try reader.day("end_date")) {
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
        _ = try reader.int("timeout_ms", in: 1...CallContext.maxTimeoutMs)
        return GetDailyParams(workspace: try reader.string("workspace"), range: range, dryRun: try reader.bool("dry_run"))
    }
}
