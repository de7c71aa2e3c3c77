import Dates
import DynamicJSON
import MoEngageSimulator
import Testing

/// The summary of a MoEngage campaign computed by hand from the simulator's data: all_variations
/// counters summed over platforms and locales, goals' conversions summed, control groups ignored.
private func handSummary(_ simulator: MoEngageSimulator, id: String, range: DayRange, metric: String) -> [String: Int] {
    let campaign = simulator.catalog.campaign(id: id)!
    let elements = simulator.catalog.statsElements(for: campaign, range: range, metric: metric, attribution: "VIEW_THROUGH")?.arrayValue ?? []
    var sums: [String: Int] = [:]
    let names = [
        "sent": "sent", "delivered": "delivered", "impression": "impressions", "opened": "opens", "click": "clicks", "unsubscribe": "unsubscribes",
        "bounced": "bounces",
    ]
    for element in elements {
        for (_, platform) in element["platforms"]?.objectValue ?? [:] {
            for (_, locale) in platform["locales"]?.objectValue ?? [:] {
                let variation = locale["variations"]?["all_variations"]
                for (upstream, summary) in names { sums[summary, default: 0] += variation?["performance_stats"]?[upstream]?.intValue ?? 0 }
                for (_, goal) in variation?["conversion_goal_stats"]?.objectValue ?? [:] {
                    sums["conversions", default: 0] += goal["conversions"]?.intValue ?? 0
                }
            }
        }
    }
    return sums
}

@Suite struct SummaryViewTests {
    @Test func summarisesMoEngageFiguresAsHandComputedSums() async throws {
        try await GatewayHarness.with { gateway in
            let ids = Array(gateway.alwaysActiveIDs.prefix(3))
            let answer = try await gateway.call(
                "campaigns.getStats",
                [
                    "workspace": "main", "campaign_ids": .array(ids.map(JSON.string)), "start_date": "2025-03-01", "end_date": "2025-03-30",
                    "view": "summary",
                ])
            let range = DayRange(start: CalendarDay(iso: "2025-03-01")!, end: CalendarDay(iso: "2025-03-30")!)!
            for id in ids {
                let summary = answer.json?["result"]?["campaigns"]?[id]
                let expected = handSummary(gateway.simulator, id: id, range: range, metric: "TOTAL")
                for (name, value) in expected { #expect(summary?[name] == .int(value), "\(id) \(name)") }
                #expect(summary?["delivery_rate"] == .double(Double(expected["delivered"]!) / Double(expected["sent"]!) * 100))
                #expect(summary?["click_rate"] == .double(Double(expected["clicks"]!) / Double(expected["delivered"]!) * 100))
                #expect(summary?["ctr"] == .double(Double(expected["clicks"]!) / Double(expected["impressions"]!) * 100))
                #expect(summary?["platforms"] == nil)
            }
        }
    }

    @Test func summarisesMergedTotalsAcrossWindowsAndUniquePerWindowOnly() async throws {
        try await GatewayHarness.with { gateway in
            let id = gateway.alwaysActiveIDs[0]
            let total = try await gateway.call(
                "campaigns.getStats",
                ["workspace": "main", "campaign_ids": [.string(id)], "start_date": "2025-03-01", "end_date": "2025-04-29", "view": "summary"])
            let whole = handSummary(
                gateway.simulator, id: id, range: DayRange(start: CalendarDay(iso: "2025-03-01")!, end: CalendarDay(iso: "2025-04-29")!)!,
                metric: "TOTAL")
            #expect(total.json?["result"]?["campaigns"]?[id]?["sent"] == .int(whole["sent"]!))
            #expect(total.json?["result"]?["by_window"]?.arrayValue?.count == 2)
            let unique = try await gateway.call(
                "campaigns.getStats",
                [
                    "workspace": "main", "campaign_ids": [.string(id)], "start_date": "2025-03-01", "end_date": "2025-04-29", "view": "summary",
                    "metric_type": "UNIQUE",
                ])
            #expect(unique.json?["result"]?["campaigns"] == .null)
            let firstWindow = handSummary(
                gateway.simulator, id: id, range: DayRange(start: CalendarDay(iso: "2025-03-01")!, end: CalendarDay(iso: "2025-03-30")!)!,
                metric: "UNIQUE")
            #expect(unique.json?["result"]?["by_window"]?[0]?["campaigns"]?[id]?["opens"] == .int(firstWindow["opens"]!))
        }
    }
}

extension JSON {
    /// The element at `index` when this is an array.
    fileprivate subscript(index: Int) -> JSON? {
        arrayValue.flatMap { index < $0.count ? $0[index] : nil }
    }
}

@Suite struct MigmaTests {
    @Test func fansOutOneCallPerIDAndListsUnknownIDsAsMissing() async throws {
        try await GatewayHarness.with { gateway in
            let known = Array(gateway.simulator.catalog.campaigns.prefix(10))
            let ids = known.map(\.id) + ["nope-1", "nope-2"]
            let answer = try await gateway.call("campaigns.getStats", ["workspace": "mig", "campaign_ids": .array(ids.map(JSON.string))])
            let result = answer.json?["result"]
            #expect(result?["windows"] == [])
            #expect(result?["upstream"]?["calls"] == 12)
            #expect(result?["missing"] == ["nope-1", "nope-2"])
            for campaign in known {
                #expect(result?["campaigns"]?[campaign.id] == gateway.simulator.catalog.migmaStats(for: campaign))
            }
            let calls = try await gateway.upstreamCalls()
            #expect(calls.count == 12)
            #expect(calls.allSatisfy { $0["auth"] == "valid" && $0["workspace"] == "ACME" })
            let again = try await gateway.call("campaigns.getStats", ["workspace": "mig", "campaign_ids": .array(ids.map(JSON.string))])
            #expect(again.json?["result"]?["upstream"]?["calls"] == 0)
            #expect(again.json?["result"]?["upstream"]?["cache_hits"] == 12)
        }
    }

    @Test func summarisesMigmaTotalsOrUniques() async throws {
        try await GatewayHarness.with { gateway in
            let campaign = gateway.simulator.catalog.campaigns[0]
            let stats = gateway.simulator.catalog.migmaStats(for: campaign)
            for (metric, opens, clicks) in [("TOTAL", "totalOpens", "totalClicks"), ("UNIQUE", "uniqueOpens", "uniqueClicks")] {
                let answer = try await gateway.call(
                    "campaigns.getStats",
                    ["workspace": "mig", "campaign_ids": [.string(campaign.id)], "view": "summary", "metric_type": .string(metric)])
                let summary = answer.json?["result"]?["campaigns"]?[campaign.id]
                #expect(summary?["sent"] == stats["totalSent"])
                #expect(summary?["delivered"] == stats["totalDelivered"])
                #expect(summary?["opens"] == stats[opens])
                #expect(summary?["clicks"] == stats[clicks])
                #expect(summary?["impressions"] == nil)
                #expect(summary?["conversions"] == nil)
                #expect(summary?["ctr"] == nil)
                let delivered = Double(stats["totalDelivered"]?.intValue ?? 0)
                #expect(summary?["click_rate"] == .double(Double(stats[clicks]?.intValue ?? 0) / delivered * 100))
            }
        }
    }

    @Test func requiresIDsAndExplainsABadKey() async throws {
        var environment = TestSecrets.environment
        environment["MIGMA_KEY"] = "wrong-migma-key"
        try await GatewayHarness.with(environment: environment) { gateway in
            let noIDs = try await gateway.call("campaigns.getStats", ["workspace": "mig"])
            #expect(noIDs.json?["error"]?["data"]?["field"] == "campaign_ids")
            let badKey = try await gateway.call("campaigns.getStats", ["workspace": "mig", "campaign_ids": ["x"]])
            #expect(badKey.json?["error"]?["data"]?["upstream_status"] == 401)
            #expect(badKey.json?["error"]?["data"]?["code"] == "UNAUTHORIZED")
            #expect(!badKey.text.contains("wrong-migma-key"))
        }
    }
}
