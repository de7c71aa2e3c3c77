import CurlHTTP
import DynamicJSON
import Foundation
import GatewayConfig
import GatewayRPC
import Hummingbird
import MoEngageSimulator
import ServerTesting

/// `gateway-bench`: prints benchmark figures as Markdown rows for BENCHMARKS.md.
@main
enum GatewayBench {
    static func main() async throws {
        print("| benchmark | figure |")
        print("|---|---|")
        try await fanOut(requests: 50, delayMs: 200, rounds: 5)
        try await gatewayOneWindow(ids: 30, latencyMs: 50, rounds: 5)
    }

    /// 50 concurrent requests to a server that delays each by 200 ms: wall time against one delay.
    static func fanOut(requests: Int, delayMs: Int, rounds: Int) async throws {
        let client = try CurlHTTPClient(configuration: .init(maxConnectionsPerHost: 64, maxTotalConnections: 64))
        defer { client.shutdown() }
        try await LiveServer.withRunning({ onRunning in
            let router = Router()
            router.get("/delay") { _, _ -> String in
                try await Task.sleep(for: .milliseconds(delayMs))
                return "ok"
            }
            return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: onRunning, logger: LiveServer.quietLogger)
        }) { port in
            var walls: [Double] = []
            for _ in 0..<rounds {
                let started = ContinuousClock.now
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<requests {
                        group.addTask { try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/delay")).status }
                    }
                    for try await status in group where status != 200 { throw BenchFailure("status \(status)") }
                }
                walls.append(seconds(ContinuousClock.now - started) * 1_000)
            }
            let median = walls.sorted()[walls.count / 2]
            print(String(format: "| curl fan-out: %d concurrent requests, server delay %d ms (median of %d) | %.0f ms wall = %.2f× one delay (sequential would be %d ms) |",
                requests, delayMs, rounds, median, median / Double(delayMs), requests * delayMs))
        }
    }

    /// One getStats over 30 ids in one window (3 upstream calls) with 50 ms simulated latency.
    static func gatewayOneWindow(ids: Int, latencyMs: Int, rounds: Int) async throws {
        let simulator = MoEngageSimulator(
            configuration: SimulatorConfiguration(workspaces: ["WS": "bench-key"], rateLimits: [RollingLimit(calls: 10_000, perSeconds: 60)], faults: FaultInjection(latencyMs: latencyMs)))
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        try await LiveServer.withRunning({ simulator.makeApplication(logger: LiveServer.quietLogger, onServerRunning: $0) }) { simPort in
            let yaml = """
                listen: {host: 127.0.0.1, port: 0}
                workspaces:
                  bench: {base_url: "http://127.0.0.1:\(simPort)", workspace_id: WS, api_key_env: BENCH_KEY, rate_limits: [{calls: 10000, per_seconds: 60}]}
                callers:
                  - {name: bench, token_env: BENCH_TOKEN, workspaces: ["*"]}
                """
            let configuration = try ConfigLoader.parse(yaml)
            let secrets = SecretResolver(environment: ["BENCH_KEY": "bench-key", "BENCH_TOKEN": "bench-token"]).resolve(configuration)
            try await LiveServer.withRunning({
                try GatewayApplication.make(configuration: configuration, secrets: secrets, logger: LiveServer.quietLogger, onServerRunning: $0)
            }) { gatewayPort in
                let idList = JSON.array(simulator.catalog.campaigns.prefix(ids).map { .string($0.id) })
                let body: JSON = ["jsonrpc": "2.0", "id": 1, "method": "campaigns.getStats", "params": ["campaign_ids": idList, "start_date": "2025-03-01", "end_date": "2025-03-30"]]
                var walls: [Double] = []
                for _ in 0..<rounds {
                    let started = ContinuousClock.now
                    let response = try await client.execute(
                        HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(gatewayPort)/rpc", headers: [("Authorization", "Bearer bench-token")], body: body.encoded()))
                    let calls = (try? JSON.parse(response.body))?["result"]?["upstream"]?["calls"]?.intValue
                    guard response.status == 200, calls == (ids + 9) / 10 else { throw BenchFailure("unexpected answer: \(response.status), calls \(calls ?? -1)") }
                    walls.append(seconds(ContinuousClock.now - started) * 1_000)
                }
                let median = walls.sorted()[walls.count / 2]
                print(String(format: "| gateway getStats: %d ids, one window = %d concurrent upstream calls, upstream latency %d ms (median of %d) | %.0f ms = %.2f× one upstream call |",
                    ids, (ids + 9) / 10, latencyMs, rounds, median, median / Double(latencyMs)))
            }
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// A benchmark that could not measure what it meant to.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
