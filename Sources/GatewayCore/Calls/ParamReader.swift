import Dates
import DynamicJSON

/// Reads typed fields from a params object; every failure is a -32602 naming the field.
struct ParamReader {
    private let members: [String: JSON]

    /// Accepts an object whose keys are all in `allowed`; absent params count as `{}`.
    init(_ params: JSON?, allowed: Set<String>) throws(GatewayError) {
        switch params {
        case nil, .null?:
            members = [:]
        case .object(let object)?:
            if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
                throw .invalidParams(field: unknown, reason: "unknown parameter (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
            members = object
        default:
            throw .invalidParams(field: "params", reason: "must be an object")
        }
    }

    private func present(_ field: String) -> JSON? {
        guard let value = members[field], !value.isNull else { return nil }
        return value
    }

    func string(_ field: String) throws(GatewayError) -> String? {
        guard let value = present(field) else { return nil }
        guard let text = value.stringValue, !text.isEmpty else { throw .invalidParams(field: field, reason: "must be a non-empty string") }
        return text
    }

    func oneOf(_ field: String, _ choices: [String], default fallback: String) throws(GatewayError) -> String {
        guard let text = try string(field) else { return fallback }
        guard choices.contains(text) else { throw .invalidParams(field: field, reason: "must be one of \(choices.joined(separator: ", "))") }
        return text
    }

    func bool(_ field: String) throws(GatewayError) -> Bool {
        guard let value = present(field) else { return false }
        guard let flag = value.boolValue else { throw .invalidParams(field: field, reason: "must be true or false") }
        return flag
    }

    func int(_ field: String, in range: ClosedRange<Int>) throws(GatewayError) -> Int? {
        guard let value = present(field) else { return nil }
        guard case .int(let number) = value, range.contains(number) else {
            throw .invalidParams(field: field, reason: "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func day(_ field: String) throws(GatewayError) -> CalendarDay? {
        guard let text = try string(field) else { return nil }
        guard let day = CalendarDay(iso: text) else { throw .invalidParams(field: field, reason: "must be a real date as YYYY-MM-DD") }
        return day
    }

    /// Distinct non-empty strings in first-seen order.
    func distinctStrings(_ field: String) throws(GatewayError) -> [String] {
        guard let value = present(field) else { return [] }
        guard let list = value.arrayValue else { throw .invalidParams(field: field, reason: "must be a list of strings") }
        var seen: Set<String> = []
        var result: [String] = []
        for element in list {
            guard let text = element.stringValue, !text.isEmpty else {
                throw .invalidParams(field: field, reason: "every element must be a non-empty string")
            }
            if seen.insert(text).inserted { result.append(text) }
        }
        return result
    }

    /// Distinct campaign ids in first-seen order; each is 1–64 of `A-Za-z0-9_-`, so an id is
    /// always one safe path segment upstream.
    func campaignIDs(_ field: String) throws(GatewayError) -> [String] {
        let ids = try distinctStrings(field)
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
