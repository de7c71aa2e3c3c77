import BareHTTP
import CurlHTTP
import Foundation
import ServerTesting

/// The gateway's cache-hit path side by side with nginx `proxy_cache` (the peer an operator would
/// otherwise use) and a bare Hummingbird handler (the limit of the gateway's HTTP layer): the same
/// request, the same answer bytes, the same wrk flags, the three servers measured in turn.
enum ProxyComparisonBench {
    private struct Server {
        var name: String
        var port: Int
    }

    static func run(_ gateway: BenchGateway, seconds: Int, rounds: Int) async throws {
        let ids = gateway.ids(0..<10)
        _ = try await gateway.stats(ids: ids, from: "2025-03-01", to: "2025-03-30")
        let body = BenchGateway.statsBody(ids: ids, from: "2025-03-01", to: "2025-03-30").encodedString()
        let answer = try await gateway.post(body: body, port: gateway.port)
        try await LiveServer.withRunning({
            BareHTTPServer.application(body: answer, path: "/rpc", port: 0, logger: LiveServer.quietLogger, onServerRunning: $0)
        }) { barePort in
            GatewayBench.progress("starting nginx in front of the bare server on port \(barePort)")
            let nginx = try NginxProxy.start(originPort: barePort, port: try freePort())
            GatewayBench.progress("nginx listens on port \(nginx.port)")
            do {
                try await compare(gateway, nginx: nginx, barePort: barePort, body: body, answer: answer, seconds: seconds, rounds: rounds)
            } catch {
                await nginx.stop()
                throw error
            }
            await nginx.stop()
        }
    }

    private static func compare(
        _ gateway: BenchGateway, nginx: NginxProxy, barePort: Int, body: String, answer: [UInt8], seconds: Int, rounds: Int
    ) async throws {
        try await waitUntilServing(gateway, port: nginx.port, body: body, expecting: answer)
        let servers = [
            Server(name: "nginx proxy_cache", port: nginx.port), Server(name: "bare Hummingbird", port: barePort),
            Server(name: "gateway", port: gateway.port),
        ]
        let headers = ["Authorization": "Bearer \(BenchGateway.token)", "Content-Type": "application/json"]
        for (threads, connections) in [(2, 64), (1, 1)] {
            var figures: [String: [Wrk.Figures]] = [:]
            for _ in 0..<rounds {
                for server in servers {
                    GatewayBench.progress("wrk -t\(threads) -c\(connections) against \(server.name)")
                    figures[server.name, default: []].append(
                        try await Wrk.run(
                            url: "http://127.0.0.1:\(server.port)/rpc", body: body, headers: headers, threads: threads, connections: connections,
                            seconds: seconds))
                }
            }
            report(
                figures, servers: servers.map(\.name), threads: threads, connections: connections, seconds: seconds, rounds: rounds,
                bytes: answer.count)
        }
    }

    /// Prints one row: each server's median req/s, p50 and p99, and the gateway's ratios.
    private static func report(
        _ figures: [String: [Wrk.Figures]], servers: [String], threads: Int, connections: Int, seconds: Int, rounds: Int, bytes: Int
    ) {
        func median(_ name: String, _ value: (Wrk.Figures) -> Double) -> Double { GatewayBench.median(figures[name, default: []].map(value)) }
        let cells = servers.map { name in
            String(
                format: "%@: %.0f req/s, p50 %.2f ms, p99 %.2f ms (%@)", name, median(name) { $0.requestsPerSecond }, median(name) { $0.p50Ms },
                median(name) { $0.p99Ms }, figures[name]?.last?.errors ?? "?")
        }
        let gateway = servers[2]
        let ratios = String(
            format: "gateway/bare %.2f× req/s, p50 %.2f×; gateway/nginx %.2f× req/s, p99 %.2f×",
            median(gateway) { $0.requestsPerSecond } / median(servers[1]) { $0.requestsPerSecond },
            median(gateway) { $0.p50Ms } / median(servers[1]) { $0.p50Ms },
            median(gateway) { $0.requestsPerSecond } / median(servers[0]) { $0.requestsPerSecond },
            median(gateway) { $0.p99Ms } / median(servers[0]) { $0.p99Ms })
        GatewayBench.row(
            "| cache-hit getStats, \(bytes) B answer, wrk -t\(threads) -c\(connections) -d\(seconds)s, median of \(rounds) alternating runs | "
                + cells.joined(separator: "; ") + "; " + ratios + " |")
    }

    /// Waits for nginx to answer, and checks it serves the gateway's bytes from its cache.
    private static func waitUntilServing(_ gateway: BenchGateway, port: Int, body: String, expecting answer: [UInt8]) async throws {
        for _ in 0..<50 {
            if let served = try? await gateway.post(body: body, port: port), served == answer {
                let again = try await gateway.client.execute(
                    HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(port)/rpc", body: Data(body.utf8), totalTimeoutMs: 5_000))
                guard again.header("X-Cache-Status") == "HIT" else { throw BenchFailure("nginx does not cache the answer") }
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchFailure("nginx did not start or does not serve the gateway's bytes")
    }

    /// A TCP port nothing listens on now.
    private static func freePort() throws -> Int {
        guard let port = LoopbackPort.free() else { throw BenchFailure("no free port") }
        return port
    }
}
