import Dates
import DynamicJSON

/// The hash root of one (campaign, platform, locale, attribution) leaf of the stats tree.
struct LeafKey {
    private let root: UInt64
    private let goalsRoot: UInt64

    init(seed: UInt64, campaign: SyntheticCampaign, platform: String, locale: String, attribution: String) {
        root = StableHash.combine(seed, UInt64(campaign.index), StableHash.of(platform), StableHash.of(locale))
        goalsRoot = StableHash.combine(root, StableHash.of(attribution))
    }

    /// A non-additive percentage the upstream reports per goal.
    var uplift: Double { Double(StableHash.mix(root) % 2_000) / 100 - 5 }

    /// The figures of one day: consistent funnels (sent ≤ attempted, click ≤ opened, ...).
    func figures(on day: CalendarDay) -> VariationFigures {
        var random = SeededGenerator(seed: StableHash.combine(root, UInt64(bitPattern: Int64(day.daysSinceEpoch))))
        var goalRandom = SeededGenerator(seed: StableHash.combine(goalsRoot, UInt64(bitPattern: Int64(day.daysSinceEpoch))))
        func below(_ bound: Int, _ generator: inout SeededGenerator) -> Int {
            Int(generator.next() % UInt64(max(bound, 1)))
        }
        let attempted = 200 + below(800, &random)
        let sent = attempted - below(attempted / 10 + 1, &random)
        let delivered = sent - below(sent / 10 + 1, &random)
        let impression = delivered - below(delivered / 5 + 1, &random)
        let opened = impression - below(impression / 2 + 1, &random)
        let click = opened - below(opened / 2 + 1, &random)
        let read = opened - below(opened / 3 + 1, &random)
        let failed = attempted - sent
        let reachable = attempted + below(60, &random)
        var counters: [String: Int] = [
            "p.attempted": attempted, "p.sent": sent, "p.failed": failed, "p.bounced": sent - delivered,
            "p.impression": impression, "p.click": click, "p.opened": opened, "p.delivered": delivered,
            "p.read": read, "p.unsubscribe": below(6, &random), "p.complaint": below(3, &random),
            "f.reachable_users_in_segment": reachable, "f.segment_after_uninstall": reachable - below(10, &random),
            "f.after_fc": attempted + below(5, &random), "f.users_after_dup": attempted, "f.sent": sent,
            "f.user_devices": attempted + below(40, &random), "f.impressions": impression,
            "f.active_device_token": attempted - below(5, &random), "f.delivered": delivered,
            "x.token_expired": failed / 2, "x.provider_rejected": failed - failed / 2,
            "ccg.reach": below(40, &random), "gcg.reach": below(30, &random),
        ]
        for goal in 0..<2 {
            let conversions = below(click / 4 + 1, &goalRandom)
            counters["g\(goal).conversions"] = conversions
            counters["g\(goal).total"] = conversions + below(3, &goalRandom)
            counters["g\(goal).unique"] = conversions - below(conversions / 3 + 1, &goalRandom)
            counters["g\(goal).revenue"] = conversions * (10 + goal * 15)
            counters["ccg.g\(goal)"] = below(5, &goalRandom)
            counters["gcg.g\(goal)"] = below(4, &goalRandom)
        }
        return VariationFigures(counters: counters)
    }
}

/// The counters of one stats leaf, flat by key, for one day or aggregated over a range.
struct VariationFigures {
    var counters: [String: Int]

    /// TOTAL: the per-day sums. UNIQUE: the largest day plus half the day count (deliberately not additive).
    static func aggregate(_ days: [VariationFigures], unique: Bool) -> VariationFigures {
        var result: [String: Int] = [:]
        for day in days {
            result.merge(day.counters) { unique ? max($0, $1) : $0 + $1 }
        }
        if unique {
            result = result.mapValues { $0 + days.count / 2 }
        }
        return VariationFigures(counters: result)
    }

    /// The upstream `variations` object: all_variations and both control groups.
    func json(goals: [String], uplift: Double) -> JSON {
        let performance = section("p.")
        var allGoals: [String: JSON] = [:]
        var campaignControlGoals: [String: JSON] = [:]
        var globalControlGoals: [String: JSON] = [:]
        for (index, goal) in goals.enumerated() {
            var stats = section("g\(index).").mapValues(JSON.int)
            if let click = performance["click"], click > 0, let conversions = stats["conversions"]?.intValue {
                stats["cvr"] = .double(Double(conversions) / Double(click) * 100)
            }
            stats["uplift"] = .double(uplift)
            allGoals[goal] = .object(stats)
            campaignControlGoals[goal] = ["conversions": .int(counters["ccg.g\(index)"] ?? 0), "uplift": .double(uplift / 2)]
            globalControlGoals[goal] = ["conversions": .int(counters["gcg.g\(index)"] ?? 0), "uplift": .double(uplift / 3)]
        }
        var performanceJSON = performance.mapValues(JSON.int)
        for (name, value) in RateTable.rates(from: performance) {
            performanceJSON[name] = .double(value)
        }
        let campaignControlReach = counters["ccg.reach"] ?? 0
        let globalControlReach = counters["gcg.reach"] ?? 0
        return [
            "all_variations": [
                "performance_stats": .object(performanceJSON),
                "conversion_goal_stats": .object(allGoals),
                "delivery_funnel": .object(section("f.").mapValues(JSON.int)),
                "failure_breakdown": .object(section("x.").mapValues(JSON.int)),
            ],
            "campaign_control_group": [
                "conversion_goal_stats": .object(campaignControlGoals),
                "delivery_funnel": ["reachable_users_in_segment": .int(campaignControlReach)],
                "failure_breakdown": ["user_removed_due_to_campaing_control_group": .int(campaignControlReach)],
            ],
            "global_control_group": [
                "conversion_goal_stats": .object(globalControlGoals),
                "delivery_funnel": ["reachable_users_in_segment": .int(globalControlReach)],
                "failure_breakdown": ["user_removed_due_to_global_control_group": .int(globalControlReach)],
            ],
        ]
    }

    private func section(_ prefix: String) -> [String: Int] {
        var result: [String: Int] = [:]
        for (key, value) in counters where key.hasPrefix(prefix) {
            result[String(key.dropFirst(prefix.count))] = value
        }
        return result
    }
}

/// The upstream's rate definitions (×100), computed from performance counters; a zero denominator gives no rate.
enum RateTable {
    private static let definitions: [(name: String, numerator: @Sendable ([String: Int]) -> Int?, denominator: String)] = [
        ("ctr", { $0["click"] }, "impression"),
        ("sent_rate", { $0["sent"] }, "attempted"),
        ("failure_rate", { counters in counters["attempted"].flatMap { a in counters["sent"].map { a - $0 } } }, "attempted"),
        ("delivery_rate", { $0["delivered"] }, "sent"),
        ("read_rate", { $0["read"] }, "delivered"),
        ("open_rate", { $0["opened"] }, "delivered"),
        ("ctor", { $0["click"] }, "opened"),
        ("unsub_rate", { $0["unsubscribe"] }, "delivered"),
        ("bounce_rate", { $0["bounced"] }, "sent"),
        ("complaints_rate", { $0["complaint"] }, "delivered"),
    ]

    /// Every rate whose counters are present and whose denominator is not zero.
    static func rates(from counters: [String: Int]) -> [(String, Double)] {
        definitions.compactMap { definition in
            guard let numerator = definition.numerator(counters), let denominator = counters[definition.denominator],
                denominator != 0
            else { return nil }
            return (definition.name, Double(numerator) / Double(denominator) * 100)
        }
    }
}
