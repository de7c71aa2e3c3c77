import DynamicJSON
import MoEngageSimulator
import ServerTesting
import Testing

/// The inbound limits a hardened proxy keeps (`listen.*`, `limits.max_in_flight_per_caller`),
/// driven with raw sockets: slow heads and bodies, idle kept-alive connections, too many
/// connections, oversized heads, and one caller with too many requests at once.
@Suite struct InboundLimitsTests {
    /// The harness config with `listen` limits `listen` (e.g. `header_timeout_ms: 800`).
    private static func yaml(listen: String, limits: [String: Int] = [:]) -> String {
        GatewayHarness.yaml(limits: limits).replacingOccurrences(
            of: "listen: {host: 127.0.0.1, port: 0}", with: "listen: {host: 127.0.0.1, port: 0, \(listen)}")
    }

    private static let quick = yaml(listen: "header_timeout_ms: 800, body_timeout_ms: 800, idle_timeout_ms: 800")

    private func port(_ gateway: GatewayHarness) -> Int {
        Int(gateway.gatewayBase.split(separator: ":").last!)!
    }

    @Test func aClientSlowToSendItsHeadIsAnswered408AndClosed() async throws {
        try await GatewayHarness.with(yaml: Self.quick) { gateway in
            let connection = try await RawConnection.open(port: port(gateway))
            try await connection.send("POST /rpc HTTP/1.1\r\nHost: gateway\r\n")
            var lines = 0
            while !connection.isClosed, lines < 20 {
                try await Task.sleep(for: .milliseconds(300))
                try? await connection.send("X-Slow-\(lines): \(lines)\r\n")
                lines += 1
            }
            #expect(try await connection.waitUntilClosed(atMost: .seconds(2)), "still open after \(lines) header lines 0.3 s apart")
            #expect(lines < 20)
            #expect(connection.received.hasPrefix("HTTP/1.1 408"), "\(connection.received)")
            #expect(try await gateway.get("/healthz").status == 200, "the gateway serves on")
        }
    }

    @Test func aClientSlowToSendItsBodyIsAnswered408AndClosed() async throws {
        try await GatewayHarness.with(yaml: Self.quick) { gateway in
            let connection = try await RawConnection.open(port: port(gateway))
            try await connection.send(
                "POST /rpc HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer \(TestSecrets.reportingToken)\r\nContent-Length: 100000\r\n\r\n")
            var bytes = 0
            while !connection.isClosed, bytes < 30 {
                try? await connection.send("[")
                bytes += 1
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(try await connection.waitUntilClosed(atMost: .seconds(2)), "still open after \(bytes) body bytes 0.2 s apart")
            #expect(bytes < 30)
            #expect(connection.received.hasPrefix("HTTP/1.1 408"), "\(connection.received)")
        }
    }

    @Test func aBodySentAfterAnEarlyRefusalCannotKeepTheConnection() async throws {
        try await GatewayHarness.with(yaml: Self.quick) { gateway in
            // No token: 401 before the body is read; the body that follows must not hold the connection.
            let connection = try await RawConnection.open(port: port(gateway))
            try await connection.send("POST /rpc HTTP/1.1\r\nHost: gateway\r\nContent-Length: 10\r\n\r\n")
            #expect(try await connection.waitFor("HTTP/1.1 401", atMost: .seconds(2)))
            try await connection.send("0123456789")
            #expect(try await connection.waitUntilClosed(atMost: .seconds(5)), "closed once idle")
            #expect(connection.received.components(separatedBy: "HTTP/1.1 ").count - 1 == 1, "one answer only: \(connection.received)")
        }
    }

    @Test func aPipelinedRequestIsAnsweredNotCutByTheIdleTimeout() async throws {
        let simulator = GatewayHarness.simulatorConfiguration(faults: FaultInjection(latencyMs: 2_000))
        try await GatewayHarness.with(simulator: simulator, yaml: Self.quick) { gateway in
            let body =
                #"{"jsonrpc":"2.0","id":7,"method":"campaigns.getStats","params":{"workspace":"main","campaign_ids":["c1"],"start_date":"2025-03-01","end_date":"2025-03-01"}}"#
            let connection = try await RawConnection.open(port: port(gateway))
            try await connection.send(
                "GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\nPOST /rpc HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer \(TestSecrets.reportingToken)\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
            #expect(try await connection.waitFor("HTTP/1.1 200", times: 2, atMost: .seconds(10)), "\(connection.received)")
            #expect(connection.received.contains(#""id":7"#))
            connection.close()
        }
    }

    @Test func aKeptAliveConnectionIsClosedWhenIdleNotWhileUsed() async throws {
        try await GatewayHarness.with(yaml: Self.yaml(listen: "idle_timeout_ms: 2000")) { gateway in
            let connection = try await RawConnection.open(port: port(gateway))
            // Requests 0.3 s apart keep it open past the idle timeout (2 s) ...
            for index in 1...6 {
                try await connection.send("GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
                #expect(try await connection.waitFor("HTTP/1.1 200", times: index, atMost: .seconds(2)))
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(!connection.isClosed)
            // ... and idle, it is closed quietly.
            let answered = connection.received
            #expect(try await connection.waitUntilClosed(atMost: .seconds(6)))
            #expect(connection.received == answered, "nothing more was written")
        }
    }

    @Test func connectionsPastTheMaximumAreClosedAtOnceAndTheRestServed() async throws {
        try await GatewayHarness.with(yaml: Self.yaml(listen: "max_connections: 4")) { gateway in
            var open: [RawConnection] = []
            for _ in 0..<4 {
                let connection = try await RawConnection.open(port: port(gateway))
                try await connection.send("GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
                #expect(try await connection.waitFor("HTTP/1.1 200", atMost: .seconds(2)))
                open.append(connection)
            }
            let extra = try await RawConnection.open(port: port(gateway))
            try? await extra.send("GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
            #expect(try await extra.waitUntilClosed(atMost: .seconds(2)), "the fifth connection is closed")
            #expect(!extra.received.contains("HTTP/1.1 200"))
            // The four are still served; when one closes, a new connection is accepted.
            try await open[0].send("GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
            #expect(try await open[0].waitFor("HTTP/1.1 200 OK\r\n", atMost: .seconds(2)))
            open[3].close()
            var served = false
            for _ in 0..<20 where !served {
                try await Task.sleep(for: .milliseconds(100))
                let again = try await RawConnection.open(port: port(gateway))
                try? await again.send("GET /metrics HTTP/1.1\r\nHost: gateway\r\n\r\n")
                served = try await again.waitFor("campaign_gateway_connections_refused_total", atMost: .seconds(1))
                if served { #expect(again.received.contains("\ncampaign_gateway_connections_open{listener=\"http\"} 4.0\n"), "\(again.received)") }
                again.close()
            }
            #expect(served, "a connection is accepted again once one closed")
            open.forEach { $0.close() }
        }
    }

    @Test func aHeadOverTheLimitIsAnswered431() async throws {
        try await GatewayHarness.with(yaml: Self.yaml(listen: "max_header_bytes: 2048")) { gateway in
            let connection = try await RawConnection.open(port: port(gateway))
            try await connection.send("GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Big: \(String(repeating: "a", count: 3_000))\r\n\r\n")
            #expect(try await connection.waitUntilClosed(atMost: .seconds(2)))
            #expect(connection.received.hasPrefix("HTTP/1.1 431"), "\(connection.received)")
            let small = try await RawConnection.open(port: port(gateway))
            try await small.send("GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Small: \(String(repeating: "a", count: 1_000))\r\n\r\n")
            #expect(try await small.waitFor("HTTP/1.1 200", atMost: .seconds(2)))
            small.close()
        }
    }

    @Test func aCallerPastItsInFlightLimitIsAnswered429WhileOthersAreServed() async throws {
        let simulator = GatewayHarness.simulatorConfiguration(faults: FaultInjection(latencyMs: 1_000))
        try await GatewayHarness.with(simulator: simulator, yaml: GatewayHarness.yaml(limits: ["max_in_flight_per_caller": 2])) { gateway in
            let ids = gateway.alwaysActiveIDs
            func stats(_ id: String) -> JSON {
                ["workspace": "main", "campaign_ids": [.string(id)], "start_date": "2025-03-01", "end_date": "2025-03-05"]
            }
            async let first = gateway.call("campaigns.getStats", stats(ids[0]))
            async let second = gateway.call("campaigns.getStats", stats(ids[1]))
            try await Task.sleep(for: .milliseconds(300))
            let third = try await gateway.call("campaigns.getStats", stats(ids[2]))
            #expect(third.status == 429)
            #expect(third.header("Retry-After") == "1")
            #expect(third.json?["error"]?["code"] == -32029)
            #expect(third.json?["error"]?["data"]?["in_flight_limit"] == 2)
            let other = try await gateway.call("campaigns.getStats", stats(ids[3]), token: TestSecrets.soloToken)
            #expect(other.json?["result"] != nil, "another caller is served meanwhile: \(other.text)")
            let answers = try await [first, second]
            #expect(answers.allSatisfy { $0.status == 200 && $0.json?["result"] != nil })
            let connect = try await gateway.connect("/gateway.v1.CampaignService/GetStats", stats(ids[4]))
            #expect(connect.status == 200, "the caller is served again once its calls were answered")
            #expect(try await gateway.get("/metrics").text.contains(#"campaign_gateway_caller_in_flight_refusals_total{caller="reporting"} 1"#))
        }
    }
}
