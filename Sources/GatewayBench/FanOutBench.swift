import CurlHTTP
import Foundation
import Hummingbird
import ServerTesting

/// Concurrent requests to a server that delays each: wall time against one delay.
enum FanOutBench {
    static func run(requests: Int, delayMs: Int, rounds: Int) async throws {
        let client = try CurlHTTPClient(configuration: .init(maxConnectionsPerHost: 64, maxTotalConnections: 64))
        defer { client.shutdown() }
        try await LiveServer.withRunning({ onRunning in
            let router = Router()
            router.get("/delay") { _, _ -> String in
                try await Task.sleep(for: .milliseconds(delayMs))
                return "ok"
            }
            return Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: onRunning,
                logger: LiveServer.quietLogger)
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
                walls.append(GatewayBench.milliseconds(ContinuousClock.now - started))
            }
            let median = GatewayBench.median(walls)
            GatewayBench.row(
                String(
                    format:
                        "| curl client fan-out: %d concurrent requests, server delay %d ms (median of %d) | %.0f ms wall = %.2f× one delay (sequential: %d ms) |",
                    requests, delayMs, rounds, median, median / Double(delayMs), requests * delayMs))
        }
    }
}
