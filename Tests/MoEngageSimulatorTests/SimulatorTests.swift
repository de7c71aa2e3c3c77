import Dates
import DynamicJSON
import MoEngageSimulator
import Testing

@Suite struct SimulatorValidationTests {
    @Test func rejectsMoreThanTenCampaignIDs() async throws {
        try await SimulatorHarness.with { sim in
            let ids = (0..<11).map { "id\($0)" }
            let answer = try await sim.stats(SimulatorHarness.body(ids: ids, from: "2025-03-01", to: "2025-03-02"))
            #expect(answer.status == 400)
            #expect(answer.json?["title"] == "Invalid Field Value")
            #expect(answer.json?["description"]?.stringValue?.hasPrefix("campaign_ids") == true)
        }
    }

    @Test func acceptsThirtyDaysInclusiveAndRejectsThirtyOne() async throws {
        try await SimulatorHarness.with { sim in
            let ok = try await sim.stats(SimulatorHarness.body(ids: nil, from: "2025-01-01", to: "2025-01-30"))
            #expect(ok.status == 200)
            let tooLong = try await sim.stats(SimulatorHarness.body(ids: nil, from: "2025-01-01", to: "2025-01-31"))
            #expect(tooLong.status == 400)
            #expect(tooLong.json?["description"]?.stringValue?.contains("30 days") == true)
        }
    }

    @Test(arguments: [
        ("start_date", JSON.string("2025-02-30")),
        ("end_date", JSON.string("2025/03/01")),
        ("metric_type", JSON.null),
        ("attribution_type", JSON.string("SOMETIMES")),
        ("limit", JSON.int(11)),
        ("offset", JSON.int(-1)),
        ("request_id", JSON.null),
    ])
    func rejectsInvalidFields(field: String, value: JSON) async throws {
        try await SimulatorHarness.with { sim in
            guard case .object(var body) = SimulatorHarness.body(ids: nil, from: "2025-02-01", to: "2025-02-10") else { return }
            body[field] = value.isNull ? nil : value
            let answer = try await sim.stats(.object(body))
            #expect(answer.status == 400)
            #expect(answer.json?["description"]?.stringValue?.hasPrefix(field) == true)
        }
    }

    @Test func rejectsWrongCredentialsAndAnswers403ForAForbiddenWorkspace() async throws {
        let configuration = SimulatorConfiguration(workspaces: ["WS": "key", "NOSTATS": "key2"], forbiddenWorkspaces: ["NOSTATS"])
        try await SimulatorHarness.with(configuration) { sim in
            let body = SimulatorHarness.body(ids: nil, from: "2025-02-01", to: "2025-02-02")
            let wrongKey = try await sim.stats(body, workspace: "WS", key: "wrong")
            let wrongAppKey = try await sim.stats(body, workspace: "WS", key: "key", appKey: "OTHER")
            let forbidden = try await sim.stats(body, workspace: "NOSTATS", key: "key2")
            let valid = try await sim.stats(body, workspace: "WS", key: "key")
            #expect(wrongKey.status == 401)
            #expect(wrongKey.json?["title"] == "Authentication required")
            #expect(wrongAppKey.status == 401)
            #expect(forbidden.status == 403)
            #expect(valid.status == 200)
        }
    }
}

@Suite struct SimulatorRateLimitTests {
    @Test func answers429PastTheRollingLimitAndRecordsABreach() async throws {
        let configuration = SimulatorConfiguration(rateLimits: [RollingLimit(calls: 3, perSeconds: 60), RollingLimit(calls: 100, perSeconds: 1)])
        try await SimulatorHarness.with(configuration) { sim in
            let body = SimulatorHarness.body(ids: nil, from: "2025-02-01", to: "2025-02-02")
            var statuses: [Int] = []
            for _ in 0..<4 { statuses.append(try await sim.stats(body).status) }
            #expect(statuses == [200, 200, 200, 429])
            let log = try await sim.calls()
            #expect(log["calls"]?.arrayValue?.count == 4)
            #expect(log["breaches"]?.arrayValue?.count == 1)
            #expect(log["breaches"]?.arrayValue?.first?["limit"] == "3/60")
        }
    }

    @Test func enforcesEveryLimitOfTheList() async throws {
        let configuration = SimulatorConfiguration(rateLimits: [RollingLimit(calls: 100, perSeconds: 60), RollingLimit(calls: 2, perSeconds: 30)])
        try await SimulatorHarness.with(configuration) { sim in
            let body = SimulatorHarness.body(ids: nil, from: "2025-02-01", to: "2025-02-02")
            var statuses: [Int] = []
            for _ in 0..<3 { statuses.append(try await sim.stats(body).status) }
            #expect(statuses == [200, 200, 429])
        }
    }
}

@Suite struct SimulatorDataTests {
    private func leaf(_ json: JSON?, _ id: String) -> [String: JSON]? {
        json?["data"]?[id]?.arrayValue?.compactMap {
            $0["platforms"]?["ANDROID"]?["locales"]?["all_locales"]?["variations"]?["all_variations"]?["performance_stats"]?.objectValue
        }.first
    }

    @Test func totalFiguresOfTwoWindowsAddUpToTheWholeRange() async throws {
        try await SimulatorHarness.with { sim in
            let id = sim.alwaysActiveIDs[0]
            let first = leaf(try await sim.stats(SimulatorHarness.body(ids: [id], from: "2025-03-01", to: "2025-03-15")).json, id)
            let second = leaf(try await sim.stats(SimulatorHarness.body(ids: [id], from: "2025-03-16", to: "2025-03-30")).json, id)
            let whole = leaf(try await sim.stats(SimulatorHarness.body(ids: [id], from: "2025-03-01", to: "2025-03-30")).json, id)
            for counter in ["attempted", "sent", "delivered", "click", "impression", "opened"] {
                let parts = (first?[counter]?.intValue ?? -1) + (second?[counter]?.intValue ?? -1)
                #expect(parts == whole?[counter]?.intValue, "counter \(counter)")
            }
            let sent = Double(whole?["sent"]?.intValue ?? 0)
            let delivered = Double(whole?["delivered"]?.intValue ?? 0)
            #expect(whole?["delivery_rate"]?.doubleValue == delivered / sent * 100)
        }
    }

    @Test func uniqueFiguresOfTwoWindowsDoNotAddUp() async throws {
        try await SimulatorHarness.with { sim in
            let id = sim.alwaysActiveIDs[0]
            let first = leaf(try await sim.stats(SimulatorHarness.body(ids: [id], from: "2025-03-01", to: "2025-03-15", metric: "UNIQUE")).json, id)
            let second = leaf(try await sim.stats(SimulatorHarness.body(ids: [id], from: "2025-03-16", to: "2025-03-30", metric: "UNIQUE")).json, id)
            let whole = leaf(try await sim.stats(SimulatorHarness.body(ids: [id], from: "2025-03-01", to: "2025-03-30", metric: "UNIQUE")).json, id)
            let parts = (first?["sent"]?.intValue ?? 0) + (second?["sent"]?.intValue ?? 0)
            #expect(whole?["sent"]?.intValue != nil)
            #expect(parts != whole?["sent"]?.intValue)
        }
    }

    @Test func pagesThroughEveryActiveCampaignWithOffsetAndLimit() async throws {
        try await SimulatorHarness.with { sim in
            let range = DayRange(start: CalendarDay(iso: "2025-06-01")!, end: CalendarDay(iso: "2025-06-20")!)!
            let expected = Set(sim.simulator.catalog.campaigns(activeIn: range).map(\.id))
            let first = try await sim.stats(SimulatorHarness.body(ids: nil, from: "2025-06-01", to: "2025-06-20", offset: 0, limit: 10)).json
            #expect(first?["total_campaigns"]?.intValue == expected.count)
            let pages = first?["total_pages"]?.intValue ?? 0
            #expect(pages == (expected.count + 9) / 10)
            var seen = Set(first?["data"]?.objectValue?.keys.map { $0 } ?? [])
            for page in 1..<pages {
                let next = try await sim.stats(SimulatorHarness.body(ids: nil, from: "2025-06-01", to: "2025-06-20", offset: page * 10, limit: 10))
                    .json
                #expect(next?["current_page"]?.intValue == page + 1)
                seen.formUnion(next?["data"]?.objectValue?.keys.map { $0 } ?? [])
            }
            #expect(seen == expected)
        }
    }

    @Test func answersTheSameBytesForTheSameSeed() async throws {
        let body = SimulatorHarness.body(ids: nil, from: "2025-06-01", to: "2025-06-20")
        let first = try await SimulatorHarness.with { try await $0.stats(body).json }
        let second = try await SimulatorHarness.with { try await $0.stats(body).json }
        #expect(first != nil)
        #expect(first == second)
    }

    @Test func injectsServerErrorsAtRoughlyTheConfiguredRate() async throws {
        let configuration = SimulatorConfiguration(faults: FaultInjection(serverErrorRate: 0.5))
        try await SimulatorHarness.with(configuration) { sim in
            let body = SimulatorHarness.body(ids: nil, from: "2025-02-01", to: "2025-02-02")
            var statuses: [Int] = []
            for _ in 0..<40 { statuses.append(try await sim.stats(body).status) }
            let failures = statuses.filter { $0 == 500 }.count
            #expect((8...32).contains(failures))
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 500 })
        }
    }
}
