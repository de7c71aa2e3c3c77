import GatewayConfig
import GatewayCore

/// Workspaces the budget tests configure.
enum BudgetFixtures {
    /// One workspace `main` with the given limits (YAML), as the gateway would load it.
    static func workspaces(_ limits: String) throws -> [UpstreamWorkspace] {
        let configuration = try ConfigLoader.parse(
            """
            listen: {host: 127.0.0.1, port: 0}
            workspaces:
              main: {provider: moengage, base_url: "http://127.0.0.1:1", workspace_id: WS_MAIN, api_key_env: UNUSED_KEY, rate_limits: \(limits)}
            callers: [{name: unused, token_env: UNUSED_TOKEN, workspaces: [main]}]
            """)
        return configuration.workspaces.map { UpstreamWorkspace(configuration: $0, apiKey: nil, secretKey: nil) }
    }
}
