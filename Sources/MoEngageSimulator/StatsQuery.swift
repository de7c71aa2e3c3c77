import Dates
import DynamicJSON

/// A validated campaign-stats request body.
struct StatsQuery {
    var requestID: String
    var campaignIDs: [String]?
    var range: DayRange
    var attribution: String
    var metric: String
    var offset: Int
    var limit: Int

    static let attributionTypes: Set<String> = ["VIEW_THROUGH", "CLICK_THROUGH", "IN_SESSION", "TOTAL_CONVERSIONS", "CLICK_CONVERSIONS"]
    static let metricTypes: Set<String> = ["TOTAL", "UNIQUE"]

    /// Validates a body as MoEngage does; the error carries the documented 400 description.
    static func validate(_ body: JSON?) -> Result<StatsQuery, UpstreamRejection> {
        guard let body, body.objectValue != nil else { return .failure(.invalid("body - a JSON object is required")) }
        guard let requestID = body["request_id"]?.stringValue, !requestID.isEmpty else {
            return .failure(.invalid("request_id - field is required"))
        }
        var campaignIDs: [String]?
        if let ids = body["campaign_ids"], !ids.isNull {
            guard let list = ids.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                return .failure(.invalid("campaign_ids - must be a list of strings"))
            }
            guard list.count <= 10 else { return .failure(.invalid("campaign_ids - at most 10 campaign ids are allowed, got \(list.count)")) }
            campaignIDs = list.compactMap(\.stringValue)
        }
        guard let startText = body["start_date"]?.stringValue, let start = CalendarDay(iso: startText) else {
            return .failure(.invalid("start_date - a valid YYYY-MM-DD date is required"))
        }
        guard let endText = body["end_date"]?.stringValue, let end = CalendarDay(iso: endText) else {
            return .failure(.invalid("end_date - a valid YYYY-MM-DD date is required"))
        }
        guard let range = DayRange(start: start, end: end) else {
            return .failure(.invalid("end_date - must not be before start_date"))
        }
        guard range.dayCount <= 30 else {
            return .failure(.invalid("end_date - the date range must not exceed 30 days, got \(range.dayCount)"))
        }
        guard let attribution = body["attribution_type"]?.stringValue, attributionTypes.contains(attribution) else {
            return .failure(.invalid("attribution_type - must be one of \(attributionTypes.sorted().joined(separator: ", "))"))
        }
        guard let metric = body["metric_type"]?.stringValue, metricTypes.contains(metric) else {
            return .failure(.invalid("metric_type - must be TOTAL or UNIQUE"))
        }
        let offset = body["offset"]?.intValue ?? 0
        let limit = body["limit"]?.intValue ?? 10
        guard offset >= 0 else { return .failure(.invalid("offset - must not be negative")) }
        guard (1...10).contains(limit) else { return .failure(.invalid("limit - must be between 1 and 10")) }
        return .success(
            StatsQuery(
                requestID: requestID, campaignIDs: campaignIDs, range: range, attribution: attribution, metric: metric,
                offset: offset, limit: limit))
    }
}

/// An error answer in MoEngage's stats error shape `{title, description, code}`.
struct UpstreamRejection: Error {
    var status: Int
    var title: String
    var description: String?
    var code: String

    /// A 400 "Invalid Field Value" naming the field.
    static func invalid(_ description: String) -> Self {
        .init(status: 400, title: "Invalid Field Value", description: description, code: "wUcwPRZF")
    }
    /// The documented 401.
    static let unauthenticated = Self(
        status: 401, title: "Authentication required", description: "Invalid identity information found.", code: "wUcwPRZF")
    /// The documented 403 for a workspace without the stats feature.
    static let forbidden = Self(status: 403, title: "Forbidden Request", description: nil, code: "kmqLuuHM")
    /// The documented 500.
    static let serverError = Self(
        status: 500, title: "Server Error",
        description: "An unexpected error was encountered while processing this request. Please contact MoEngage Team", code: "jDTGSxjd")

    /// The body as MoEngage sends it.
    var json: JSON {
        ["title": .string(title), "description": description.map(JSON.string) ?? .null, "code": .string(code)]
    }
}
