import CurlHTTP
import DynamicJSON
import Foundation
import GatewayConfig
import GatewayRPC
import InMemoryLogging
import Logging
import MoEngageSimulator
import ServerTesting
import Testing

/// Secrets used by the harness; tests assert none of them ever leaves the gateway.
enum TestSecrets {
    static let mainKey = "main-key-Zx81-secret"
    static let otherKey = "other-key-Qw22-secret"
    static let reportingToken = "tok-reporting-7f3a"
    static let narrowToken = "tok-narrow-19be"
    static let soloToken = "tok-solo-55c1"
    static let migmaKey = "migma-key-Hh31-secret"
    static let mainReportSecret = "report-secret-Pq90"
    static let adminToken = "tok-admin-a2d9"
    static let all = [mainKey, otherKey, reportingToken, narrowToken, soloToken, migmaKey, mainReportSecret, adminToken]
    static let environment = [
        "MAIN_KEY": mainKey, "OTHER_KEY": otherKey, "REPORTING_TOKEN": reportingToken, "NARROW_TOKEN": narrowToken, "SOLO_TOKEN": soloToken,
        "MIGMA_KEY": migmaKey, "MAIN_REPORT_SECRET": mainReportSecret, "ADMIN_TOKEN": adminToken,
    ]
}

/// An HTTP answer as a test sees it.
struct Answer {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: Data

    var json: JSON? { try? JSON.parse(body) }
    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
}

/// The simulator and the gateway, both in-process on ephemeral loopback ports, talking real HTTP.
struct GatewayHarness {
    let gatewayBase: String
    let simBase: String
    let simulator: MoEngageSimulator
    let client: CurlHTTPClient
    let logs: InMemoryLogHandler
    /// The native gRPC port, when the config has a `grpc` section.
    var grpcPort: Int? = nil

    /// The gateway config; `SIM` is replaced by the simulator's base URL. The default deadline is
    /// long (120 s) so that a loaded CI machine cannot turn slowness into failures; tests of
    /// deadlines set `timeout_ms` themselves. `mainBaseURL` points workspace `main` elsewhere (another
    /// server standing in for MoEngage, or none).
    static func yaml(
        limits: [String: Int] = [:], extra: String = "", mainRateLimits: String = "[{calls: 100, per_seconds: 60}]", mainBaseURL: String = "SIM"
    ) -> String {
        let limitEntries = limits.merging(["request_timeout_ms": 120_000]) { given, _ in given }.sorted { $0.key < $1.key }
            .map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        return
            """
            listen: {host: 127.0.0.1, port: 0}
            workspaces:
              main: {provider: moengage, base_url: \(mainBaseURL), workspace_id: WS_MAIN, api_key_env: MAIN_KEY, secret_key_env: MAIN_REPORT_SECRET, rate_limits: \(mainRateLimits)}
              other: {provider: moengage, base_url: SIM, workspace_id: WS_OTHER, api_key_env: OTHER_KEY}
              mig: {provider: migma, base_url: SIM, api_key_env: MIGMA_KEY, rate_limits: [{calls: 100, per_seconds: 60}]}
            callers:
              - {name: reporting, token_env: REPORTING_TOKEN, workspaces: [main, other, mig], methods: ["campaigns.*", "reports.*"]}
              - {name: narrow, token_env: NARROW_TOKEN, workspaces: [main], methods: ["campaigns.list"]}
              - {name: solo, token_env: SOLO_TOKEN, workspaces: [main], methods: ["*"]}
              - {name: admin, token_env: ADMIN_TOKEN, workspaces: ["*"]}
            limits: {\(limitEntries)}
            \(extra)
            """
    }

    static func simulatorConfiguration(
        faults: FaultInjection = FaultInjection(), forbidden: Set<String> = [],
        rateLimits: [RollingLimit] = [RollingLimit(calls: 100, perSeconds: 60)],
        migmaRateLimits: [RollingLimit] = [RollingLimit(calls: 100, perSeconds: 60)],
        migmaKeys: [String: String] = [TestSecrets.migmaKey: "ACME"],
        metaEnvelope: MetaEnvelope = .bare
    ) -> SimulatorConfiguration {
        SimulatorConfiguration(
            workspaces: ["WS_MAIN": TestSecrets.mainKey, "WS_OTHER": TestSecrets.otherKey], forbiddenWorkspaces: forbidden, rateLimits: rateLimits,
            faults: faults, migmaKeys: migmaKeys, migmaRateLimits: migmaRateLimits,
            metaEnvelope: metaEnvelope, reportSecrets: ["WS_MAIN": TestSecrets.mainReportSecret])
    }

    static func with<T: Sendable>(
        simulator simulatorConfiguration: SimulatorConfiguration = simulatorConfiguration(),
        yaml: String = yaml(),
        environment: [String: String] = TestSecrets.environment,
        reloadingFrom configFile: String? = nil,
        _ body: (GatewayHarness) async throws -> T
    ) async throws -> T {
        let simulator = MoEngageSimulator(configuration: simulatorConfiguration)
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        return try await LiveServer.withRunning({ onRunning in
            simulator.makeApplication(logger: LiveServer.quietLogger, onServerRunning: onRunning)
        }) { simPort in
            let simBase = "http://127.0.0.1:\(simPort)"
            let text = yaml.replacingOccurrences(of: "SIM", with: simBase)
            if let configFile { try text.write(toFile: configFile, atomically: true, encoding: .utf8) }
            let configuration = try ConfigLoader.parse(text)
            let secrets = try SecretResolver(environment: environment).resolve(configuration)
            var handler = InMemoryLogHandler()
            handler.logLevel = .trace
            let logs = handler
            let logger = Logger(label: "gateway-under-test") { _ in logs }
            let (grpcPorts, grpcPortContinuation) = AsyncStream.makeStream(of: Int.self)
            return try await LiveServer.withRunning({ onRunning in
                try GatewayApplication.make(
                    configuration: configuration, secrets: secrets, logger: logger,
                    reloading: configFile.map { LiveConfiguration.Source(path: $0) { try SecretResolver(environment: environment).resolve($0) } },
                    onServerRunning: onRunning,
                    onGRPCListening: { grpcPortContinuation.yield($0) })
            }) { gatewayPort in
                var harness = GatewayHarness(
                    gatewayBase: "http://127.0.0.1:\(gatewayPort)", simBase: simBase, simulator: simulator, client: client, logs: logs)
                if configuration.grpc != nil {
                    var ports = grpcPorts.makeAsyncIterator()
                    harness.grpcPort = await ports.next()
                }
                let result = try await body(harness)
                // The gateway must never make the upstream record a rate-limit breach, in any test.
                let breaches = try await harness.breaches()
                #expect(breaches.isEmpty, "the simulator recorded rate-limit breaches")
                return result
            }
        }
    }

    /// Sends raw bytes to a gateway path.
    func send(_ path: String, body: Data?, token: String? = TestSecrets.reportingToken, headers: [(String, String)] = [], method: String = "POST")
        async throws -> Answer
    {
        var fields = headers
        if let token { fields.append(("Authorization", "Bearer \(token)")) }
        let response = try await client.execute(
            HTTPClientRequest(
                method: method, url: gatewayBase + path, headers: fields.map { (name: $0.0, value: $0.1) }, body: body, totalTimeoutMs: 150_000))
        return Answer(status: response.status, headers: response.headers, body: response.body)
    }

    /// POSTs a JSON-RPC body to `/rpc`.
    func rpc(_ request: JSON, token: String? = TestSecrets.reportingToken, headers: [(String, String)] = []) async throws -> Answer {
        try await send("/rpc", body: request.encoded(), token: token, headers: headers)
    }

    /// Calls one JSON-RPC method and returns the whole answer.
    func call(_ method: String, _ params: JSON, token: String? = TestSecrets.reportingToken, headers: [(String, String)] = []) async throws -> Answer
    {
        try await rpc(["jsonrpc": "2.0", "id": 1, "method": .string(method), "params": params], token: token, headers: headers)
    }

    /// POSTs params to a Connect path.
    func connect(
        _ path: String, _ params: JSON, token: String? = TestSecrets.reportingToken,
        headers: [(String, String)] = [("Content-Type", "application/json")]
    )
        async throws -> Answer
    {
        try await send(path, body: params.encoded(), token: token, headers: headers)
    }

    func get(_ path: String) async throws -> Answer {
        try await send(path, body: nil, token: nil, method: "GET")
    }

    /// The simulator's call log (only stats calls).
    func upstreamCalls() async throws -> [JSON] {
        let log = try JSON.parse(try await client.execute(HTTPClientRequest(url: "\(simBase)/_sim/calls")).body)
        return log["calls"]?.arrayValue ?? []
    }

    /// Changes the simulator's injected faults at run time.
    func setFaults(_ faults: JSON) async throws {
        _ = try await client.execute(HTTPClientRequest(method: "POST", url: "\(simBase)/_sim/faults", body: faults.encoded()))
    }

    /// Queues answers the simulator gives instead of simulated ones (`{path, status, headers?, body? | raw?}`).
    func script(_ answers: [JSON]) async throws {
        let response = try await client.execute(
            HTTPClientRequest(method: "POST", url: "\(simBase)/_sim/script", body: JSON.object(["answers": .array(answers)]).encoded()))
        #expect(response.status == 204, "the simulator refused the scripted answers")
    }

    /// The simulator's rule breaches.
    func breaches() async throws -> [JSON] {
        let log = try JSON.parse(try await client.execute(HTTPClientRequest(url: "\(simBase)/_sim/calls")).body)
        return log["breaches"]?.arrayValue ?? []
    }

    /// Ids of campaigns active over the whole simulated horizon.
    var alwaysActiveIDs: [String] {
        simulator.catalog.campaigns.filter { $0.active.dayCount > 700 }.map(\.id)
    }

    /// Every captured log line rendered as text, metadata included.
    var renderedLogs: String {
        logs.entries.map { "\($0.level) \($0.message) \($0.metadata)" }.joined(separator: "\n")
    }
}
