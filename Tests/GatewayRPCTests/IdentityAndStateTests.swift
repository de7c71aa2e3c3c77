import DynamicJSON
import Foundation
import GatewayConfig
import MoEngageSimulator
import Testing

/// Who a caller is, which account a workspace spends, what a caller can learn about workspaces,
/// and state that must stay bounded or be reported as of the answer.
private func params(_ ids: [String], workspace: String = "main", extra: [String: JSON] = [:]) -> JSON {
    let members: [String: JSON] = [
        "workspace": .string(workspace), "campaign_ids": .array(ids.map(JSON.string)), "start_date": "2025-03-01", "end_date": "2025-03-30",
    ]
    return .object(members.merging(extra) { _, new in new })
}

@Suite struct IdentityAndStateTests {
    @Test func refusesAConfigWhereTwoCallersShareAToken() throws {
        let yaml = """
            workspaces:
              main: {base_url: "http://127.0.0.1:1", workspace_id: W, api_key_env: KEY}
            callers:
              - {name: first, token_env: TOKEN_A, workspaces: [main]}
              - {name: second, token_env: TOKEN_B, workspaces: ["*"]}
            """
        let configuration = try ConfigLoader.parse(yaml)
        #expect(throws: ConfigError.self) {
            try SecretResolver(environment: ["KEY": "k", "TOKEN_A": "same-token", "TOKEN_B": "same-token"]).resolve(configuration)
        }
        let distinct = try SecretResolver(environment: ["KEY": "k", "TOKEN_A": "token-a", "TOKEN_B": "token-b"]).resolve(configuration)
        #expect(distinct.tokenDigests.count == 2)
    }

    @Test func twoWorkspaceNamesOfOneMoEngageWorkspaceShareOneBudget() async throws {
        let limits = "[{calls: 5, per_seconds: 1}]"
        let yaml = GatewayHarness.yaml(mainRateLimits: limits).replacingOccurrences(
            of: "workspaces:\n",
            with: "workspaces:\n  alias: {provider: moengage, base_url: SIM, workspace_id: WS_MAIN, api_key_env: MAIN_KEY, rate_limits: \(limits)}\n")
        let simulator = GatewayHarness.simulatorConfiguration(rateLimits: [RollingLimit(calls: 5, perSeconds: 1)])
        try await GatewayHarness.with(simulator: simulator, yaml: yaml) { gateway in
            async let viaMain = gateway.call("campaigns.getStats", params((0..<50).map { "m\($0)" }), token: TestSecrets.adminToken)
            async let viaAlias = gateway.call(
                "campaigns.getStats", params((0..<50).map { "a\($0)" }, workspace: "alias"), token: TestSecrets.adminToken)
            let answers = try await [viaMain, viaAlias]
            #expect(answers.allSatisfy { $0.json?["result"]?["upstream"]?["calls"] == 5 })
            #expect(try await gateway.breaches().isEmpty, "both names spend WS_MAIN's one budget")
        }
    }

    @Test func twoMigmaWorkspaceNamesHoldingOneKeyShareOneBudget() async throws {
        try await expectOneMigmaBudget(
            first: "mig1: {provider: migma, base_url: SIM, api_key_env: MIGMA_KEY, rate_limits: [{calls: 3, per_seconds: 60}]}",
            second: "mig2: {provider: migma, base_url: SIM, api_key_env: MIGMA_KEY_COPY, rate_limits: [{calls: 3, per_seconds: 60}]}",
            secondKey: ("MIGMA_KEY_COPY", TestSecrets.migmaKey))
    }

    @Test func workspaceNamesInOneBudgetGroupShareOneBudgetWhateverTheirKeys() async throws {
        try await expectOneMigmaBudget(
            first: "mig1: {provider: migma, base_url: SIM, api_key_env: MIGMA_KEY, budget_group: acme, rate_limits: [{calls: 3, per_seconds: 60}]}",
            second: "mig2: {provider: migma, base_url: SIM, api_key_env: SECOND_KEY, budget_group: acme, rate_limits: [{calls: 3, per_seconds: 60}]}",
            secondKey: ("SECOND_KEY", "second-migma-key-of-acme"))
    }

    /// Two Migma workspace names (YAML entries `mig1` and `mig2`) on the simulator's one account
    /// (3 calls a minute), spent at once: one request fits, and the account sees no breach.
    private func expectOneMigmaBudget(first: String, second: String, secondKey: (env: String, value: String)) async throws {
        let yaml = GatewayHarness.yaml().replacingOccurrences(of: "workspaces:\n", with: "workspaces:\n  \(first)\n  \(second)\n")
        var environment = TestSecrets.environment
        environment[secondKey.env] = secondKey.value
        let simulator = GatewayHarness.simulatorConfiguration(
            migmaRateLimits: [RollingLimit(calls: 3, perSeconds: 60)],
            migmaKeys: Dictionary([(TestSecrets.migmaKey, "ACME"), (secondKey.value, "ACME")]) { account, _ in account })
        try await GatewayHarness.with(simulator: simulator, yaml: yaml, environment: environment) { gateway in
            async let viaFirst = gateway.call(
                "campaigns.getStats", ["workspace": "mig1", "campaign_ids": ["m1", "m2", "m3"], "timeout_ms": 5_000], token: TestSecrets.adminToken)
            async let viaSecond = gateway.call(
                "campaigns.getStats", ["workspace": "mig2", "campaign_ids": ["n1", "n2", "n3"], "timeout_ms": 5_000], token: TestSecrets.adminToken)
            let answers = try await [viaFirst, viaSecond]
            #expect(answers.filter { $0.json?["result"] != nil }.count == 1, "one account, three calls a minute: one request fits")
            #expect(try await gateway.breaches().isEmpty)
        }
    }

    @Test(arguments: ["../x", ".", "a.b", "a/b", "id with space", String(repeating: "a", count: 65), "é"])
    func refusesCampaignIDsOutsideTheOneRule(id: String) async throws {
        try await GatewayHarness.with { gateway in
            let stats = try await gateway.call("campaigns.getStats", ["workspace": "mig", "campaign_ids": [.string(id)]])
            #expect(stats.json?["error"]?["code"] == -32602)
            #expect(stats.json?["error"]?["data"]?["field"] == "campaign_ids")
            let list = try await gateway.call("campaigns.list", ["workspace": "main", "campaign_ids": [.string(id)]])
            #expect(list.json?["error"]?["code"] == -32602)
            #expect(try await gateway.upstreamCalls().isEmpty)
        }
    }

    @Test func aScopedCallerCannotTellUnknownWorkspacesFromForbiddenOnes() async throws {
        try await GatewayHarness.with { gateway in
            for name in ["nope", "other"] {
                let answer = try await gateway.call("campaigns.list", ["workspace": .string(name)], token: TestSecrets.narrowToken)
                #expect(answer.json?["error"]?["code"] == -32003, "\(name)")
                #expect(answer.json?["error"]?["data"]?["workspace"] == .string(name))
            }
            let zip = try await gateway.send("/reports/daily/nope/20250301.zip", body: nil, token: TestSecrets.soloToken, method: "GET")
            #expect(zip.status == 403)
            let admin = try await gateway.call("campaigns.list", ["workspace": "nope"], token: TestSecrets.adminToken)
            #expect(admin.json?["error"]?["code"] == -32602)
            #expect(admin.json?["error"]?["data"]?["field"] == "workspace")
        }
    }

    @Test func remembersListingSizesOnlyWithinTheCachesByteBound() async throws {
        let yaml = GatewayHarness.yaml(limits: ["max_body_bytes": 1 << 20], extra: "cache: {max_bytes: 1500000, fresh_ttl_s: 0}")
        try await GatewayHarness.with(yaml: yaml) { gateway in
            func name(_ index: Int) -> JSON { .string(String(repeating: Character(String(index)), count: 400_000)) }
            _ = try await gateway.call("campaigns.list", ["workspace": "main", "name": name(0)])
            let remembered = try await gateway.call(
                "campaigns.list", ["workspace": "main", "name": name(0), "campaign_ids": ["x1", "x2"], "dry_run": true])
            #expect(remembered.json?["result"]?["plan"]?["strategy"] == "list_and_filter")
            for index in 1...5 {
                _ = try await gateway.call("campaigns.list", ["workspace": "main", "name": name(index)])
            }
            let forgotten = try await gateway.call(
                "campaigns.list", ["workspace": "main", "name": name(0), "campaign_ids": ["x1", "x2"], "dry_run": true])
            #expect(forgotten.json?["result"]?["plan"]?["strategy"] == "id_filter", "the listing was evicted, and what it cost with it")
        }
    }

    @Test func reportsStaleAgeAsOfTheAnswer() async throws {
        try await GatewayHarness.with(yaml: GatewayHarness.yaml(extra: "cache: {fresh_ttl_s: 1, settled_ttl_s: 1}")) { gateway in
            let ids = [gateway.alwaysActiveIDs[0]]
            let fresh = try await gateway.call("campaigns.getStats", params(ids))
            let stored = ContinuousClock.now
            #expect(fresh.json?["result"]?["stale"] == false)
            try await Task.sleep(for: .milliseconds(1_200))
            try await gateway.setFaults(["fail_500": 1, "latency_ms": 1_500])
            let stale = try await gateway.call("campaigns.getStats", params(ids))
            let elapsed = ContinuousClock.now - stored
            #expect(stale.json?["result"]?["stale"] == true)
            let age = stale.json?["result"]?["stale_age_s"]?.intValue ?? -1
            #expect(age >= Int(elapsed.components.seconds) - 1, "stale_age_s \(age) measured before the retries, not at answer time")
        }
    }
}
