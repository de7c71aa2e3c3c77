import GatewayConfig
import GatewayProto
import MoEngageSimulator
import GatewayRPC
import LockedState
import ServerTesting
import ServiceLifecycle
import Testing

/// The `listen.*` limits on the native gRPC port, driven with raw HTTP/2 bytes: a client that
/// never sends the preface, one that ignores the GOAWAY of an idle connection, a request stream
/// that trickles, and too many connections.
@Suite struct GRPCInboundLimitsTests {
    private static func yaml(listen: String) -> String {
        GatewayHarness.yaml(extra: "grpc: {port: 0}").replacingOccurrences(
            of: "listen: {host: 127.0.0.1, port: 0}", with: "listen: {host: 127.0.0.1, port: 0, \(listen)}")
    }

    private static let quick = yaml(listen: "idle_timeout_ms: 800, body_timeout_ms: 800")

    @Test func aConnectionThatNeverSendsThePrefaceIsClosed() async throws {
        try await GatewayHarness.with(yaml: Self.quick) { gateway in
            let connection = try await RawConnection.open(port: gateway.grpcPort!)
            #expect(try await connection.waitUntilClosed(atMost: .seconds(5)), "still open 5 s after connecting in silence")
            connection.close()
        }
    }

    @Test func anIdleConnectionIsSentAGoAwayAndClosedEvenWhenTheClientIgnoresIt() async throws {
        try await GatewayHarness.with(yaml: Self.quick) { gateway in
            let connection = try await RawConnection.open(port: gateway.grpcPort!)
            try await connection.send(bytes: HTTP2Bytes.preface + HTTP2Bytes.frame(type: .settings, flags: 0, stream: 0))
            // It never acknowledges the server's SETTINGS or the GOAWAY's PING, and opens no stream.
            #expect(try await connection.waitUntilClosed(atMost: .seconds(6)), "still open 6 s after an idle timeout of 0.8 s")
            let types = HTTP2Bytes.frameTypes(connection.receivedBytes)
            #expect(types.contains(.goAway), "a GOAWAY came first: \(types)")
            connection.close()
        }
    }

    @Test func aRequestStreamThatTricklesIsResetAndTheConnectionThenClosed() async throws {
        try await GatewayHarness.with(yaml: Self.quick) { gateway in
            let connection = try await RawConnection.open(port: gateway.grpcPort!)
            let headers = HTTP2Bytes.grpcRequestHeaders(path: "/grpc.health.v1.Health/Check")
            try await connection.send(
                bytes: HTTP2Bytes.preface + HTTP2Bytes.frame(type: .settings, flags: 0, stream: 0)
                    + HTTP2Bytes.frame(type: .headers, flags: HTTP2Bytes.endHeaders, stream: 1, payload: headers))
            var sent = 0
            while !HTTP2Bytes.frameTypes(connection.receivedBytes).contains(.resetStream), !connection.isClosed, sent < 25 {
                try? await connection.send(bytes: HTTP2Bytes.frame(type: .data, flags: 0, stream: 1, payload: [0]))
                sent += 1
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(HTTP2Bytes.frameTypes(connection.receivedBytes).contains(.resetStream), "no RST_STREAM after \(sent) one-byte DATA frames 0.2 s apart")
            #expect(sent < 25)
            #expect(try await connection.waitUntilClosed(atMost: .seconds(6)), "closed once idle after the reset")
            connection.close()
        }
    }

    /// A graceful shutdown (what `SIGTERM` starts) with a stream whose answer the client holds back
    /// (a window of 0): the connection is closed a grace (here 0.8 s) after the shutdown's GOAWAY.
    @Test func aClientHoldingAnAnswerBackCannotDelayShutdownPastTheGrace() async throws {
        let configuration = try ConfigLoader.parse(Self.quick.replacingOccurrences(of: "SIM", with: "http://127.0.0.1:9"))
        let secrets = try SecretResolver(environment: TestSecrets.environment).resolve(configuration)
        let (ports, listening) = AsyncStream.makeStream(of: Int.self)
        let app = try GatewayApplication.make(
            configuration: configuration, secrets: secrets, logger: LiveServer.quietLogger, onGRPCListening: { listening.yield($0) })
        let group = ServiceGroup(configuration: .init(services: [app], logger: LiveServer.quietLogger))
        let stopped = Locked<ContinuousClock.Instant?>(nil)
        let running = Task {
            try? await group.run()
            stopped.withLock { $0 = .now }
        }
        var iterator = ports.makeAsyncIterator()
        let connection = try await RawConnection.open(port: try #require(await iterator.next()))
        let headers = HTTP2Bytes.grpcRequestHeaders(path: "/grpc.health.v1.Health/Check")
        let noWindow: [UInt8] = [0x00, 0x04, 0, 0, 0, 0]
        try await connection.send(
            bytes: HTTP2Bytes.preface + HTTP2Bytes.frame(type: .settings, flags: 0, stream: 0, payload: noWindow)
                + HTTP2Bytes.frame(type: .headers, flags: HTTP2Bytes.endHeaders, stream: 1, payload: headers)
                + HTTP2Bytes.frame(type: .data, flags: HTTP2Bytes.endStream, stream: 1, payload: [0, 0, 0, 0, 0]))
        #expect(try await Self.waitForFrame(.headers, on: connection), "the answer began")
        let began = ContinuousClock.now
        await group.triggerGracefulShutdown()
        // Without a bound the shutdown waits for this client: it lets go after 20 s.
        let end = began + .seconds(20)
        while stopped.withLock({ $0 }) == nil, ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(50)) }
        let took = stopped.withLock { $0 }.map { $0 - began }
        connection.close()
        await running.value
        #expect(took != nil && took! < .seconds(10), "shutdown took \(took.map { "\($0)" } ?? "over 20 s") with a stalled stream open")
        #expect(connection.isClosed)
    }

    @Test func aConnectionHeldByAHealthWatchIsSentAGoAwayAtItsMaximumAgeAndClosedAfterTheGrace() async throws {
        let yaml = GatewayHarness.yaml(extra: "grpc: {port: 0, max_connection_age_ms: 1000, max_connection_age_grace_ms: 500}")
        try await GatewayHarness.with(yaml: yaml) { gateway in
            let connection = try await RawConnection.open(port: gateway.grpcPort!)
            let headers = HTTP2Bytes.grpcRequestHeaders(path: "/grpc.health.v1.Health/Watch")
            // A watch needs no token and holds its stream open: the idle timeout (75 s) never starts.
            try await connection.send(
                bytes: HTTP2Bytes.preface + HTTP2Bytes.frame(type: .settings, flags: 0, stream: 0)
                    + HTTP2Bytes.frame(type: .headers, flags: HTTP2Bytes.endHeaders, stream: 1, payload: headers)
                    + HTTP2Bytes.frame(type: .data, flags: HTTP2Bytes.endStream, stream: 1, payload: [0, 0, 0, 0, 0]))
            #expect(try await Self.waitForFrame(.headers, on: connection), "the watch began")
            #expect(try await connection.waitUntilClosed(atMost: .seconds(6)), "still open 6 s after connecting (age 1 s, grace 0.5 s)")
            #expect(HTTP2Bytes.frameTypes(connection.receivedBytes).contains(.goAway), "a GOAWAY came first")
            connection.close()
        }
    }

    @Test func aCallInFlightWhenItsConnectionReachesTheMaximumAgeIsAnswered() async throws {
        let simulator = GatewayHarness.simulatorConfiguration(faults: FaultInjection(latencyMs: 2_000))
        let yaml = GatewayHarness.yaml(extra: "grpc: {port: 0, max_connection_age_ms: 1000, max_connection_age_grace_ms: 8000}")
        try await GatewayHarness.with(simulator: simulator, yaml: yaml) { gateway in
            var request = Gateway_V1_GetStatsRequest()
            request.workspace = "main"
            request.campaignIds = [gateway.alwaysActiveIDs[0]]
            request.startDate = "2025-03-01"
            request.endDate = "2025-03-02"
            let message: [UInt8] = try request.serializedBytes()
            let length = UInt32(message.count)
            let framed: [UInt8] =
                [0, UInt8(truncatingIfNeeded: length >> 24), UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8),
                 UInt8(truncatingIfNeeded: length)] + message
            let headers = HTTP2Bytes.grpcRequestHeaders(path: "/gateway.v1.CampaignService/GetStats", token: TestSecrets.reportingToken)
            let connection = try await RawConnection.open(port: gateway.grpcPort!)
            try await connection.send(
                bytes: HTTP2Bytes.preface + HTTP2Bytes.frame(type: .settings, flags: 0, stream: 0)
                    + HTTP2Bytes.frame(type: .headers, flags: HTTP2Bytes.endHeaders, stream: 1, payload: headers)
                    + HTTP2Bytes.frame(type: .data, flags: HTTP2Bytes.endStream, stream: 1, payload: framed))
            // The upstream takes 2 s; the connection turns 1 s old meanwhile: a GOAWAY, and the call runs on.
            #expect(try await Self.waitForFrame(.data, on: connection, atMost: .seconds(7)), "the answer's message came")
            let types = HTTP2Bytes.frameTypes(connection.receivedBytes)
            #expect(types.contains(.goAway), "the GOAWAY for age came: \(types)")
            #expect(!types.contains(.resetStream))
            connection.close()
        }
    }

    @Test func connectionsPastTheMaximumAreClosedAtOnceAndTheRestServed() async throws {
        try await GatewayHarness.with(yaml: Self.yaml(listen: "max_connections: 2")) { gateway in
            var open: [RawConnection] = []
            for _ in 0..<2 {
                let connection = try await RawConnection.open(port: gateway.grpcPort!)
                try await connection.send(bytes: HTTP2Bytes.preface + HTTP2Bytes.frame(type: .settings, flags: 0, stream: 0))
                #expect(try await Self.waitForFrame(.settings, on: connection), "the server's SETTINGS")
                open.append(connection)
            }
            let extra = try await RawConnection.open(port: gateway.grpcPort!)
            try? await extra.send(bytes: HTTP2Bytes.preface + HTTP2Bytes.frame(type: .settings, flags: 0, stream: 0))
            #expect(try await extra.waitUntilClosed(atMost: .seconds(2)), "the third connection is closed")
            #expect(!HTTP2Bytes.frameTypes(extra.receivedBytes).contains(.settings))
            extra.close()
            open[1].close()
            var served = false
            for _ in 0..<20 where !served {
                try await Task.sleep(for: .milliseconds(100))
                let again = try await RawConnection.open(port: gateway.grpcPort!)
                try? await again.send(bytes: HTTP2Bytes.preface + HTTP2Bytes.frame(type: .settings, flags: 0, stream: 0))
                served = try await Self.waitForFrame(.settings, on: again)
                again.close()
            }
            #expect(served, "a connection is accepted again once one closed")
            let metrics = try await gateway.get("/metrics").text
            #expect(metrics.contains(#"campaign_gateway_connections_refused_total{listener="grpc"} "#), "\(metrics)")
            open.forEach { $0.close() }
        }
    }

    private static func waitForFrame(_ type: HTTP2Bytes.FrameType, on connection: RawConnection, atMost limit: Duration = .seconds(2)) async throws
        -> Bool
    {
        let end = ContinuousClock.now + limit
        while !HTTP2Bytes.frameTypes(connection.receivedBytes).contains(type), !connection.isClosed, ContinuousClock.now < end {
            try await Task.sleep(for: .milliseconds(20))
        }
        return HTTP2Bytes.frameTypes(connection.receivedBytes).contains(type)
    }
}

/// HTTP/2 as bytes, just enough to play a client by hand (RFC 9113).
enum HTTP2Bytes {
    /// The frame types these tests send or look for.
    enum FrameType: UInt8 {
        case data = 0, headers = 1, resetStream = 3, settings = 4, ping = 6, goAway = 7, windowUpdate = 8
    }

    /// The END_HEADERS flag.
    static let endHeaders: UInt8 = 0x4
    /// The END_STREAM flag.
    static let endStream: UInt8 = 0x1

    /// The client connection preface.
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// One frame.
    static func frame(type: FrameType, flags: UInt8, stream: UInt32, payload: [UInt8] = []) -> [UInt8] {
        let length = UInt32(payload.count)
        let head: [UInt8] = [UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length), type.rawValue, flags]
        let streamID: [UInt8] = [
            UInt8(truncatingIfNeeded: stream >> 24) & 0x7f, UInt8(truncatingIfNeeded: stream >> 16), UInt8(truncatingIfNeeded: stream >> 8),
            UInt8(truncatingIfNeeded: stream),
        ]
        return head + streamID + payload
    }

    /// The HPACK block of a gRPC request's HEADERS for `path`, with a bearer `token` if given.
    static func grpcRequestHeaders(path: String, token: String? = nil) -> [UInt8] {
        literalHeaders(
            [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "gateway"), ("content-type", "application/grpc"), ("te", "trailers")]
                + (token.map { [("authorization", "Bearer \($0)")] } ?? []))
    }

    /// An HPACK block of literal fields, never indexed by name (names and values under 128 bytes).
    static func literalHeaders(_ fields: [(String, String)]) -> [UInt8] {
        var block: [UInt8] = []
        for (name, value) in fields {
            block.append(0x00)
            block.append(UInt8(name.utf8.count))
            block.append(contentsOf: name.utf8)
            block.append(UInt8(value.utf8.count))
            block.append(contentsOf: value.utf8)
        }
        return block
    }

    /// The types of the whole frames in `bytes` (types these tests do not name are left out).
    static func frameTypes(_ bytes: [UInt8]) -> [FrameType] {
        var types: [FrameType] = []
        var offset = 0
        while offset + 9 <= bytes.count {
            let length = Int(bytes[offset]) << 16 | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
            guard offset + 9 + length <= bytes.count else { break }
            if let type = FrameType(rawValue: bytes[offset + 3]) { types.append(type) }
            offset += 9 + length
        }
        return types
    }
}
