import CurlHTTP
import DynamicJSON
import Foundation
import GatewayConfig
import GatewayRPC
import Logging
import MoEngageSimulator
import ServerTesting
import Testing

/// One simulator, one real `redis-server` and several gateway replicas sharing it, all on loopback.
struct ClusterHarness {
    let gatewayBases: [String]
    let simBase: String
    let simulator: MoEngageSimulator
    let redis: RedisServerProcess
    let client: CurlHTTPClient

    /// The replicas' config: `main` with `limits`, Redis at `REDIS` (over TLS trusting `tls`'s CA when given), a small safety margin.
    static func yaml(limits: String, replicasHint: Int, tls: TestCertificates? = nil) -> String {
        let url = tls == nil ? "redis://127.0.0.1:REDIS/0" : "rediss://localhost:REDIS/0"
        let authority = tls.map { ", ca_file: \"\($0.authority)\"" } ?? ""
        return GatewayHarness.yaml(
            extra: """
                upstream: {safety_margin_ms: 100}
                redis: {url: "\(url)", key_prefix: "cluster-test:", replicas_hint: \(replicasHint), command_timeout_ms: 1000\(authority)}
                """,
            mainRateLimits: limits)
    }

    static func with<T: Sendable>(
        replicas: Int, simulator simulatorConfiguration: SimulatorConfiguration, yaml: String, tls: TestCertificates? = nil,
        _ body: (ClusterHarness) async throws -> T
    ) async throws -> T {
        let simulator = MoEngageSimulator(configuration: simulatorConfiguration)
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        return try await RedisServerProcess.with(tls: tls) { redis in
            try await LiveServer.withRunning({ simulator.makeApplication(logger: LiveServer.quietLogger, onServerRunning: $0) }) { simPort in
                let simBase = "http://127.0.0.1:\(simPort)"
                let configuration = try ConfigLoader.parse(
                    yaml.replacingOccurrences(of: "SIM", with: simBase).replacingOccurrences(of: "REDIS", with: "\(redis.port)"))
                let secrets = try SecretResolver(environment: TestSecrets.environment).resolve(configuration)
                return try await withReplicas(replicas, configuration: configuration, secrets: secrets, ports: []) { ports in
                    let harness = ClusterHarness(
                        gatewayBases: ports.map { "http://127.0.0.1:\($0)" }, simBase: simBase, simulator: simulator, redis: redis, client: client)
                    let result = try await body(harness)
                    let breaches = try await harness.breaches()
                    #expect(breaches.isEmpty, "the simulator recorded rate-limit breaches: \(breaches.count)")
                    return result
                }
            }
        }
    }

    private static func withReplicas<T: Sendable>(
        _ count: Int, configuration: GatewayConfiguration, secrets: ResolvedSecrets, ports: [Int], _ body: ([Int]) async throws -> T
    ) async throws -> T {
        guard ports.count < count else { return try await body(ports) }
        return try await LiveServer.withRunning({ onRunning in
            try GatewayApplication.make(configuration: configuration, secrets: secrets, logger: LiveServer.quietLogger, onServerRunning: onRunning)
        }) { port in
            try await withReplicas(count, configuration: configuration, secrets: secrets, ports: ports + [port], body)
        }
    }

    /// Calls one JSON-RPC method on replica `replica`.
    func call(_ replica: Int, _ method: String, _ params: JSON, timeoutMs: Int = 150_000) async throws -> JSON {
        let request: JSON = ["jsonrpc": "2.0", "id": 1, "method": .string(method), "params": params]
        let response = try await client.execute(
            HTTPClientRequest(
                method: "POST", url: gatewayBases[replica] + "/rpc",
                headers: [(name: "Authorization", value: "Bearer \(TestSecrets.reportingToken)")],
                body: request.encoded(), totalTimeoutMs: timeoutMs))
        return try JSON.parse(response.body)
    }

    /// GETs a path of replica `replica`.
    func get(_ replica: Int, _ path: String) async throws -> (status: Int, json: JSON?) {
        let response = try await client.execute(HTTPClientRequest(url: gatewayBases[replica] + path))
        return (response.status, try? JSON.parse(response.body))
    }

    /// The simulator's call log (stats calls).
    func upstreamCalls() async throws -> [JSON] {
        try JSON.parse(try await client.execute(HTTPClientRequest(url: "\(simBase)/_sim/calls")).body)["calls"]?.arrayValue ?? []
    }

    /// The simulator's rule breaches.
    func breaches() async throws -> [JSON] {
        try JSON.parse(try await client.execute(HTTPClientRequest(url: "\(simBase)/_sim/calls")).body)["breaches"]?.arrayValue ?? []
    }

    /// Changes the simulator's injected faults at run time.
    func setFaults(_ faults: JSON) async throws {
        _ = try await client.execute(HTTPClientRequest(method: "POST", url: "\(simBase)/_sim/faults", body: faults.encoded()))
    }

    /// Every campaign id of the simulator's catalog.
    var campaignIDs: [String] { simulator.catalog.campaigns.map(\.id) }
}
