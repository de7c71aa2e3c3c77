import CurlHTTP
import Foundation

/// `gateway-bench`: measures the curl client and the gateway against the in-process simulator,
/// printing Markdown rows for BENCHMARKS.md.
@main
enum GatewayBench {
    static func main() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seconds = environment["BENCH_SECONDS"].flatMap(Int.init) ?? 10
        let rounds = environment["BENCH_ROUNDS"].flatMap(Int.init) ?? 3
        // `BENCH_ONLY=proxy`, `BENCH_ONLY=redis` or `BENCH_ONLY=transports` runs only that part.
        let only = environment["BENCH_ONLY"]
        let onlyProxy = only == "proxy"
        if only == "redis" {
            try await RedisBench.run(seconds: seconds)
            return
        }
        if only == "transports" {
            GatewayBench.row("| benchmark | figure |")
            GatewayBench.row("|---|---|")
            try await TransportBench.run(seconds: seconds, rounds: rounds)
            return
        }
        GatewayBench.row("| benchmark | figure |")
        GatewayBench.row("|---|---|")
        if !onlyProxy { try await FanOutBench.run(requests: 50, delayMs: 200, rounds: 5) }
        try await BenchGateway.withRunning(simulatorLatencyMs: 50) { gateway in
            if !onlyProxy {
                try await PlanEfficiencyBench.run(gateway)
                try await GatewayFanOutBench.run(gateway, ids: 300, latencyMs: 50, rounds: 5)
            }
            try await ProxyComparisonBench.run(gateway, seconds: seconds, rounds: rounds)
        }
        if !onlyProxy {
            try await TransportBench.run(seconds: seconds, rounds: rounds)
            try await RedisBench.run(seconds: seconds)
        }
    }

    /// Writes one row of figures to standard output at once (unbuffered, so a long run shows its progress).
    static func row(_ line: String) {
        FileHandle.standardOutput.write(Data("\(line)\n".utf8))
    }

    /// Says on standard error what is being measured (the figures go to standard output).
    static func progress(_ line: String) {
        FileHandle.standardError.write(Data("gateway-bench: \(line)\n".utf8))
    }

    /// A duration in milliseconds.
    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1_000 + Double(duration.components.attoseconds) / 1e15
    }

    /// The median of non-empty samples.
    static func median(_ samples: [Double]) -> Double {
        samples.sorted()[samples.count / 2]
    }
}

/// A benchmark that could not measure what it meant to.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
