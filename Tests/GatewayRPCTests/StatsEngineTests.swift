import Dates
import DynamicJSON
import MoEngageSimulator
import Testing

private func day(_ text: String) -> CalendarDay { CalendarDay(iso: text)! }

/// The contract's rate names; other ratios (cvr, uplift) do not survive a merge across windows.
private let tableRates: Set<String> = [
    "ctr", "sent_rate", "failure_rate", "delivery_rate", "read_rate", "open_rate", "ctor", "unsub_rate", "bounce_rate", "complaints_rate",
]
private let otherRatios: Set<String> = ["cvr", "uplift"]

/// The simulator's figures for a range as MoEngage answers them, platforms of all elements united.
private func expectedWindow(_ simulator: MoEngageSimulator, id: String, range: DayRange, metric: String) -> JSON? {
    guard let campaign = simulator.catalog.campaign(id: id),
        let elements = simulator.catalog.statsElements(for: campaign, range: range, metric: metric, attribution: "VIEW_THROUGH")?.arrayValue
    else { return nil }
    var platforms: [String: JSON] = [:]
    for element in elements { platforms.merge(element["platforms"]?.objectValue ?? [:]) { first, _ in first } }
    return ["platforms": .object(platforms)]
}

/// The simulator's own TOTAL figures of a campaign over a whole range, reduced to what a merge keeps.
/// Computed from the simulator's data, independently of the gateway's merge code.
private func expectedMerged(_ simulator: MoEngageSimulator, id: String, range: DayRange) -> JSON? {
    func keepAdditive(_ value: JSON, key: String) -> JSON {
        guard case .object(let members) = value else { return value }
        var kept: [String: JSON] = [:]
        for (name, member) in members {
            if otherRatios.contains(name) || (tableRates.contains(name) && key != "performance_stats") { continue }
            kept[name] = keepAdditive(member, key: name)
        }
        return .object(kept)
    }
    return expectedWindow(simulator, id: id, range: range, metric: "TOTAL").map { keepAdditive($0, key: "") }
}

private func statsParams(_ ids: [String], from start: String, to end: String, extra: [String: JSON] = [:]) -> JSON {
    var params: [String: JSON] = [
        "workspace": "main", "campaign_ids": .array(ids.map(JSON.string)), "start_date": .string(start), "end_date": .string(end),
    ]
    params.merge(extra) { _, new in new }
    return .object(params)
}

@Suite struct StatsEngineMergeTests {
    @Test func mergesTwentyFiveIDsOverSeventyFiveDaysExactlyInNineCalls() async throws {
        try await GatewayHarness.with { gateway in
            let ids = gateway.simulator.catalog.campaigns.prefix(25).map(\.id)
            let range = DayRange(start: day("2025-03-01"), end: day("2025-05-14"))!
            let answer = try await gateway.call("campaigns.getStats", statsParams(ids, from: "2025-03-01", to: "2025-05-14"))
            let result = answer.json?["result"]
            #expect(result?["windows"]?.arrayValue?.count == 3)
            #expect(result?["by_window"]?.arrayValue?.count == 3)
            #expect(result?["upstream"]?["calls"] == 9)
            let calls = try await gateway.upstreamCalls()
            let breaches = try await gateway.breaches()
            #expect(calls.count == 9)
            #expect(breaches.isEmpty)
            var compared = 0
            for id in ids {
                if let expected = expectedMerged(gateway.simulator, id: id, range: range) {
                    #expect(result?["campaigns"]?[id] == expected, "campaign \(id)")
                    compared += 1
                } else {
                    #expect(result?["missing"]?.arrayValue?.contains(.string(id)) == true, "campaign \(id) should be missing")
                }
            }
            #expect(compared >= 10)
        }
    }

    @Test func servesTheSameQueryAgainFromTheCache() async throws {
        try await GatewayHarness.with { gateway in
            let ids = gateway.simulator.catalog.campaigns.prefix(25).map(\.id)
            let first = try await gateway.call("campaigns.getStats", statsParams(ids, from: "2025-03-01", to: "2025-05-14"))
            let second = try await gateway.call("campaigns.getStats", statsParams(ids, from: "2025-03-01", to: "2025-05-14"))
            #expect(second.json?["result"]?["upstream"]?["calls"] == 0)
            #expect(second.json?["result"]?["upstream"]?["cache_hits"] == 75)
            #expect(second.json?["result"]?["campaigns"] == first.json?["result"]?["campaigns"])
            let calls = try await gateway.upstreamCalls()
            #expect(calls.count == 9)
        }
    }

    @Test func coalescesTwentyConcurrentIdenticalQueriesIntoOneQuerysCalls() async throws {
        try await GatewayHarness.with(simulator: GatewayHarness.simulatorConfiguration(faults: .init(latencyMs: 150))) { gateway in
            let ids = gateway.simulator.catalog.campaigns.prefix(25).map(\.id)
            let answers = try await withThrowingTaskGroup(of: JSON?.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await gateway.call("campaigns.getStats", statsParams(ids, from: "2025-03-01", to: "2025-05-14")).json?["result"]
                    }
                }
                var all: [JSON?] = []
                for try await answer in group { all.append(answer) }
                return all
            }
            let calls = try await gateway.upstreamCalls()
            #expect(calls.count == 9)
            #expect(answers.allSatisfy { $0?["campaigns"] != nil && $0?["campaigns"] == answers[0]?["campaigns"] })
            let coalesced = answers.compactMap { $0?["upstream"]?["coalesced"]?.intValue }.reduce(0, +)
            let spent = answers.compactMap { $0?["upstream"]?["calls"]?.intValue }.reduce(0, +)
            #expect(spent == 9)
            #expect(coalesced > 0)
        }
    }

    @Test func identicalQueriesAtTheBudgetsEdgeAllJoinTheOneThatFits() async throws {
        // The budget fits one query's 9 calls a minute: 40 identical ones at once all join it.
        let yaml = GatewayHarness.yaml(mainRateLimits: "[{calls: 9, per_seconds: 60}]")
        try await GatewayHarness.with(simulator: GatewayHarness.simulatorConfiguration(faults: .init(latencyMs: 150)), yaml: yaml) { gateway in
            let ids = gateway.simulator.catalog.campaigns.prefix(25).map(\.id)
            let params = statsParams(ids, from: "2025-03-01", to: "2025-05-14", extra: ["timeout_ms": 10_000])
            let answers = try await withThrowingTaskGroup(of: JSON?.self) { group in
                for _ in 0..<40 { group.addTask { try await gateway.call("campaigns.getStats", params).json } }
                var all: [JSON?] = []
                for try await answer in group { all.append(answer) }
                return all
            }
            #expect(answers.allSatisfy { $0?["result"]?["campaigns"] != nil }, "\(answers.compactMap { $0?["error"] }.prefix(3))")
            #expect(try await gateway.upstreamCalls().count == 9)
        }
    }

    /// One call per 4 s, each taking 3 s: while a first call is in flight, the next can be granted
    /// only 4 s after it is answered, however long the machine takes to send the next request.
    private static let slowAndScarce = (
        yaml: GatewayHarness.yaml(extra: "upstream: {safety_margin_ms: 0}", mainRateLimits: "[{calls: 1, per_seconds: 4}]"),
        simulator: GatewayHarness.simulatorConfiguration(faults: .init(latencyMs: 3_000))
    )

    @Test func aRefusedQueryLeavesNoCallBehindForTheNextOne() async throws {
        try await GatewayHarness.with(simulator: Self.slowAndScarce.simulator, yaml: Self.slowAndScarce.yaml) { gateway in
            let ids = gateway.simulator.catalog.campaigns.prefix(20).map(\.id)
            async let first = gateway.call("campaigns.getStats", statsParams(Array(ids[0..<10]), from: "2025-03-01", to: "2025-03-30"))
            try await Task.sleep(for: .milliseconds(500))
            let question = { (timeoutMs: Int) in
                statsParams(Array(ids[10..<20]), from: "2025-03-01", to: "2025-03-30", extra: ["timeout_ms": .int(timeoutMs)])
            }
            let refused = try await gateway.call("campaigns.getStats", question(1_500)).json
            #expect(refused?["error"]?["code"] == -32029, "\(refused ?? nil)")
            #expect(try await first.json?["result"] != nil)
            let again = try await gateway.call("campaigns.getStats", question(30_000))
            #expect(again.json?["result"]?["upstream"]?["calls"] == 1, "asked afresh, not joined to the refused query's call: \(again.json ?? nil)")
        }
    }

    @Test func aQueryJoiningACallAnsweredAfterItsDeadlineIsRefusedAtOnce() async throws {
        try await GatewayHarness.with(simulator: Self.slowAndScarce.simulator, yaml: Self.slowAndScarce.yaml) { gateway in
            let ids = gateway.simulator.catalog.campaigns.prefix(20).map(\.id)
            async let first = gateway.call("campaigns.getStats", statsParams(Array(ids[0..<10]), from: "2025-03-01", to: "2025-03-30"))
            try await Task.sleep(for: .milliseconds(500))
            // Its call is granted 4 s after the first is answered; the same question with a 2 s deadline joins it.
            let later = statsParams(Array(ids[10..<20]), from: "2025-03-01", to: "2025-03-30", extra: ["timeout_ms": 30_000])
            async let patient = gateway.call("campaigns.getStats", later)
            try await Task.sleep(for: .seconds(1))
            let hurried = try await gateway.call(
                "campaigns.getStats", statsParams(Array(ids[10..<20]), from: "2025-03-01", to: "2025-03-30", extra: ["timeout_ms": 2_000])).json
            #expect(hurried?["error"]?["code"] == -32029, "refused at once, not timed out at its deadline: \(hurried ?? nil)")
            #expect(try await first.json?["result"] != nil)
            #expect(try await patient.json?["result"]?["upstream"]?["calls"] == 1)
        }
    }

    @Test func fetchesOnlyTheCampaignsAnOverlappingQueryLacks() async throws {
        try await GatewayHarness.with { gateway in
            let ids = gateway.simulator.catalog.campaigns.prefix(40).map(\.id)
            _ = try await gateway.call("campaigns.getStats", statsParams(Array(ids[0..<25]), from: "2025-03-01", to: "2025-03-30"))
            let second = try await gateway.call("campaigns.getStats", statsParams(Array(ids[19..<40]), from: "2025-03-01", to: "2025-03-30"))
            #expect(second.json?["result"]?["upstream"]?["calls"] == 2)
            #expect(second.json?["result"]?["upstream"]?["cache_hits"] == 6)
            let calls = try await gateway.upstreamCalls()
            let secondIDs = calls.dropFirst(3).flatMap { $0["body"]?["campaign_ids"]?.arrayValue ?? [] }.compactMap(\.stringValue)
            #expect(Set(secondIDs) == Set(ids[25..<40]))
        }
    }

    @Test func listsEveryActiveCampaignOverFortyFiveDays() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.call("campaigns.getStats", ["workspace": "main", "start_date": "2025-06-01", "end_date": "2025-07-15"])
            let result = answer.json?["result"]
            let windows = StatsWindows.of("2025-06-01", "2025-07-15")
            let expected = Set(gateway.simulator.catalog.campaigns(activeIn: DayRange(start: day("2025-06-01"), end: day("2025-07-15"))!).map(\.id))
            #expect(Set(result?["campaigns"]?.objectValue?.keys.map { $0 } ?? []) == expected)
            let pages = windows.reduce(0) { $0 + (gateway.simulator.catalog.campaigns(activeIn: $1).count + 9) / 10 }
            #expect(result?["upstream"]?["calls"] == .int(pages))
        }
    }

    @Test func answersUniqueOverSeveralWindowsPerWindowOnly() async throws {
        try await GatewayHarness.with { gateway in
            let ids = gateway.simulator.catalog.campaigns.prefix(12).map(\.id)
            let answer = try await gateway.call(
                "campaigns.getStats", statsParams(ids, from: "2025-06-01", to: "2025-07-15", extra: ["metric_type": "UNIQUE"]))
            let result = answer.json?["result"]
            #expect(result?["campaigns"] == .null)
            let byWindow = result?["by_window"]?.arrayValue ?? []
            #expect(byWindow.count == 2)
            for (index, window) in StatsWindows.of("2025-06-01", "2025-07-15").enumerated() {
                for id in ids {
                    #expect(
                        byWindow[index]["campaigns"]?[id] == expectedWindow(gateway.simulator, id: id, range: window, metric: "UNIQUE"),
                        "\(id) window \(index)")
                }
            }
        }
    }
}

@Suite struct StatsEngineBudgetTests {
    private static let lowRate = GatewayHarness.simulatorConfiguration(rateLimits: [RollingLimit(calls: 5, perSeconds: 2)])
    private static let lowRateYAML = GatewayHarness.yaml(extra: "upstream: {safety_margin_ms: 300}", mainRateLimits: "[{calls: 5, per_seconds: 2}]")

    @Test func completesAPlanLargerThanOneWindowOfBudgetWithoutA429() async throws {
        try await GatewayHarness.with(simulator: Self.lowRate, yaml: Self.lowRateYAML) { gateway in
            let ids = (0..<120).map { "unknown-\($0)" }
            let answer = try await gateway.call(
                "campaigns.getStats", statsParams(ids, from: "2025-03-01", to: "2025-03-10", extra: ["timeout_ms": 90_000]))
            #expect(answer.json?["result"]?["upstream"]?["calls"] == 12)
            #expect(answer.json?["result"]?["missing"]?.arrayValue?.count == 120)
            let calls = try await gateway.upstreamCalls()
            let breaches = try await gateway.breaches()
            #expect(calls.count == 12)
            #expect(calls.allSatisfy { $0["status"] == 200 })
            #expect(breaches.isEmpty)
        }
    }

    @Test func refusesUpFrontAPlanTheBudgetCannotServeBeforeTheDeadline() async throws {
        try await GatewayHarness.with(simulator: Self.lowRate, yaml: Self.lowRateYAML) { gateway in
            let ids = (0..<120).map { "unknown-\($0)" }
            let answer = try await gateway.call(
                "campaigns.getStats", statsParams(ids, from: "2025-03-01", to: "2025-03-10", extra: ["timeout_ms": 1_000]))
            #expect(answer.json?["error"]?["code"] == -32029)
            #expect((answer.json?["error"]?["data"]?["retry_after_ms"]?.intValue ?? 0) > 0)
            #expect(answer.json?["error"]?["data"]?["estimated_calls"] == 12)
            let calls = try await gateway.upstreamCalls()
            #expect(calls.isEmpty)
            let plan = try await gateway.call("campaigns.getStats", statsParams(ids, from: "2025-03-01", to: "2025-03-10", extra: ["dry_run": true]))
            #expect((plan.json?["result"]?["plan"]?["earliest_completion_ms"]?.intValue ?? 0) > 2_000)
        }
    }

    @Test func answers429WithRetryAfterAtTheConnectPathWhenTheBudgetCannotServe() async throws {
        try await GatewayHarness.with(simulator: Self.lowRate, yaml: Self.lowRateYAML) { gateway in
            let ids = (0..<120).map { "unknown-\($0)" }
            let answer = try await gateway.connect(
                "/gateway.v1.CampaignService/GetStats", statsParams(ids, from: "2025-03-01", to: "2025-03-10", extra: ["timeout_ms": 1_000]))
            #expect(answer.status == 429)
            #expect(answer.json?["code"] == "resource_exhausted")
            #expect((answer.header("Retry-After").flatMap(Int.init) ?? 0) >= 1)
            #expect(answer.json?["data"]?["retry_after_ms"] != nil)
        }
    }

    @Test func aSmallCallersQueryIsNotStarvedByALargeOne() async throws {
        try await GatewayHarness.with(simulator: Self.lowRate, yaml: Self.lowRateYAML) { gateway in
            let order = CompletionOrder()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let ids = (0..<200).map { "big-\($0)" }
                    let answer = try await gateway.call(
                        "campaigns.getStats", statsParams(ids, from: "2025-03-01", to: "2025-03-10", extra: ["timeout_ms": 90_000]))
                    #expect(answer.json?["result"]?["upstream"]?["calls"] == 20)
                    await order.record("big")
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(400))
                    let answer = try await gateway.call(
                        "campaigns.getStats", statsParams(["small-1"], from: "2025-03-01", to: "2025-03-10", extra: ["timeout_ms": 90_000]),
                        token: TestSecrets.soloToken)
                    #expect(answer.json?["result"]?["upstream"]?["calls"] == 1)
                    await order.record("small")
                }
                try await group.waitForAll()
            }
            #expect(await order.names == ["small", "big"])
            let breaches = try await gateway.breaches()
            #expect(breaches.isEmpty)
        }
    }
}

@Suite struct StatsEngineFaultTests {
    @Test func answersCorrectFiguresOrUpstreamFailedUnderThirtyPercentServerErrors() async throws {
        try await GatewayHarness.with(simulator: GatewayHarness.simulatorConfiguration(faults: .init(serverErrorRate: 0.3))) { gateway in
            let ids = gateway.simulator.catalog.campaigns.prefix(15).map(\.id)
            var served = 0
            for month in ["01", "02", "04", "06", "09", "11"] {
                let start = "2025-\(month)-01"
                let end = "2025-\(month)-28"
                let answer = try await gateway.call("campaigns.getStats", statsParams(ids, from: start, to: end))
                if let result = answer.json?["result"] {
                    served += 1
                    let range = DayRange(start: day(start), end: day(end))!
                    for id in ids {
                        #expect(
                            result["campaigns"]?[id] == expectedWindow(gateway.simulator, id: id, range: range, metric: "TOTAL"), "\(id) in \(month)")
                    }
                } else {
                    #expect(answer.json?["error"]?["code"] == -32050)
                }
            }
            #expect(served > 0)
            let breaches = try await gateway.breaches()
            #expect(breaches.isEmpty)
        }
    }

    @Test func retriesInjected429sAndStillAnswersWithoutBreachingTheLimit() async throws {
        try await GatewayHarness.with(simulator: GatewayHarness.simulatorConfiguration(faults: .init(tooManyRequestsRate: 0.4))) { gateway in
            let ids = gateway.simulator.catalog.campaigns.prefix(30).map(\.id)
            let answer = try await gateway.call("campaigns.getStats", statsParams(ids, from: "2025-03-01", to: "2025-03-30"))
            #expect(answer.json?["result"]?["campaigns"] != nil)
            #expect((answer.json?["result"]?["upstream"]?["calls"]?.intValue ?? 0) > 3)
            let breaches = try await gateway.breaches()
            #expect(breaches.isEmpty)
        }
    }

    @Test func servesAnExpiredEntryFlaggedStaleWhenTheUpstreamFails() async throws {
        try await GatewayHarness.with(yaml: GatewayHarness.yaml(extra: "cache: {fresh_ttl_s: 0, settled_ttl_s: 0}")) { gateway in
            let ids = Array(gateway.simulator.catalog.campaigns.prefix(3).map(\.id))
            let fresh = try await gateway.call("campaigns.getStats", statsParams(ids, from: "2025-03-01", to: "2025-03-30"))
            #expect(fresh.json?["result"]?["stale"] == false)
            try await gateway.setFaults(["fail_500": 1])
            let stale = try await gateway.call("campaigns.getStats", statsParams(ids, from: "2025-03-01", to: "2025-03-30"))
            #expect(stale.json?["result"]?["stale"] == true)
            #expect(stale.json?["result"]?["stale_age_s"]?.intValue != nil)
            #expect(stale.json?["result"]?["campaigns"] == fresh.json?["result"]?["campaigns"])
            let uncached = try await gateway.call("campaigns.getStats", statsParams(["never-seen"], from: "2025-03-01", to: "2025-03-30"))
            #expect(uncached.json?["error"]?["code"] == -32050)
        }
    }
}

/// Records the order in which concurrent tasks finish.
actor CompletionOrder {
    private(set) var names: [String] = []
    func record(_ name: String) { names.append(name) }
}

/// The windows the gateway plans for a range.
enum StatsWindows {
    static func of(_ start: String, _ end: String) -> [DayRange] {
        var windows: [DayRange] = []
        var cursor = day(start)
        while cursor <= day(end) {
            let last = min(cursor.adding(days: 29), day(end))
            windows.append(DayRange(start: cursor, end: last)!)
            cursor = last.adding(days: 1)
        }
        return windows
    }
}
