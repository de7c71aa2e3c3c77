import Foundation

/// One getStats whose plan is 30 concurrent upstream calls: wall time against one call's latency.
enum GatewayFanOutBench {
    static func run(_ gateway: BenchGateway, ids: Int, latencyMs: Int, rounds: Int) async throws {
        var walls: [Double] = []
        for round in 0..<rounds {
            // A fresh window each round, so nothing comes from the cache.
            let start = "2022-\(String(format: "%02d", round + 1))-01"
            let end = "2022-\(String(format: "%02d", round + 1))-28"
            let started = ContinuousClock.now
            let result = try await gateway.stats(ids: gateway.ids(1_000..<(1_000 + ids)), from: start, to: end)
            walls.append(GatewayBench.milliseconds(ContinuousClock.now - started))
            guard result["upstream"]?["calls"]?.intValue == (ids + 9) / 10 else { throw BenchFailure("unexpected call count") }
        }
        let median = GatewayBench.median(walls)
        GatewayBench.row(
            String(
                format:
                    "| gateway fan-out: one getStats = %d concurrent upstream calls, upstream latency %d ms (median of %d) | %.0f ms = %.2f× one call's latency |",
                (ids + 9) / 10, latencyMs, rounds, median, median / Double(latencyMs)))
    }
}
