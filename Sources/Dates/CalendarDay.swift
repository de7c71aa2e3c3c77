import Foundation

/// A proleptic Gregorian calendar day with no time zone, as the providers' `YYYY-MM-DD` dates mean.
///
/// Parsing is strict: exactly `YYYY-MM-DD`, a real month and a real day of that month (leap
/// years included). Arithmetic is in whole days.
public struct CalendarDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Days since 1970-01-01.
    public let daysSinceEpoch: Int

    /// The day `daysSinceEpoch` days after 1970-01-01.
    public init(daysSinceEpoch: Int) {
        self.daysSinceEpoch = daysSinceEpoch
    }

    /// The day with this year, month (1–12) and day of month; nil when no such day exists.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month),
            (1...CalendarDay.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        self.daysSinceEpoch = CalendarDay.daysFromCivil(year: year, month: month, day: day)
    }

    /// Parses `YYYY-MM-DD`; nil for any other shape or a day that does not exist.
    public init?(iso text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            let year = Self.number(bytes[0..<4]), let month = Self.number(bytes[5..<7]), let day = Self.number(bytes[8..<10])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// Parses `YYYYMMDD`; nil for any other shape or a day that does not exist.
    public init?(compact text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 8, let year = Self.number(bytes[0..<4]), let month = Self.number(bytes[4..<6]), let day = Self.number(bytes[6..<8])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// The value of ASCII digits; nil when any byte is not a digit.
    private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// `value` in decimal, zero-padded on the left to `width` digits.
    private static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// The day that contains this instant in UTC.
    public init(containing date: Date) {
        self.daysSinceEpoch = Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    /// Year, month and day of month.
    public var components: (year: Int, month: Int, day: Int) {
        CalendarDay.civilFromDays(daysSinceEpoch)
    }

    /// `YYYY-MM-DD`.
    public var iso: String {
        let (year, month, day) = components
        return "\(Self.padded(year, 4))-\(Self.padded(month, 2))-\(Self.padded(day, 2))"
    }

    /// `DD-MM-YYYY`, the campaign-meta API's date form.
    public var dayMonthYear: String {
        let (year, month, day) = components
        return "\(Self.padded(day, 2))-\(Self.padded(month, 2))-\(Self.padded(year, 4))"
    }

    /// `YYYYMMDD`, the daily report's file name form.
    public var compact: String {
        let (year, month, day) = components
        return "\(Self.padded(year, 4))\(Self.padded(month, 2))\(Self.padded(day, 2))"
    }

    /// `YYYY-MM-DD`.
    public var description: String { iso }

    /// The day `count` days later (earlier when negative).
    public func adding(days count: Int) -> CalendarDay {
        CalendarDay(daysSinceEpoch: daysSinceEpoch + count)
    }

    /// Days from `self` to `other`; positive when `other` is later.
    public func days(to other: CalendarDay) -> Int {
        other.daysSinceEpoch - daysSinceEpoch
    }

    /// Orders days chronologically.
    public static func < (lhs: CalendarDay, rhs: CalendarDay) -> Bool {
        lhs.daysSinceEpoch < rhs.daysSinceEpoch
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days.
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// An inclusive range of calendar days.
public struct DayRange: Sendable, Hashable, CustomStringConvertible {
    /// The first day, included.
    public let start: CalendarDay
    /// The last day, included.
    public let end: CalendarDay

    /// A range from `start` to `end`, both included; nil when `end` is before `start`.
    public init?(start: CalendarDay, end: CalendarDay) {
        guard start <= end else { return nil }
        self.start = start
        self.end = end
    }

    /// How many days the range covers, both ends included.
    public var dayCount: Int { start.days(to: end) + 1 }

    /// Every day of the range in order.
    public var days: [CalendarDay] { (0..<dayCount).map { start.adding(days: $0) } }

    /// The days both ranges cover, or nil when they do not meet.
    public func intersection(_ other: DayRange) -> DayRange? {
        DayRange(start: max(start, other.start), end: min(end, other.end))
    }

    /// `start..end`.
    public var description: String { "\(start)..\(end)" }
}
