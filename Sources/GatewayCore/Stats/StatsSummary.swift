import DynamicJSON

/// The provider-neutral `view: "summary"` figures of one campaign.
///
/// Counters: `sent, delivered, impressions, opens, clicks, unsubscribes, bounces, conversions`;
/// rates (×100) recomputed from them: `delivery_rate` (delivered/sent), `open_rate`
/// (opens/delivered), `click_rate` (clicks/delivered), `ctr` (clicks/impressions). A counter the
/// provider does not give is absent, not 0; a rate whose denominator is absent or 0 is absent.
public enum StatsSummary {
    /// MoEngage: the `all_variations` figures summed over every platform and locale, control groups excluded.
    public static func moengage(_ tree: JSON) throws(GatewayError) -> JSON {
        var counters: [String: Int] = [:]
        func add(_ leaf: JSON?, to name: String) throws(GatewayError) {
            guard let leaf, !leaf.isNull else { return }
            try StatsFold.checkInRange(leaf)
            // A fraction is not a count: left out, as merges leave it out.
            guard let value = leaf.intValue else {
                guard leaf.doubleValue != nil else { throw StatsFold.shapeError("the counter behind \(name) is not a number") }
                return
            }
            let (sum, overflow) = counters[name, default: 0].addingReportingOverflow(value)
            if overflow { throw StatsFold.overflowError }
            counters[name] = sum
        }
        let mapping = [
            ("sent", "sent"), ("delivered", "delivered"), ("impression", "impressions"), ("opened", "opens"), ("click", "clicks"),
            ("unsubscribe", "unsubscribes"), ("bounced", "bounces"),
        ]
        for platform in tree["platforms"]?.objectValue?.values ?? [:].values {
            for locale in platform["locales"]?.objectValue?.values ?? [:].values {
                guard let variation = locale["variations"]?["all_variations"] else { continue }
                for (upstream, summary) in mapping {
                    try add(variation["performance_stats"]?[upstream], to: summary)
                }
                for goal in variation["conversion_goal_stats"]?.objectValue?.values ?? [:].values {
                    try add(goal["conversions"], to: "conversions")
                }
            }
        }
        return render(counters)
    }

    /// Migma: its counters, with opens and clicks TOTAL (`totalOpens`, `totalClicks`) or UNIQUE (`uniqueOpens`, `uniqueClicks`).
    public static func migma(_ stats: JSON, metric: String) -> JSON {
        let unique = metric == "UNIQUE"
        let mapping = [
            ("totalSent", "sent"), ("totalDelivered", "delivered"), ("unsubscribes", "unsubscribes"), ("bounces", "bounces"),
            (unique ? "uniqueOpens" : "totalOpens", "opens"), (unique ? "uniqueClicks" : "totalClicks", "clicks"),
        ]
        var counters: [String: Int] = [:]
        for (upstream, summary) in mapping {
            if let value = stats[upstream]?.intValue { counters[summary] = value }
        }
        return render(counters)
    }

    private static func render(_ counters: [String: Int]) -> JSON {
        var summary = counters.mapValues(JSON.int)
        let rates = [
            ("delivery_rate", "delivered", "sent"), ("open_rate", "opens", "delivered"), ("click_rate", "clicks", "delivered"),
            ("ctr", "clicks", "impressions"),
        ]
        for (name, numerator, denominator) in rates {
            guard let top = counters[numerator], let bottom = counters[denominator], bottom != 0 else { continue }
            summary[name] = .double(Double(top) / Double(bottom) * 100)
        }
        return .object(summary)
    }
}
