import DynamicJSON

/// Folds stats trees: the union of keys, counters summed at every level, and rates recomputed
/// from the summed counters with the contract's table. Ratios (rates, `cvr`, uplifts, averages)
/// are recognised by name, not by JSON number type (an upstream may send `ctr: 200`): where two
/// sides meet they are left out, never summed or averaged. `revenue` is summed.
public enum StatsFold {
    /// Whether a figure is a ratio that must never be added: every `*rate*`, `ctr`, `ctor`, `cvr`, uplifts, averages.
    public static func isRatio(_ name: String) -> Bool {
        name.contains("rate") || name.contains("uplift") || name.hasPrefix("average") || ["ctr", "ctor", "cvr"].contains(name)
    }

    /// Whether a figure is left out of merged trees: ratios, and non-integer numbers other than `revenue`.
    static func isDroppedWhenMerged(_ name: String, _ value: JSON) -> Bool {
        if isRatio(name) { return true }
        if case .double = value { return name != "revenue" }
        return false
    }

    /// Folds a campaign's upstream array (`[{platforms: …}]`) into one object.
    public static func fold(_ elements: [JSON]) -> JSON {
        guard var folded = elements.first else { return .object([:]) }
        for element in elements.dropFirst() {
            folded = merge(folded, element, key: "")
        }
        return folded
    }

    /// Merges one campaign's trees of several windows: every tree is first normalised (figures that
    /// do not add up dropped, table rates recomputed), so a leaf present in one window only reads
    /// the same as one present in all.
    public static func mergeWindows(_ trees: [JSON]) -> JSON {
        let normalised = trees.map { normalise($0, key: "") }
        guard var merged = normalised.first else { return .object([:]) }
        for tree in normalised.dropFirst() {
            merged = merge(merged, tree, key: "")
        }
        return merged
    }

    /// Drops every non-integer figure but `revenue`, and recomputes the table rates of each `performance_stats`.
    static func normalise(_ tree: JSON, key: String) -> JSON {
        guard case .object(let members) = tree else { return tree }
        var kept: [String: JSON] = [:]
        for (name, value) in members where !isDroppedWhenMerged(name, value) {
            kept[name] = normalise(value, key: name)
        }
        if key == "performance_stats" {
            for (name, value) in StatsRates.rates(from: kept) { kept[name] = .double(value) }
        }
        return .object(kept)
    }

    /// Merges two stats trees; `key` is the member name both values sit under.
    public static func merge(_ left: JSON, _ right: JSON, key: String) -> JSON {
        switch (left, right) {
        case (.int(let a), .int(let b)):
            return .int(a + b)
        case (.object(let a), .object(let b)):
            var merged: [String: JSON] = [:]
            for name in Set(a.keys).union(b.keys) {
                switch (a[name], b[name]) {
                case (let x?, let y?):
                    if !isRatio(name), let value = mergedMember(x, y, key: name) { merged[name] = value }
                case (let only?, nil), (nil, let only?):
                    if isDroppedWhenMerged(name, only) { continue }
                    merged[name] = only
                case (nil, nil):
                    continue
                }
            }
            if key == "performance_stats" {
                for (name, value) in StatsRates.rates(from: merged) { merged[name] = .double(value) }
            }
            return .object(merged)
        default:
            return left
        }
    }

    private static func mergedMember(_ x: JSON, _ y: JSON, key: String) -> JSON? {
        switch (x, y) {
        case (.int, .int), (.object, .object):
            return merge(x, y, key: key)
        case _ where key == "revenue":
            guard let a = x.doubleValue, let b = y.doubleValue else { return nil }
            return .double(a + b)
        default:
            return nil
        }
    }
}

/// The contract's rate table (×100); a rate whose counters are absent or whose denominator is 0 is omitted.
public enum StatsRates {
    /// Every computable rate from a performance_stats object's integer counters.
    public static func rates(from stats: [String: JSON]) -> [(String, Double)] {
        func count(_ name: String) -> Int? { stats[name]?.intValue }
        let failed: Int? = count("attempted").flatMap { attempted in count("sent").map { attempted - $0 } }
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
