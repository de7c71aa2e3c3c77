import DynamicJSON
import Foundation
import GatewayProto
import SwiftProtobuf

/// The same cache-hit getStats on every transport, measured by one load tool in one run:
/// JSON-RPC, Connect JSON and Connect binary over HTTP/1.1, native gRPC over h2c, each with h2load
/// (from nghttp2, installed by `make bench`), in alternating rounds; ratios against JSON-RPC.
enum TransportBench {
    private struct Target {
        var name: String
        var path: String
        var port: Int
        var body: [UInt8]
        var contentType: String
        var http2: Bool
    }

    static func run(seconds: Int, rounds: Int) async throws {
        try await BenchGateway.withRunning(simulatorLatencyMs: 50, extraYAML: "grpc: {port: 0}") { gateway in
            let ids = gateway.ids(0..<10)
            _ = try await gateway.stats(ids: ids, from: "2025-03-01", to: "2025-03-30")
            let request = Gateway_V1_GetStatsRequest.with {
                $0.campaignIds = ids
                $0.startDate = "2025-03-01"
                $0.endDate = "2025-03-30"
            }
            let message: [UInt8] = try request.serializedBytes()
            let length = UInt32(message.count)
            let frame = [0] + withUnsafeBytes(of: length.bigEndian, Array.init) + message
            let params = BenchGateway.statsBody(ids: ids, from: "2025-03-01", to: "2025-03-30")["params"]!
            let targets = [
                Target(
                    name: "JSON-RPC", path: "/rpc", port: gateway.port, body: BenchGateway.statsBody(ids: ids, from: "2025-03-01", to: "2025-03-30").encodedBytes(),
                    contentType: "application/json", http2: false),
                Target(
                    name: "Connect JSON", path: "/gateway.v1.CampaignService/GetStats", port: gateway.port, body: params.encodedBytes(),
                    contentType: "application/json", http2: false),
                Target(
                    name: "Connect binary", path: "/gateway.v1.CampaignService/GetStats", port: gateway.port, body: message,
                    contentType: "application/proto", http2: false),
                Target(
                    name: "gRPC (h2c)", path: "/gateway.v1.CampaignService/GetStats", port: gateway.grpcPort!, body: frame,
                    contentType: "application/grpc", http2: true),
            ]
            let before = try await failedCalls(gateway)
            var figures: [String: [H2Load.Figures]] = [:]
            for _ in 0..<rounds {
                for target in targets {
                    GatewayBench.progress("h2load -c64 against \(target.name)")
                    figures[target.name, default: []].append(try await measure(target, seconds: seconds))
                }
            }
            let failed = try await failedCalls(gateway) - before
            guard failed == 0 else { throw BenchFailure("\(failed) calls answered an error during the transport benchmark") }
            let baseline = GatewayBench.median(figures["JSON-RPC"]!.map(\.requestsPerSecond))
            for target in targets {
                let runs = figures[target.name]!
                let rate = GatewayBench.median(runs.map(\.requestsPerSecond))
                GatewayBench.row(
                    String(
                        format: "| cache-hit getStats over %@ (%@), h2load -c64 -t2 -D%ds, median of %d alternating runs | %.0f req/s, mean %.2f ms (%@); %.2f× JSON-RPC |",
                        target.name, target.contentType, seconds, rounds, rate, GatewayBench.median(runs.map(\.meanMs)), runs.last!.failures, rate / baseline))
            }
        }
    }

    private static func measure(_ target: Target, seconds: Int) async throws -> H2Load.Figures {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-bench-\(UUID().uuidString).body")
        try Data(target.body).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        var headers = ["authorization": "Bearer \(BenchGateway.token)", "content-type": target.contentType]
        if target.http2 { headers["te"] = "trailers" }
        return try await H2Load.run(
            url: "http://127.0.0.1:\(target.port)\(target.path)", bodyFile: file.path, headers: headers, http1: !target.http2, clients: 64,
            threads: 2, seconds: seconds)
    }

    /// Calls the gateway answered with an error so far (h2load cannot see a gRPC status, so the gateway's metrics count them).
    private static func failedCalls(_ gateway: BenchGateway) async throws -> Int {
        let response = try await gateway.client.execute(.init(url: "http://127.0.0.1:\(gateway.port)/metrics"))
        return String(decoding: response.body, as: UTF8.self).split(separator: "\n")
            .filter { $0.hasPrefix("campaign_gateway_requests_total{") && !$0.contains("code=\"ok\"") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0) { $0 + Int($1) }
    }
}

/// Runs `h2load` with a POST body file and reads its figures.
enum H2Load {
    /// What one run measured.
    struct Figures {
        var requestsPerSecond: Double
        var meanMs: Double
        /// "no failures", or h2load's request counts line.
        var failures: String
    }

    static func run(
        url: String, bodyFile: String, headers: [String: String], http1: Bool, clients: Int, threads: Int, seconds: Int
    ) async throws -> Figures {
        var arguments = ["-c\(clients)", "-t\(threads)", "-D\(seconds)", "-d", bodyFile]
        if http1 { arguments.append("--h1") }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { arguments += ["-H", "\(name): \(value)"] }
        let output = try await Subprocess.run("/usr/bin/h2load", arguments + [url]).output
        let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let finished = lines.first(where: { $0.hasPrefix("finished in") }),
            let rate = finished.split(separator: ",").dropFirst().first.flatMap({ Double($0.trimmingCharacters(in: .whitespaces).split(separator: " ")[0]) }),
            let timing = lines.first(where: { $0.hasPrefix("time for request:") }),
            let requests = lines.first(where: { $0.hasPrefix("requests:") }),
            let statuses = lines.first(where: { $0.hasPrefix("status codes:") })
        else { throw BenchFailure("h2load printed no figures:\n\(output)") }
        let mean = timing.split(separator: " ", omittingEmptySubsequences: true).dropFirst(5).first.map { Wrk.milliseconds(String($0)) } ?? .nan
        let clean = requests.contains(" 0 failed, 0 errored, 0 timeout") && statuses.hasPrefix("status codes: ") && !statuses.contains(", 0 2xx")
        return Figures(requestsPerSecond: rate, meanMs: mean, failures: clean ? "no failures" : "\(requests); \(statuses)")
    }
}
