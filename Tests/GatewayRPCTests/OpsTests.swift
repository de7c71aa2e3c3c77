import CurlHTTP
import DynamicJSON
import Foundation
import GatewayConfig
import GatewayRPC
import Logging
import MoEngageSimulator
import ServerTesting
import ServiceLifecycle
import Testing

@Suite struct OpsTests {
    @Test func reportsAliveAndReady() async throws {
        try await GatewayHarness.with { gateway in
            let health = try await gateway.get("/healthz")
            let ready = try await gateway.get("/readyz")
            #expect(health.status == 200)
            #expect(ready.status == 200)
            #expect(ready.json?["ready"] == true)
        }
    }

    @Test func reportsNotReadyNamingTheMissingCredential() async throws {
        var environment = TestSecrets.environment
        environment["OTHER_KEY"] = nil
        try await GatewayHarness.with(environment: environment) { gateway in
            let ready = try await gateway.get("/readyz")
            #expect(ready.status == 503)
            #expect(ready.json?["problems"] == ["workspace other: api key env OTHER_KEY is not set"])
            let answer = try await gateway.call(
                "campaigns.getStats", ["workspace": "other", "campaign_ids": ["x"], "start_date": "2025-03-01", "end_date": "2025-03-01"])
            #expect(answer.json?["error"]?["code"] == -32050)
            let calls = try await gateway.upstreamCalls()
            #expect(calls.isEmpty)
        }
    }

    @Test func neverRevealsCredentialsOrTokensInAnswersOrLogs() async throws {
        try await GatewayHarness.with(simulator: GatewayHarness.simulatorConfiguration(faults: .init(serverErrorRate: 0.5))) { gateway in
            var bodies: [String] = []
            let id = gateway.alwaysActiveIDs[0]
            for token in [TestSecrets.reportingToken, TestSecrets.narrowToken, TestSecrets.soloToken, "bogus"] {
                for params: JSON in [
                    ["workspace": "main", "campaign_ids": [.string(id)], "start_date": "2025-03-01", "end_date": "2025-03-05"],
                    ["workspace": "other", "start_date": "2025-03-01", "end_date": "2025-03-05"],
                    ["workspace": "main", "start_date": "bad"],
                ] {
                    bodies.append(try await gateway.call("campaigns.getStats", params, token: token).text)
                    bodies.append(try await gateway.connect("/gateway.v1.CampaignService/GetStats", params, token: token).text)
                }
            }
            bodies.append(try await gateway.get("/readyz").text)
            bodies.append(try await gateway.get("/metrics").text)
            bodies.append(try await gateway.call("rpc.discover", [:]).text)
            let logs = gateway.renderedLogs
            #expect(!logs.isEmpty)
            for secret in TestSecrets.all {
                #expect(!bodies.contains { $0.contains(secret) }, "a response carried a secret")
                #expect(!logs.contains(secret), "a log line carried a secret")
            }
            #expect(logs.contains("request_id"))
        }
    }
}

@Suite struct ShutdownTests {
    @Test func finishesInFlightRequestsOnGracefulShutdown() async throws {
        let simulator = MoEngageSimulator(configuration: GatewayHarness.simulatorConfiguration(faults: .init(latencyMs: 600)))
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        try await LiveServer.withRunning({ simulator.makeApplication(logger: LiveServer.quietLogger, onServerRunning: $0) }) { simPort in
            let configuration = try ConfigLoader.parse(GatewayHarness.yaml().replacingOccurrences(of: "SIM", with: "http://127.0.0.1:\(simPort)"))
            let secrets = try SecretResolver(environment: TestSecrets.environment).resolve(configuration)
            let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
            let app = try GatewayApplication.make(configuration: configuration, secrets: secrets, logger: LiveServer.quietLogger) { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
            }
            let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: LiveServer.quietLogger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                var iterator = ports.makeAsyncIterator()
                let port = await iterator.next() ?? 0
                let params: JSON = [
                    "jsonrpc": "2.0", "id": 1, "method": "campaigns.getStats",
                    "params": ["workspace": "main", "campaign_ids": ["x"], "start_date": "2025-03-01", "end_date": "2025-03-01"],
                ]
                let inFlight = Task {
                    try await client.execute(
                        HTTPClientRequest(
                            method: "POST", url: "http://127.0.0.1:\(port)/rpc", headers: [("Authorization", "Bearer \(TestSecrets.reportingToken)")],
                            body: params.encoded(), totalTimeoutMs: 150_000))
                }
                try await Task.sleep(for: .milliseconds(200))
                await group.triggerGracefulShutdown()
                let response = try await inFlight.value
                #expect(response.status == 200)
                #expect((try? JSON.parse(response.body))?["result"]?["upstream"]?["calls"] == 1)
                try await tasks.next()
            }
        }
    }
}
