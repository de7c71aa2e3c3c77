import DynamicJSON
import Testing

@Suite struct ConnectTests {
    private let path = "/gateway.v1.CampaignService/GetStats"

    @Test func servesTheSameResultAsJSONRPC() async throws {
        try await GatewayHarness.with { gateway in
            let id = gateway.alwaysActiveIDs[0]
            let params: JSON = ["workspace": "main", "campaign_ids": [.string(id)], "start_date": "2025-03-01", "end_date": "2025-03-02"]
            let viaConnect = try await gateway.connect(path, params)
            let viaRPC = try await gateway.call("campaigns.getStats", params)
            #expect(viaConnect.status == 200)
            #expect(viaConnect.json?["campaigns"] != nil)
            #expect(viaConnect.json?["campaigns"] == viaRPC.json?["result"]?["campaigns"])
            #expect(viaRPC.json?["result"]?["upstream"]?["cache_hits"] == 1)
        }
    }

    @Test(arguments: [
        (JSON.object(["workspace": "main", "start_date": "2025-02-30", "end_date": "2025-03-01"]), 400, "invalid_argument"),
        (JSON.object(["workspace": "other", "start_date": "2025-03-01", "end_date": "2025-03-01"]), 403, "permission_denied"),
        (
            JSON.object([
                "workspace": "main", "campaign_ids": .array((0..<1_000).map { .string("c\($0)") }), "start_date": "2025-01-01",
                "end_date": "2025-12-31",
            ]), 429, "resource_exhausted"
        ),
    ])
    func mapsErrorsToConnectCodesAndStatuses(params: JSON, status: Int, code: String) async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.connect(path, params, token: TestSecrets.soloToken)
            #expect(answer.status == status)
            #expect(answer.json?["code"] == .string(code))
            #expect(answer.json?["message"]?.stringValue?.isEmpty == false)
        }
    }

    @Test func answers401WithoutAToken() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.connect(path, [:], token: nil)
            #expect(answer.status == 401)
            #expect(answer.json?["code"] == "unauthenticated")
        }
    }

    @Test func answers503ForAnUpstreamFailure() async throws {
        try await GatewayHarness.with(simulator: GatewayHarness.simulatorConfiguration(faults: .init(serverErrorRate: 1))) { gateway in
            let answer = try await gateway.connect(
                path, ["workspace": "main", "campaign_ids": ["x"], "start_date": "2025-03-01", "end_date": "2025-03-01"])
            #expect(answer.status == 503)
            #expect(answer.json?["code"] == "unavailable")
        }
    }

    @Test func honoursConnectTimeoutMs() async throws {
        // As long a deadline as the budget's admission needs on a loaded machine, far shorter than the upstream.
        try await GatewayHarness.with(simulator: GatewayHarness.simulatorConfiguration(faults: .init(latencyMs: 4_000))) { gateway in
            let answer = try await gateway.connect(
                path, ["workspace": "main", "campaign_ids": ["x"], "start_date": "2025-03-01", "end_date": "2025-03-01"],
                headers: [("Content-Type", "application/json"), ("Connect-Timeout-Ms", "1500")])
            #expect(answer.status == 504)
            #expect(answer.json?["code"] == "deadline_exceeded")
        }
    }

    @Test func refusesAContentTypeConnectDoesNotSpeak() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.connect(path, [:], headers: [("Content-Type", "application/xml")])
            #expect(answer.status == 415)
        }
    }
}

@Suite struct ConnectUnknownMethodTests {
    @Test func answersUnimplementedForAnUnknownMethodOfAKnownService() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.connect("/gateway.v1.CampaignService/Delete", [:])
            #expect(answer.status == 501)
            #expect(answer.json?["code"] == "unimplemented")
            let known = try await gateway.connect(
                "/gateway.v1.CampaignService/GetStats",
                ["workspace": "main", "campaign_ids": ["x"], "start_date": "2025-03-01", "end_date": "2025-03-01"])
            #expect(known.status == 200)
        }
    }
}
