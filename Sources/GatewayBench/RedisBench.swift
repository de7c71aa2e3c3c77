import CurlHTTP
import Dates
import DynamicJSON
import Foundation
import GatewayConfig
import GatewayCore
import GatewayRPC
import LockedState
import Logging
import Metrics
import MoEngageSimulator
import RedisClient
import ServerTesting

/// The replicas' shared state through a real `redis-server`: grant latency against the
/// in-process budget, cache hits with the Redis tier against in process only, and how much of
/// MoEngage's budget three replicas use under saturating load.
enum RedisBench {
    static func run(seconds: Int) async throws {
        try await RedisServerProcess.with { redis in
            try await grantLatency(redis)
            try await cacheHits(redis, seconds: seconds)
            try await threeReplicaUtilisation(redis)
            try await coalescingAcrossReplicas(redis)
        }
    }

    /// One workspace with `limits`, for budgets built outside a gateway.
    private static func workspaces(_ limits: String) throws -> [UpstreamWorkspace] {
        try ConfigLoader.parse(
            """
            workspaces:
              bench: {base_url: "http://127.0.0.1:1", workspace_id: WS, api_key_env: K, rate_limits: \(limits)}
            callers: [{name: bench, token_env: T, workspaces: ["*"]}]
            """
        ).workspaces.map { UpstreamWorkspace(configuration: $0, apiKey: nil, secretKey: nil) }
    }

    private static func grantLatency(_ redis: RedisServerProcess) async throws {
        let workspaces = try workspaces("[{calls: 1000000, per_seconds: 60}]")
        let client = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: redis.port))
        defer { client.close() }
        var quiet = Logger(label: "bench")
        quiet.logLevel = .critical
        let shared = RedisRateBudget(
            workspaces: workspaces, redis: client,
            settings: .init(keyPrefix: "bench:", replicasHint: 1, safetyMargin: .milliseconds(1_000), callLease: .seconds(20)),
            health: SharedStoreHealth(metrics: NOOPMetricsHandler.instance, logger: quiet))
        let local = InProcessRateBudget(workspaces: workspaces, safetyMargin: .milliseconds(1_000))
        var figures: [String] = []
        for (name, budget) in [("in process", local as any RateBudget), ("Redis", shared as any RateBudget)] {
            var samples: [Double] = []
            for round in 0..<3_000 {
                let started = ContinuousClock.now
                let grant = try await budget.acquire(workspace: "bench", caller: "bench")
                if round >= 200 { samples.append(GatewayBench.milliseconds(ContinuousClock.now - started) * 1_000) }
                budget.complete(grant, sent: true)
            }
            samples.sort()
            figures.append(String(format: "%@ p50 %.0f µs, p99 %.0f µs", name, samples[samples.count / 2], samples[samples.count * 99 / 100]))
        }
        GatewayBench.row("| budget grant latency, one grant at a time (2,800 grants after 200 warm-up) | \(figures.joined(separator: "; ")) |")
    }

    private static func cacheHits(_ redis: RedisServerProcess, seconds: Int) async throws {
        let redisSection = "redis: {url: \"redis://127.0.0.1:\(redis.port)/0\", key_prefix: \"bench-hits:\", replicas_hint: 1}"
        let setups = [
            ("in process only", ""), ("with Redis (hits from this process's tier)", redisSection),
            ("Redis tier only (cache.max_bytes 0, replay off)", redisSection + "\ncache: {max_bytes: 0, replay_max_bytes: 0}"),
        ]
        let figures = Locked<[String]>([])
        for (name, extra) in setups {
            try await BenchGateway.withRunning(simulatorLatencyMs: 0, extraYAML: extra) { gateway in
                let ids = gateway.ids(0..<10)
                _ = try await gateway.stats(ids: ids, from: "2025-03-01", to: "2025-03-30")
                try await Task.sleep(for: .milliseconds(200))  // the shared tier is written in the background
                let body = BenchGateway.statsBody(ids: ids, from: "2025-03-01", to: "2025-03-30").encodedString()
                let result = try await Wrk.run(
                    url: "http://127.0.0.1:\(gateway.port)/rpc", body: body, headers: ["Authorization": "Bearer \(BenchGateway.token)"],
                    threads: 2, connections: 64, seconds: seconds)
                let figure = String(format: "%@: %.0f req/s, p99 %.2f ms (%@)", name, result.requestsPerSecond, result.p99Ms, result.errors)
                figures.withLock { $0.append(figure) }
            }
        }
        GatewayBench.row("| cache-hit getStats (10 ids × 30 days), wrk -t2 -c64 -d\(seconds)s | \(figures.withLock { $0 }.joined(separator: "; ")) |")
    }

    /// The simulator (with `limits`, `latencyMs` per call) and three replicas sharing `redis`, for `body(replica ports, simulator port, client)`.
    private static func withCluster(
        _ redis: RedisServerProcess, limits: [RollingLimit], latencyMs: Int, keyPrefix: String,
        _ body: @escaping @Sendable ([Int], Int, CurlHTTPClient, MoEngageSimulator) async throws -> Void
    ) async throws {
        let simulator = MoEngageSimulator(
            configuration: SimulatorConfiguration(workspaces: ["WS": "bench-key"], rateLimits: limits, faults: FaultInjection(latencyMs: latencyMs)))
        let client = try CurlHTTPClient(configuration: .init(maxConnectionsPerHost: 64, maxTotalConnections: 64))
        defer { client.shutdown() }
        let rateLimits = limits.map { "{calls: \($0.calls), per_seconds: \($0.perSeconds)}" }.joined(separator: ", ")
        try await LiveServer.withRunning({ simulator.makeApplication(logger: LiveServer.quietLogger, onServerRunning: $0) }) { simPort in
            let configuration = try ConfigLoader.parse(
                """
                listen: {host: 127.0.0.1, port: 0}
                workspaces:
                  bench: {base_url: "http://127.0.0.1:\(simPort)", workspace_id: WS, api_key_env: BENCH_KEY, rate_limits: [\(rateLimits)]}
                callers: [{name: bench, token_env: BENCH_TOKEN, workspaces: ["*"]}]
                upstream: {safety_margin_ms: 100}
                redis: {url: "redis://127.0.0.1:\(redis.port)/0", key_prefix: "\(keyPrefix)", replicas_hint: 3}
                """)
            let secrets = try SecretResolver(environment: ["BENCH_KEY": "bench-key", "BENCH_TOKEN": BenchGateway.token]).resolve(configuration)
            try await withReplicas(3, configuration: configuration, secrets: secrets, ports: []) { ports in
                try await body(ports, simPort, client, simulator)
            }
        }
    }

    /// getStats for ten ids over one 30-day window starting `start`.
    private static func question(_ ids: ArraySlice<String>, start: CalendarDay) -> JSON {
        [
            "jsonrpc": "2.0", "id": 1, "method": "campaigns.getStats",
            "params": [
                "campaign_ids": .array(ids.map(JSON.string)), "start_date": .string(start.iso), "end_date": .string(start.adding(days: 29).iso),
                "timeout_ms": 20_000,
            ],
        ]
    }

    /// Posts `body` to a replica; whether the answer was an error.
    private static func ask(_ client: CurlHTTPClient, port: Int, _ body: JSON) async throws -> JSON? {
        let response = try await client.execute(
            HTTPClientRequest(
                method: "POST", url: "http://127.0.0.1:\(port)/rpc", headers: [("Authorization", "Bearer \(BenchGateway.token)")],
                body: body.encoded(),
                totalTimeoutMs: 60_000))
        return try? JSON.parse(response.body)
    }

    /// Calls and breaches the simulator recorded.
    private static func ledger(_ client: CurlHTTPClient, simPort: Int) async throws -> (calls: Int, breaches: Int) {
        let log = try JSON.parse(try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(simPort)/_sim/calls")).body)
        return (log["calls"]?.arrayValue?.count ?? 0, log["breaches"]?.arrayValue?.count ?? 0)
    }

    private static func threeReplicaUtilisation(_ redis: RedisServerProcess) async throws {
        let limits = [RollingLimit(calls: 100, perSeconds: 60), RollingLimit(calls: 10, perSeconds: 1)]
        try await withCluster(redis, limits: limits, latencyMs: 0, keyPrefix: "bench-replicas:") { ports, simPort, client, simulator in
            let end = ContinuousClock.now + .seconds(14)
            let next = Locked(0)
            let ids = simulator.catalog.campaigns.map(\.id)
            let chunks = stride(from: 0, to: ids.count - 9, by: 10).map { ids[$0..<$0 + 10] }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for port in ports {
                    for _ in 0..<6 {
                        group.addTask {
                            while ContinuousClock.now < end {
                                let index = next.withLock { value -> Int in
                                    defer { value += 1 }
                                    return value
                                }
                                let start = CalendarDay(year: 2024, month: 1, day: 1)!.adding(days: (index / chunks.count) * 30)
                                let answer = try await ask(client, port: port, question(chunks[index % chunks.count], start: start))
                                if answer?["error"] != nil { try await Task.sleep(for: .milliseconds(200)) }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let (calls, breaches) = try await ledger(client, simPort: simPort)
            GatewayBench.row(
                "| three replicas, one Redis, saturating load for 14 s against 100/60 s and 10/1 s | \(calls) upstream calls of the 100 the minute allows (\(calls)%), \(breaches) breaches |"
            )
        }
    }

    /// The same question on the three replicas at once, upstream latency 200 ms: the replica that
    /// fetches answers after about one call; the two that wait poll the shared cache (every 25 ms).
    private static func coalescingAcrossReplicas(_ redis: RedisServerProcess) async throws {
        try await withCluster(redis, limits: [RollingLimit(calls: 1_000, perSeconds: 60)], latencyMs: 200, keyPrefix: "bench-coalescing:") {
            ports, simPort, client, simulator in
            let ids = simulator.catalog.campaigns.map(\.id)
            var fastest: [Double] = []
            var slowest: [Double] = []
            for round in 0..<7 {
                let body = question(
                    ids[(round * 10) % (ids.count - 10)..<(round * 10) % (ids.count - 10) + 10],
                    start: CalendarDay(year: 2023, month: 1, day: 1)!.adding(days: round * 30))
                let latencies = try await withThrowingTaskGroup(of: Double.self) { group in
                    for port in ports {
                        group.addTask {
                            let started = ContinuousClock.now
                            _ = try await ask(client, port: port, body)
                            return GatewayBench.milliseconds(ContinuousClock.now - started)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }.sorted()
                }
                fastest.append(latencies[0])
                slowest.append(latencies[2])
            }
            let (calls, _) = try await ledger(client, simPort: simPort)
            GatewayBench.row(
                String(
                    format:
                        "| the same question on three replicas at once, upstream latency 200 ms (median of 7) | %d upstream calls for 7 questions; first answer %.0f ms, last %.0f ms (waiting replicas poll the shared cache every 25 ms) |",
                    calls, GatewayBench.median(fastest), GatewayBench.median(slowest)))
        }
    }

    private static func withReplicas(
        _ count: Int, configuration: GatewayConfiguration, secrets: ResolvedSecrets, ports: [Int], _ body: @escaping ([Int]) async throws -> Void
    ) async throws {
        guard ports.count < count else { return try await body(ports) }
        try await LiveServer.withRunning({
            try GatewayApplication.make(configuration: configuration, secrets: secrets, logger: LiveServer.quietLogger, onServerRunning: $0)
        }) { port in
            try await withReplicas(count, configuration: configuration, secrets: secrets, ports: ports + [port], body)
        }
    }
}
