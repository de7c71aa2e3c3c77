import Dates

/// How a stats question maps onto upstream calls: ≤30-day windows × ≤10-id chunks.
public struct StatsPlan: Sendable {
    /// MoEngage's longest window, both ends included.
    public static let maxWindowDays = 30
    /// MoEngage's most campaign ids (and page size) per call.
    public static let maxIDsPerCall = 10

    /// Consecutive windows covering the range exactly, in order.
    public let windows: [DayRange]
    /// The ids split into upstream-sized chunks; empty in all-campaigns mode.
    public let idChunks: [[String]]

    /// Plans `ids` over `range`.
    public init(range: DayRange, ids: [String]) {
        windows = Self.windows(covering: range)
        idChunks = stride(from: 0, to: ids.count, by: Self.maxIDsPerCall).map { Array(ids[$0..<min($0 + Self.maxIDsPerCall, ids.count)]) }
    }

    /// Plans a provider without date windows (Migma): one call per id.
    public init(perCampaignIDs ids: [String]) {
        windows = []
        idChunks = ids.map { [$0] }
    }

    /// Whether the question is about every campaign the upstream reports.
    public var isAllCampaigns: Bool { idChunks.isEmpty }

    /// Calls the plan needs; in all-campaigns mode the known minimum (one page per window).
    public var estimatedCalls: Int { windows.count * max(idChunks.count, 1) }

    /// Splits a range into consecutive windows of at most 30 days.
    public static func windows(covering range: DayRange) -> [DayRange] {
        stride(from: 0, to: range.dayCount, by: maxWindowDays).map { offset in
            let start = range.start.adding(days: offset)
            return DayRange(start: start, end: min(start.adding(days: maxWindowDays - 1), range.end))!
        }
    }
}
