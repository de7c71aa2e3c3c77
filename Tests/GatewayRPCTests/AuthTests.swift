import DynamicJSON
import Foundation
import Testing

@Suite struct AuthTests {
    private let params: JSON = ["workspace": "main", "campaign_ids": ["x"], "start_date": "2025-03-01", "end_date": "2025-03-02"]

    @Test(arguments: [nil, "wrong-token", ""])
    func answers401WithoutAValidToken(token: String?) async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.call("campaigns.getStats", params, token: token)
            #expect(answer.status == 401)
            #expect(answer.json?["error"]?["code"] == -32001)
            let calls = try await gateway.upstreamCalls()
            #expect(calls.isEmpty)
        }
    }

    @Test func answers401ForANonBearerScheme() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.send("/rpc", body: Data(), token: nil, headers: [("Authorization", "Basic \(TestSecrets.reportingToken)")])
            #expect(answer.status == 401)
        }
    }

    @Test func refusesAWorkspaceTheCallerMayNotUse() async throws {
        try await GatewayHarness.with { gateway in
            var forOther = params
            if case .object(var members) = forOther { members["workspace"] = "other"; forOther = .object(members) }
            let answer = try await gateway.call("campaigns.getStats", forOther, token: TestSecrets.soloToken)
            #expect(answer.json?["error"]?["code"] == -32003)
            #expect(answer.json?["error"]?["data"]?["workspace"] == "other")
        }
    }

    @Test func refusesAMethodOutsideTheCallersScopes() async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.call("campaigns.getStats", params, token: TestSecrets.narrowToken)
            #expect(answer.json?["error"]?["code"] == -32003)
            #expect(answer.json?["error"]?["data"]?["method"] == "campaigns.getStats")
        }
    }

    @Test func usesTheCallersOnlyWorkspaceWhenNoneIsNamed() async throws {
        try await GatewayHarness.with { gateway in
            let id = gateway.alwaysActiveIDs[0]
            let solo = try await gateway.call(
                "campaigns.getStats", ["campaign_ids": [.string(id)], "start_date": "2025-03-01", "end_date": "2025-03-02"],
                token: TestSecrets.soloToken)
            #expect(solo.json?["result"]?["workspace"] == "main")
            let several = try await gateway.call(
                "campaigns.getStats", ["campaign_ids": [.string(id)], "start_date": "2025-03-01", "end_date": "2025-03-02"])
            #expect(several.json?["error"]?["data"]?["field"] == "workspace")
        }
    }
}
