import Foundation

/// Cache-hit getStats under load from `wrk`: requests per second and latency percentiles.
enum CacheHitLoadBench {
    static func run(_ gateway: BenchGateway, connections: Int, seconds: Int) async throws {
        let ids = gateway.ids(0..<10)
        _ = try await gateway.stats(ids: ids, from: "2025-03-01", to: "2025-03-30")
        let body = BenchGateway.statsBody(ids: ids, from: "2025-03-01", to: "2025-03-30").encodedString()
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-bench-\(UUID().uuidString).lua")
        try """
        wrk.method = "POST"
        wrk.body = [[\(body)]]
        wrk.headers["Authorization"] = "Bearer \(BenchGateway.token)"
        wrk.headers["Content-Type"] = "application/json"
        """.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let output = try await runWrk([
            "-t2", "-c\(connections)", "-d\(seconds)s", "--latency", "-s", script.path, "http://127.0.0.1:\(gateway.port)/rpc",
        ])
        let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        func value(after prefix: String) -> String {
            lines.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces) } ?? "?"
        }
        let errors = lines.first { $0.hasPrefix("Non-2xx") || $0.hasPrefix("Socket errors") } ?? "no errors"
        print(
            "| cache-hit getStats (10 ids, 30 days, ~\(body.count) B request) under wrk, \(connections) connections, \(seconds) s, wrk on the same 2 cores | "
                + "\(value(after: "Requests/sec:")) req/s; p50 \(value(after: "50%")), p99 \(value(after: "99%")); \(errors) |")
    }

    /// Runs wrk (installed by `make bench`) off the cooperative pool and returns its output.
    private static func runWrk(_ arguments: [String]) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/wrk")
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.terminationHandler = { _ in
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
    }
}
