import Dates

/// The rules every request field follows once decoded into its message (JSON kinds and unknown
/// names are the decoder's); every failure is a -32602 naming the field.
enum FieldRules {
    /// A non-empty string, or nil when the field is unset.
    static func string(_ field: String, _ value: String?) throws(GatewayError) -> String? {
        guard let value else { return nil }
        guard !value.isEmpty else { throw .invalidParams(field: field, reason: "must be a non-empty string") }
        return value
    }

    /// One of `choices`, `fallback` when unset.
    static func oneOf(_ field: String, _ value: String?, _ choices: [String], default fallback: String) throws(GatewayError) -> String {
        guard let text = try string(field, value) else { return fallback }
        guard choices.contains(text) else { throw .invalidParams(field: field, reason: "must be one of \(choices.joined(separator: ", "))") }
        return text
    }

    /// An integer in `range`, or nil when unset.
    static func int(_ field: String, _ value: Int64?, in range: ClosedRange<Int>) throws(GatewayError) -> Int? {
        guard let value else { return nil }
        guard let number = Int(exactly: value), range.contains(number) else {
            throw .invalidParams(field: field, reason: "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// A real calendar day written `YYYY-MM-DD`, or nil when unset.
    static func day(_ field: String, _ value: String?) throws(GatewayError) -> CalendarDay? {
        guard let text = try string(field, value) else { return nil }
        guard let day = CalendarDay(iso: text) else { throw .invalidParams(field: field, reason: "must be a real date as YYYY-MM-DD") }
        return day
    }

    /// Distinct non-empty strings in first-seen order.
    static func distinctStrings(_ field: String, _ values: [String]) throws(GatewayError) -> [String] {
        var seen: Set<String> = []
        var result: [String] = []
        for text in values {
            guard !text.isEmpty else { throw .invalidParams(field: field, reason: "every element must be a non-empty string") }
            if seen.insert(text).inserted { result.append(text) }
        }
        return result
    }

    /// Distinct campaign ids in first-seen order; each is 1–64 of `A-Za-z0-9_-`, so an id is
    /// always one safe path segment upstream.
    static func campaignIDs(_ field: String, _ values: [String]) throws(GatewayError) -> [String] {
        let ids = try distinctStrings(field, values)
        if let bad = ids.first(where: { !CampaignID.isValid($0) }) {
            throw .invalidParams(field: field, reason: "\"\(bad.prefix(80))\" is not a campaign id (\(CampaignID.rule))")
        }
        return ids
    }
}

/// The one rule for campaign ids the gateway accepts.
enum CampaignID {
    /// The rule in words, for error messages and documentation.
    static let rule = "1 to 64 characters of A-Z, a-z, 0-9, _ and -"

    /// Whether `id` follows the rule.
    static func isValid(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count)
            && id.utf8.allSatisfy {
                (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x5F || $0 == 0x2D
            }
    }
}
