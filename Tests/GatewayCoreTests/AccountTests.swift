import GatewayConfig
import GatewayCore
import Testing

/// Which workspace names spend one upstream account (one budget, one set of shared cache entries).
@Suite struct AccountTests {
    private func accounts(_ entries: String) throws -> [String: String] {
        let configuration = try ConfigLoader.parse(
            """
            listen: {host: 127.0.0.1, port: 0}
            workspaces:
            \(entries)
            callers: [{name: unused, token_env: UNUSED_TOKEN, workspaces: ["*"]}]
            """)
        return Dictionary(
            uniqueKeysWithValues: configuration.workspaces.map {
                ($0.name, UpstreamWorkspace(configuration: $0, apiKey: nil, secretKey: nil).account)
            })
    }

    @Test func oneMoEngageWorkspaceIDAtTwoDataCentresIsTwoAccounts() throws {
        let accounts = try accounts(
            """
              eu: {provider: moengage, base_url: "https://api-02.moengage.com", workspace_id: ACME, api_key_env: K1}
              us: {provider: moengage, base_url: "https://api-01.moengage.com", workspace_id: ACME, api_key_env: K1}
              eu_again: {provider: moengage, base_url: "https://API-02.moengage.com:443/", workspace_id: ACME, api_key_env: K2}
            """)
        #expect(accounts["eu"] != accounts["us"], "same id, other data centre: other limits, other data")
        #expect(accounts["eu"] == accounts["eu_again"], "same host and id, whatever the key or spelling: one account")
    }
}
