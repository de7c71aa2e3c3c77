import Foundation

/// Runs `wrk` (installed by `make bench`) with a POST body and reads its figures.
enum Wrk {
    /// What one wrk run measured.
    struct Figures {
        var requestsPerSecond: Double
        var p50Ms: Double
        var p99Ms: Double
        /// wrk's error lines, or "no errors".
        var errors: String
    }

    /// POSTs `body` to `url` from `connections` connections on `threads` threads for `seconds`.
    static func run(url: String, body: String, headers: [String: String], threads: Int, connections: Int, seconds: Int) async throws -> Figures {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-bench-\(UUID().uuidString).lua")
        let headerLines = headers.map { "wrk.headers[\"\($0.key)\"] = \"\($0.value)\"" }.joined(separator: "\n")
        try "wrk.method = \"POST\"\nwrk.body = [[\(body)]]\n\(headerLines)\n".write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let output = try await Subprocess.run(
            "/usr/bin/wrk", ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency", "-s", script.path, url]
        ).output
        let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        func value(after prefix: String) -> String {
            lines.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces) } ?? "?"
        }
        let errors = lines.filter { $0.hasPrefix("Non-2xx") || $0.hasPrefix("Socket errors") }
        guard let rate = Double(value(after: "Requests/sec:")) else { throw BenchFailure("wrk printed no rate:\n\(output)") }
        return Figures(
            requestsPerSecond: rate, p50Ms: milliseconds(value(after: "50%")), p99Ms: milliseconds(value(after: "99%")),
            errors: errors.isEmpty ? "no errors" : errors.joined(separator: "; "))
    }

    /// wrk's latency text (`520.00us`, `1.23ms`, `1.02s`) in milliseconds.
    static func milliseconds(_ text: String) -> Double {
        for (suffix, scale) in [("us", 0.001), ("ms", 1.0), ("s", 1_000.0), ("m", 60_000.0)] where text.hasSuffix(suffix) {
            return (Double(text.dropLast(suffix.count)) ?? .nan) * scale
        }
        return .nan
    }
}
