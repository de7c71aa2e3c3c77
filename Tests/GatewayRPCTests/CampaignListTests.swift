import Dates
import DynamicJSON
import MoEngageSimulator
import Testing

private func ids(_ campaigns: JSON?) -> [String] {
    campaigns?.arrayValue?.compactMap { $0["campaign_id"]?.stringValue } ?? []
}

@Suite struct CampaignListTests {
    @Test func walksEveryPageIncludingTheEmptyOneAfterAnExactMultiple() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.call("campaigns.list", ["workspace": "main"])
            let parents = gateway.simulator.catalog.meta.filter { $0.parentID == nil }
            #expect(parents.count == 60)
            #expect(ids(answer.json?["result"]?["campaigns"]) == parents.map(\.id))
            #expect(answer.json?["result"]?["campaigns"]?.arrayValue?.first == parents.first?.object)
            let calls = try await gateway.upstreamCalls()
            #expect(calls.count == 5, "60 campaigns = 4 full pages, then the empty 5th")
            #expect(calls.map { $0["body"]?["page"]?.intValue } == [1, 2, 3, 4, 5])
            #expect(calls.allSatisfy { $0["body"]?["limit"] == 15 && $0["auth"] == "valid" })
            let again = try await gateway.call("campaigns.list", ["workspace": "main"])
            #expect(again.json?["result"]?["upstream"]?["calls"] == 0)
        }
    }

    @Test func filtersAsTheSimulatorDoesAndConvertsDatesToDayMonthYear() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.call(
                "campaigns.list", ["workspace": "main", "channels": ["EMAIL", "PUSH"], "created_from": "2025-01-01", "created_to": "2025-12-31"])
            let from = CalendarDay(iso: "2025-01-01")!
            let to = CalendarDay(iso: "2025-12-31")!
            let expected = gateway.simulator.catalog.meta.filter {
                $0.parentID == nil && ["EMAIL", "PUSH"].contains($0.object["channel"]?.stringValue ?? "") && $0.createdOn >= from
                    && $0.createdOn <= to
            }
            #expect(expected.count > 15)
            #expect(ids(answer.json?["result"]?["campaigns"]) == expected.map(\.id))
            let calls = try await gateway.upstreamCalls()
            #expect(calls.first?["body"]?["campaign_fields"]?["created_date"] == ["from_date": "01-01-2025", "to_date": "31-12-2025"])
            #expect(calls.allSatisfy { $0["status"] == 200 })
        }
    }

    @Test func groupsChildrenUnderTheirParents() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.call(
                "campaigns.list", ["workspace": "main", "include_child_campaigns": true, "delivery_type": ["PERIODIC"]])
            let campaigns = answer.json?["result"]?["campaigns"]?.arrayValue ?? []
            let parents = campaigns.filter { $0["parent_campaign_id"] == nil }
            #expect(!parents.isEmpty)
            for parent in parents {
                let parentID = parent["campaign_id"]?.stringValue ?? ""
                let children = campaigns.filter { $0["parent_campaign_id"]?.stringValue == parentID }.compactMap { $0["campaign_id"] }
                #expect(children.count == 2)
                #expect(parent["children"] == .array(children))
            }
        }
    }

    @Test(arguments: MetaEnvelope.allCases)
    func acceptsEveryEnvelope(envelope: MetaEnvelope) async throws {
        try await GatewayHarness.with(simulator: GatewayHarness.simulatorConfiguration(metaEnvelope: envelope)) { gateway in
            let answer = try await gateway.call("campaigns.list", ["workspace": "main", "status": ["SCHEDULED"]])
            let expected = gateway.simulator.catalog.meta.filter { $0.parentID == nil && $0.object["campaign_status"] == "Scheduled" }
            #expect(ids(answer.json?["result"]?["campaigns"]) == expected.map(\.id))
            #expect(expected.contains { $0.object["reachability_details"] != nil })
        }
    }

    @Test func asksPerIDUntilAListingIsKnownThenFiltersTheCachedListing() async throws {
        try await GatewayHarness.with { gateway in
            let wanted = gateway.simulator.catalog.meta.filter { $0.parentID == nil }.prefix(3).map(\.id)
            let plan = try await gateway.call(
                "campaigns.list", ["workspace": "main", "campaign_ids": .array(wanted.map(JSON.string)), "dry_run": true])
            #expect(plan.json?["result"]?["plan"]?["strategy"] == "id_filter")
            #expect(plan.json?["result"]?["plan"]?["estimated_calls"] == 3)
            let perID = try await gateway.call("campaigns.list", ["workspace": "main", "campaign_ids": .array(wanted.map(JSON.string))])
            #expect(ids(perID.json?["result"]?["campaigns"]) == wanted)
            #expect(perID.json?["result"]?["upstream"]?["calls"] == 3)
            let calls = try await gateway.upstreamCalls()
            #expect(Set(calls.compactMap { $0["body"]?["campaign_fields"]?["id"]?.stringValue }) == Set(wanted))
            _ = try await gateway.call("campaigns.list", ["workspace": "main"])
            let others = gateway.simulator.catalog.meta.filter { $0.parentID == nil }.suffix(4).map(\.id)
            let filtered = try await gateway.call("campaigns.list", ["workspace": "main", "campaign_ids": .array(others.map(JSON.string))])
            #expect(ids(filtered.json?["result"]?["campaigns"]) == others)
            #expect(filtered.json?["result"]?["upstream"]?["calls"] == 0)
        }
    }

    @Test func refusesBadParamsAndMigmaWorkspaces() async throws {
        try await GatewayHarness.with { gateway in
            let oneDate = try await gateway.call("campaigns.list", ["workspace": "main", "created_from": "2025-01-01"])
            #expect(oneDate.json?["error"]?["data"]?["field"] == "created_to")
            let reversed = try await gateway.call("campaigns.list", ["workspace": "main", "created_from": "2025-02-01", "created_to": "2025-01-01"])
            #expect(reversed.json?["error"]?["code"] == -32602)
            let migma = try await gateway.call("campaigns.list", ["workspace": "mig"])
            #expect(migma.json?["error"]?["data"]?["reason"]?.stringValue?.contains("migma") == true)
            let calls = try await gateway.upstreamCalls()
            #expect(calls.isEmpty)
        }
    }

    @Test func mapsTheMetaErrorShapeWithoutEchoingSecrets() async throws {
        var environment = TestSecrets.environment
        environment["MAIN_KEY"] = "stale-meta-key-77"
        try await GatewayHarness.with(environment: environment) { gateway in
            let answer = try await gateway.call("campaigns.list", ["workspace": "main"])
            #expect(answer.json?["error"]?["data"]?["upstream_status"] == 401)
            #expect(answer.json?["error"]?["data"]?["code"] == "401 Authentication error")
            #expect(!answer.text.contains("stale-meta-key-77"))
        }
    }

    @Test func isReachableAtItsConnectPath() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.connect("/gateway.v1.CampaignService/List", ["workspace": "main", "status": ["SCHEDULED"]])
            #expect(answer.status == 200)
            #expect(answer.json?["campaigns"]?.arrayValue?.isEmpty == false)
        }
    }
}
