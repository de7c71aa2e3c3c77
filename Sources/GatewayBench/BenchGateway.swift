import CurlHTTP
import DynamicJSON
import Foundation
import GatewayConfig
import GatewayRPC
import MoEngageSimulator
import ServerTesting

/// The simulator (with fixed latency) and the gateway in process, plus a client to call them.
struct BenchGateway {
    let port: Int
    /// The native gRPC port, when `extraYAML` configures one.
    var grpcPort: Int? = nil
    let simulator: MoEngageSimulator
    let client: CurlHTTPClient
    static let token = "bench-token"

    /// Starts both (`extraYAML` is appended to the gateway's config); the rate limits are wide (1000 calls / 60 s) so that they do not shape these figures.
    static func withRunning(simulatorLatencyMs: Int, extraYAML: String = "", _ body: @Sendable (BenchGateway) async throws -> Void) async throws {
        let simulator = MoEngageSimulator(
            configuration: SimulatorConfiguration(
                workspaces: ["WS": "bench-key"], rateLimits: [RollingLimit(calls: 1_000, perSeconds: 60)],
                faults: FaultInjection(latencyMs: simulatorLatencyMs)))
        let client = try CurlHTTPClient(configuration: .init(maxConnectionsPerHost: 128, maxTotalConnections: 128))
        defer { client.shutdown() }
        try await LiveServer.withRunning({ simulator.makeApplication(logger: LiveServer.quietLogger, onServerRunning: $0) }) { simPort in
            let yaml = """
                listen: {host: 127.0.0.1, port: 0}
                workspaces:
                  bench: {base_url: "http://127.0.0.1:\(simPort)", workspace_id: WS, api_key_env: BENCH_KEY, rate_limits: [{calls: 1000, per_seconds: 60}]}
                callers:
                  - {name: bench, token_env: BENCH_TOKEN, workspaces: ["*"]}
                upstream: {max_connections_per_host: 64}
                limits: {max_upstream_calls_per_request: 1000}
                \(extraYAML)
                """
            let configuration = try ConfigLoader.parse(yaml)
            let secrets = try SecretResolver(environment: ["BENCH_KEY": "bench-key", "BENCH_TOKEN": token]).resolve(configuration)
            let (grpcPorts, grpcPortContinuation) = AsyncStream.makeStream(of: Int.self)
            try await LiveServer.withRunning({
                try GatewayApplication.make(
                    configuration: configuration, secrets: secrets, logger: LiveServer.quietLogger, onServerRunning: $0,
                    onGRPCListening: { grpcPortContinuation.yield($0) })
            }) { port in
                var gateway = BenchGateway(port: port, simulator: simulator, client: client)
                if configuration.grpc != nil {
                    var ports = grpcPorts.makeAsyncIterator()
                    gateway.grpcPort = await ports.next()
                }
                try await body(gateway)
            }
        }
    }

    /// The JSON-RPC body of a getStats call.
    static func statsBody(ids: [String], from start: String, to end: String) -> JSON {
        var params: [String: JSON] = ["start_date": .string(start), "end_date": .string(end)]
        if !ids.isEmpty { params["campaign_ids"] = .array(ids.map(JSON.string)) }
        return ["jsonrpc": "2.0", "id": 1, "method": "campaigns.getStats", "params": .object(params)]
    }

    /// Calls getStats and returns its result, failing on any error answer.
    func stats(ids: [String], from start: String, to end: String) async throws -> JSON {
        let response = try await client.execute(
            HTTPClientRequest(
                method: "POST", url: "http://127.0.0.1:\(port)/rpc", headers: [("Authorization", "Bearer \(Self.token)")],
                body: Self.statsBody(ids: ids, from: start, to: end).encoded(), totalTimeoutMs: 60_000))
        guard let result = (try? JSON.parse(response.body))?["result"] else {
            throw BenchFailure("getStats failed: \(String(decoding: response.body.prefix(300), as: UTF8.self))")
        }
        return result
    }

    /// POSTs a body to `/rpc` on `port` and returns the answer's bytes, failing on a status other than 200.
    func post(body: String, port: Int) async throws -> [UInt8] {
        let response = try await client.execute(
            HTTPClientRequest(
                method: "POST", url: "http://127.0.0.1:\(port)/rpc", headers: [("Authorization", "Bearer \(Self.token)")], body: Data(body.utf8),
                totalTimeoutMs: 60_000))
        guard response.status == 200 else { throw BenchFailure("POST on port \(port) answered \(response.status)") }
        return Array(response.body)
    }

    /// Ids of synthetic campaigns, in catalog order (unknown ids past the catalog, which still cost calls).
    func ids(_ range: Range<Int>) -> [String] {
        range.map { $0 < simulator.catalog.campaigns.count ? simulator.catalog.campaigns[$0].id : "unknown-\($0)" }
    }
}
