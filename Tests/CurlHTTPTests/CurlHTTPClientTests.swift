import CurlHTTP
import Foundation
import HTTPTypes
import Hummingbird
import ServerTesting
import Testing

/// A small local server with the behaviours the client must handle.
@discardableResult
private func withTestServer<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
    try await LiveServer.withRunning({ onRunning in
        let router = Router()
        router.get("/delay/{ms}") { _, context -> String in
            let ms = try context.parameters.require("ms", as: Int.self)
            try await Task.sleep(for: .milliseconds(ms))
            return "slept \(ms)"
        }
        router.post("/echo") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let marker = request.headers[HTTPField.Name("X-Marker")!] ?? "none"
            return Response(status: .created, headers: [HTTPField.Name("X-Marker-Echo")!: marker], body: .init(byteBuffer: body))
        }
        router.get("/big") { _, _ in
            Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: 0x61, count: 2 << 20)))
        }
        return Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: onRunning, logger: LiveServer.quietLogger
        )
    }) { port in
        try await body("http://127.0.0.1:\(port)")
    }
}

@Suite struct CurlHTTPClientTests {
    @Test func runsFiftyDelayedRequestsConcurrentlyAndAllComplete() async throws {
        let client = try CurlHTTPClient(configuration: .init(maxConnectionsPerHost: 64, maxTotalConnections: 64))
        defer { client.shutdown() }
        try await withTestServer { base in
            let statuses = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        let response = try await client.execute(HTTPClientRequest(url: "\(base)/delay/200"))
                        return (response.status, String(decoding: response.body, as: UTF8.self))
                    }
                }
                var collected: [(Int, String)] = []
                for try await result in group { collected.append(result) }
                return collected
            }
            #expect(statuses.count == 50)
            #expect(statuses.allSatisfy { $0.0 == 200 && $0.1 == "slept 200" })
        }
    }

    @Test func sendsPostBodyAndHeadersExactlyAndReturnsResponseHeaders() async throws {
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        try await withTestServer { base in
            let payload = Data((0..<70_000).map { UInt8($0 % 251) })
            let response = try await client.execute(
                HTTPClientRequest(method: "POST", url: "\(base)/echo", headers: [("X-Marker", "m-1")], body: payload))
            #expect(response.status == 201)
            #expect(response.body == payload)
            #expect(response.header("x-marker-echo") == "m-1")
        }
    }

    @Test func abortsResponsesOverTheSizeCap() async throws {
        let client = try CurlHTTPClient(configuration: .init(maxResponseBytes: 1 << 20))
        defer { client.shutdown() }
        try await withTestServer { base in
            await #expect(throws: CurlHTTPError.responseTooLarge(limit: 1 << 20)) {
                _ = try await client.execute(HTTPClientRequest(url: "\(base)/big"))
            }
        }
    }

    @Test func reportsATimeoutAsTimedOut() async throws {
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        try await withTestServer { base in
            do {
                _ = try await client.execute(HTTPClientRequest(url: "\(base)/delay/2000", totalTimeoutMs: 150))
                Issue.record("expected a timeout")
            } catch let error as CurlHTTPError {
                #expect(error.kind == "timed_out")
                #expect(error.isTransient)
            }
        }
    }

    @Test func reportsARefusedConnectionAsConnectFailed() async throws {
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        // Port 1 on loopback is closed on any sane machine.
        do {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:1/", connectTimeoutMs: 500))
            Issue.record("expected a connection failure")
        } catch let error as CurlHTTPError {
            #expect(error.kind == "connect_failed")
        }
    }

    @Test func cancellingTheWaitingTaskRemovesItsTransfer() async throws {
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        try await withTestServer { base in
            let task = Task { try await client.execute(HTTPClientRequest(url: "\(base)/delay/5000")) }
            try await Task.sleep(for: .milliseconds(100))
            task.cancel()
            await #expect(throws: CurlHTTPError.cancelled) { _ = try await task.value }
            // The client still serves new transfers afterwards.
            let response = try await client.execute(HTTPClientRequest(url: "\(base)/delay/1"))
            #expect(response.status == 200)
        }
    }

    @Test func failsTransfersAfterShutdown() async throws {
        let client = try CurlHTTPClient()
        client.shutdown()
        await #expect(throws: CurlHTTPError.shutdown) {
            _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:1/"))
        }
    }
}
