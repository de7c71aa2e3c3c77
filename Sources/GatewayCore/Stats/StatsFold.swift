import DynamicJSON

/// Folds stats trees: the union of keys, counters summed at every level, and rates recomputed
/// from the summed counters with the contract's table.
///
/// What a numeric leaf is depends on where it sits, never on what its name happens to contain:
/// member names such as goal names, locales or failure reasons are user or upstream text
/// (`Generate Lead`, `rate_limited`). Inside `performance_stats` the ten table rates are ratios
/// (recomputed), and so are the contract's other ratios (`cvr`, uplifts, averages) there and in a
/// goal's figures: where two sides meet they are left out, never summed or averaged (an upstream
/// may send `ctr: 200` as an integer). Every other integer leaf is a counter; a non-integer
/// leaf other than `revenue` (summed) does not add up and is left out of merges. Strings and
/// booleans both sides hold are kept (the later side's when they differ).
public enum StatsFold {
    /// Where a member sits in a stats tree, which decides how its numeric leaves merge.
    enum Section: Equatable {
        /// Members of a `performance_stats` object.
        case performance
        /// Members of one goal's object inside `conversion_goal_stats`.
        case goal
        /// Everywhere else (structure, funnels, failure breakdowns).
        case other

        /// The section of the members of the object at `path` (member names from the campaign's root):
        /// `platforms.P.locales.L.variations.V.performance_stats` or `….V.conversion_goal_stats.G`.
        init(path: [String]) {
            guard path.count >= 7, path[0] == "platforms", path[2] == "locales", path[4] == "variations" else {
                self = .other
                return
            }
            if path.count == 7, path[6] == "performance_stats" {
                self = .performance
            } else if path.count == 8, path[6] == "conversion_goal_stats" {
                self = .goal
            } else {
                self = .other
            }
        }
    }

    /// Whether the leaf `name` of `section` is a ratio that must never be added.
    static func isRatio(_ name: String, in section: Section) -> Bool {
        switch section {
        case .performance: return StatsRates.names.contains(name) || isOtherRatio(name)
        case .goal: return isOtherRatio(name)
        case .other: return false
        }
    }

    /// The contract's ratios outside the rate table: `cvr`, uplifts (`uplift`, `gcg_uplift`, …), averages.
    private static func isOtherRatio(_ name: String) -> Bool {
        name == "cvr" || name.hasSuffix("uplift") || name.hasPrefix("average")
    }

    /// Whether a leaf is left out of merged trees: ratios, and non-integer numbers other than `revenue`.
    static func isDroppedWhenMerged(_ name: String, _ value: JSON, in section: Section) -> Bool {
        if isRatio(name, in: section) { return true }
        if case .double = value { return name != "revenue" }
        return false
    }

    /// Folds a campaign's upstream array (`[{platforms: …}]`) into one object; an element that is
    /// not an object is a broken upstream (-32050).
    public static func fold(_ elements: [JSON]) throws(GatewayError) -> JSON {
        guard elements.allSatisfy({ $0.objectValue != nil }) else { throw shapeError("an element of a campaign's array is not an object") }
        guard var folded = elements.first else { return .object([:]) }
        for element in elements.dropFirst() {
            folded = try merge(folded, element)
        }
        return folded
    }

    /// Merges one campaign's trees of several windows: every tree is first normalised (figures that
    /// do not add up dropped, table rates recomputed), so a leaf present in one window only reads
    /// the same as one present in all.
    public static func mergeWindows(_ trees: [JSON]) throws(GatewayError) -> JSON {
        var normalised: [JSON] = []
        for tree in trees { normalised.append(try normalise(tree, path: [])) }
        guard var merged = normalised.first else { return .object([:]) }
        for tree in normalised.dropFirst() {
            merged = try merge(merged, tree)
        }
        return merged
    }

    /// Drops every leaf that does not add up, and recomputes the table rates of each `performance_stats`.
    static func normalise(_ tree: JSON, path: [String]) throws(GatewayError) -> JSON {
        guard case .object(let members) = tree else { return tree }
        let section = Section(path: path)
        var kept: [String: JSON] = [:]
        for (name, value) in members {
            if !isRatio(name, in: section) { try checkInRange(value) }
            if isDroppedWhenMerged(name, value, in: section) { continue }
            kept[name] = try normalise(value, path: path + [name])
        }
        if section == .performance {
            for (name, value) in StatsRates.rates(from: kept) { kept[name] = .double(value) }
        }
        return .object(kept)
    }

    /// Merges two stats trees of the same campaign (two elements of one window, or two windows).
    public static func merge(_ left: JSON, _ right: JSON) throws(GatewayError) -> JSON {
        guard let merged = try merge(left, right, path: []) else { throw shapeError("a campaign's figures are not objects") }
        return merged
    }

    /// Merges two values found at `path`; nil when they cannot be combined.
    private static func merge(_ left: JSON, _ right: JSON, path: [String]) throws(GatewayError) -> JSON? {
        switch (left, right) {
        case (.int(let a), .int(let b)):
            let (sum, overflow) = a.addingReportingOverflow(b)
            if overflow { throw overflowError }
            return .int(sum)
        case (.object(let a), .object(let b)):
            let section = Section(path: path)
            var merged: [String: JSON] = [:]
            for (name, x) in a {
                if let y = b[name] {
                    if isRatio(name, in: section) { continue }
                    if let value = try mergedMember(x, y, name: name, path: path + [name]) { merged[name] = value }
                } else if try keepsOneSided(name, x, in: section) {
                    merged[name] = x
                }
            }
            for (name, y) in b where a[name] == nil {
                if try keepsOneSided(name, y, in: section) { merged[name] = y }
            }
            if section == .performance {
                for (name, value) in StatsRates.rates(from: merged) { merged[name] = .double(value) }
            }
            return .object(merged)
        default:
            return nil
        }
    }

    /// The merge of a member both sides hold; nil when it does not add up (a non-integer figure).
    /// Values of different JSON types under one name are a broken upstream (-32050).
    private static func mergedMember(_ x: JSON, _ y: JSON, name: String, path: [String]) throws(GatewayError) -> JSON? {
        switch (x, y) {
        case (.int, .int), (.object, .object):
            return try merge(x, y, path: path)
        case (.string, .string), (.bool, .bool), (.null, .null), (.array, .array):
            return y
        case (.null, _):
            // A null figure is an absent one.
            return try keepsOneSided(name, y, in: .other) ? y : nil
        case (_, .null):
            return try keepsOneSided(name, x, in: .other) ? x : nil
        case (.int, .double), (.double, .int), (.double, .double):
            try checkInRange(x)
            try checkInRange(y)
            guard name == "revenue", let a = x.doubleValue, let b = y.doubleValue, (a + b).isFinite else { return nil }
            return .double(a + b)
        default:
            throw shapeError("one member has values of different types")
        }
    }

    /// Whether a member only one side holds stays in the merge (a figure past the exact range is an error, not dropped).
    private static func keepsOneSided(_ name: String, _ value: JSON, in section: Section) throws(GatewayError) -> Bool {
        if !isRatio(name, in: section) { try checkInRange(value) }
        return !isDroppedWhenMerged(name, value, in: section)
    }

    /// Throws the overflow error for a whole number too large to count exactly (2^53 and up, read as a double).
    static func checkInRange(_ value: JSON) throws(GatewayError) {
        if case .double(let number) = value, number.rounded() == number, abs(number) >= 9_007_199_254_740_992 { throw overflowError }
    }

    /// The answer for stats trees whose shapes cannot be merged.
    static func shapeError(_ detail: String) -> GatewayError {
        .upstreamFailed(status: 200, reason: "the upstream stats are malformed: \(detail)")
    }

    /// The answer for upstream figures whose sum leaves the 64-bit range.
    static let overflowError = GatewayError.upstreamFailed(status: 200, reason: "the upstream figures overflow a 64-bit counter when added")
}

/// The contract's rate table (×100); a rate whose counters are absent or whose denominator is 0 is omitted.
public enum StatsRates {
    /// The ten rate names of the table.
    public static let names: Set<String> = [
        "ctr", "sent_rate", "failure_rate", "delivery_rate", "read_rate", "open_rate", "ctor", "unsub_rate", "bounce_rate", "complaints_rate",
    ]

    /// Every computable rate from a performance_stats object's integer counters.
    public static func rates(from stats: [String: JSON]) -> [(String, Double)] {
        func count(_ name: String) -> Int? { stats[name]?.intValue }
        let failed: Int? = count("attempted").flatMap { attempted in
            count("sent").flatMap { sent in
                let (difference, overflow) = attempted.subtractingReportingOverflow(sent)
                return overflow ? nil : difference
            }
        }
        let table: [(String, Int?, Int?)] = [
            ("ctr", count("click"), count("impression")),
            ("sent_rate", count("sent"), count("attempted")),
            ("failure_rate", failed, count("attempted")),
            ("delivery_rate", count("delivered"), count("sent")),
            ("read_rate", count("read"), count("delivered")),
            ("open_rate", count("opened"), count("delivered")),
            ("ctor", count("click"), count("opened")),
            ("unsub_rate", count("unsubscribe"), count("delivered")),
            ("bounce_rate", count("bounced"), count("sent")),
            ("complaints_rate", count("complaint"), count("delivered")),
        ]
        return table.compactMap { name, numerator, denominator in
            guard let numerator, let denominator, denominator != 0 else { return nil }
            return (name, Double(numerator) / Double(denominator) * 100)
        }
    }
}
