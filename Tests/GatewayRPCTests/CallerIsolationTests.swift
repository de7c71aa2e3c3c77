import CurlHTTP
import DynamicJSON
import Foundation
import Testing

/// One request never decides the fate of another: a short deadline, a client that leaves, a big
/// batch or odd headers of one caller must not fail, slow or overspend for the rest.
private func params(_ ids: [String], extra: [String: JSON] = [:]) -> JSON {
    let members: [String: JSON] = [
        "workspace": "main", "campaign_ids": .array(ids.map(JSON.string)), "start_date": "2025-03-01", "end_date": "2025-03-30",
    ]
    return .object(members.merging(extra) { _, new in new })
}

@Suite struct CallerIsolationTests {
    @Test func aSharedCallLastsUntilTheLatestDeadlineOfItsWaiters() async throws {
        // The long request follows 0.3 s after the short one, well inside the short one's 1.5 s.
        try await GatewayHarness.with(simulator: GatewayHarness.simulatorConfiguration(faults: .init(latencyMs: 4_000))) { gateway in
            let ids = Array(gateway.alwaysActiveIDs.prefix(3))
            async let short = gateway.call("campaigns.getStats", params(ids, extra: ["timeout_ms": 1_500]))
            try await Task.sleep(for: .milliseconds(300))
            let long = try await gateway.call("campaigns.getStats", params(ids, extra: ["timeout_ms": 10_000]))
            #expect(try await short.json?["error"]?["code"] == -32004)
            #expect(long.json?["result"]?["campaigns"]?.objectValue?.count == 3)
            // Normally it joined the short one's call; on a starved machine it may have started it.
            let usage = long.json?["result"]?["upstream"]
            #expect((usage?["coalesced"]?.intValue ?? 0) + (usage?["calls"]?.intValue ?? 0) == 1)
            let calls = try await gateway.upstreamCalls()
            #expect(calls.count == 1, "the long request waited on the short one's call instead of making its own")
        }
    }

    @Test func aClientThatDisconnectsStopsSpendingTheBudget() async throws {
        // One call a second: the six calls of 60 ids take ~5 s; the client leaves after 0.3 s.
        let yaml = GatewayHarness.yaml(extra: "upstream: {safety_margin_ms: 0}", mainRateLimits: "[{calls: 1, per_seconds: 1}]")
        try await GatewayHarness.with(yaml: yaml) { gateway in
            let ids = (0..<60).map { "gone\($0)" }
            let request = HTTPClientRequest(
                method: "POST", url: gateway.gatewayBase + "/rpc",
                headers: [(name: "Authorization", value: "Bearer \(TestSecrets.reportingToken)")],
                body: JSON.object(["jsonrpc": "2.0", "id": 1, "method": "campaigns.getStats", "params": params(ids)]).encoded(), totalTimeoutMs: 300)
            await #expect(throws: CurlHTTPError.self) { try await gateway.client.execute(request) }
            try await Task.sleep(for: .seconds(3))
            let calls = try await gateway.upstreamCalls()
            #expect(calls.count <= 2, "\(calls.count) upstream calls after the client left; at most the ones granted before")
            #expect(gateway.renderedLogs.contains("client disconnected"))
            // The budget it held is free again: a new request is served at once.
            let next = try await gateway.call("campaigns.getStats", params(["after0"], extra: ["dry_run": true]))
            #expect((next.json?["result"]?["plan"]?["earliest_completion_ms"]?.intValue ?? .max) < 1_000)
        }
    }

    @Test func countsTheFromArrivalDeadlineForEveryBatchElement() async throws {
        try await GatewayHarness.with(simulator: GatewayHarness.simulatorConfiguration(faults: .init(latencyMs: 1_000))) { gateway in
            // Eight elements run at once; the last four can only start after the first eight (~1 s)
            // and need another second: past a 1.5 s deadline counted from the request's arrival.
            let batch = JSON.array(
                (0..<12).map { index in
                    [
                        "jsonrpc": "2.0", "id": .int(index), "method": "campaigns.getStats",
                        "params": params(["d\(index)"], extra: ["timeout_ms": 1_500]),
                    ]
                })
            let answers = try await gateway.rpc(batch).json?.arrayValue ?? []
            #expect(answers.count == 12)
            #expect(
                answers.suffix(4).allSatisfy { $0["error"]?["code"] == -32004 },
                "the late elements got a fresh deadline: \(answers.map { $0["error"]?["code"] ?? "ok" })")
        }
    }

    @Test func capsTheListingPagesOfAWholeBatch() async throws {
        try await GatewayHarness.with(yaml: GatewayHarness.yaml(limits: ["max_upstream_calls_per_request": 4])) { gateway in
            let batch: JSON = [
                ["jsonrpc": "2.0", "id": 1, "method": "campaigns.list", "params": ["workspace": "main"]],
                ["jsonrpc": "2.0", "id": 2, "method": "campaigns.list", "params": ["workspace": "main", "include_child_campaigns": true]],
            ]
            let answers = try await gateway.rpc(batch).json?.arrayValue ?? []
            #expect(answers.allSatisfy { $0["error"]?["code"] == -32013 }, "each listing is longer than the 4 calls the request may spend")
            let calls = try await gateway.upstreamCalls()
            #expect(calls.count <= 4, "\(calls.count) meta calls for a request capped at 4")
        }
    }

    @Test(arguments: ["+500", "0", "5e2", "12345678901", "-1"])
    func refusesAConnectTimeoutThatIsNotAPositiveIntegerOfTenDigits(header: String) async throws {
        try await GatewayHarness.with { gateway in
            let answer = try await gateway.connect(
                "/gateway.v1.CampaignService/GetStats", params(["signed"]),
                headers: [("Content-Type", "application/json"), ("Connect-Timeout-Ms", header)])
            #expect(answer.status == 400)
            #expect(answer.json?["data"]?["field"] == "Connect-Timeout-Ms")
            #expect(try await gateway.upstreamCalls().isEmpty)
        }
    }

    @Test func aSharedListingWalkIsPaidByAWaiterThatCanWhenTheStartersCapIsSpent() async throws {
        let yaml = GatewayHarness.yaml(limits: ["max_upstream_calls_per_request": 5])
        try await GatewayHarness.with(simulator: GatewayHarness.simulatorConfiguration(faults: .init(latencyMs: 1_000)), yaml: yaml) { gateway in
            // X plans 4 stats calls and a listing of unknown length (planned as 1 page): its cap is spent after page 1.
            let batch: JSON = [
                ["jsonrpc": "2.0", "id": 1, "method": "campaigns.getStats", "params": params((0..<40).map { "x\($0)" })],
                ["jsonrpc": "2.0", "id": 2, "method": "campaigns.list", "params": ["workspace": "main"]],
            ]
            async let starter = gateway.rpc(batch)
            try await Task.sleep(for: .milliseconds(300))
            let joiner = try await gateway.call("campaigns.list", ["workspace": "main"])
            #expect(joiner.json?["result"]?["campaigns"]?.arrayValue?.isEmpty == false, "\(joiner.text.prefix(300))")
            #expect(joiner.json?["result"]?["upstream"]?["coalesced"] == 1)
            let answers = try await starter.json?.arrayValue ?? []
            #expect(answers.allSatisfy { $0["result"] != nil })
        }
    }

    @Test func aHalfClosingClientGetsEveryCacheHitAnswered() async throws {
        try await GatewayHarness.with { gateway in
            let ids = [gateway.alwaysActiveIDs[1]]
            _ = try await gateway.call("campaigns.getStats", params(ids))
            let body = JSON.object(["jsonrpc": "2.0", "id": 9, "method": "campaigns.getStats", "params": params(ids)]).encodedString()
            let port = Int(gateway.gatewayBase.split(separator: ":").last!)!
            let request =
                "POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(TestSecrets.reportingToken)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            for _ in 0..<40 {
                let answer = await RawHTTPClient.halfClosedExchange(port: port, request: request)
                #expect(answer.contains("\"result\""), "\(answer.prefix(300))")
            }
        }
    }

    @Test func refusesABatchLargerThanTheConfiguredMaximum() async throws {
        try await GatewayHarness.with(yaml: GatewayHarness.yaml(limits: ["max_batch": 5])) { gateway in
            let element: JSON = ["jsonrpc": "2.0", "id": 1, "method": "rpc.discover"]
            let refused = try await gateway.rpc(.array(Array(repeating: element, count: 6)))
            #expect(refused.json?["error"]?["code"] == -32600)
            #expect(refused.json?["error"]?["message"]?.stringValue?.contains("at most 5") == true)
            let served = try await gateway.rpc(.array((0..<5).map { ["jsonrpc": "2.0", "id": .int($0), "method": "rpc.discover"] }))
            #expect(served.json?.arrayValue?.map { $0["id"] } == [0, 1, 2, 3, 4])
        }
    }

    @Test func capsTheUpstreamCallsOfAWholeBatch() async throws {
        try await GatewayHarness.with(yaml: GatewayHarness.yaml(limits: ["max_upstream_calls_per_request": 10])) { gateway in
            let first = (0..<60).map { "a\($0)" }
            let second = (0..<60).map { "b\($0)" }
            let batch: JSON = [
                ["jsonrpc": "2.0", "id": 1, "method": "campaigns.getStats", "params": params(first)],
                ["jsonrpc": "2.0", "id": 2, "method": "campaigns.getStats", "params": params(second)],
            ]
            let answers = try await gateway.rpc(batch).json?.arrayValue ?? []
            let codes = answers.compactMap { $0["error"]?["code"]?.intValue }
            #expect(answers.count == 2)
            #expect(codes == [-32013], "one element fits the request's 10 calls; the other does not")
            let calls = try await gateway.upstreamCalls()
            #expect(calls.count == 6)
        }
    }

    @Test func capsConnectTimeoutMsLikeTimeoutMs() async throws {
        // One call per 700 s: a second call lies past the longest deadline (600 s) a request may ask for.
        try await GatewayHarness.with(yaml: GatewayHarness.yaml(mainRateLimits: "[{calls: 1, per_seconds: 700}]")) { gateway in
            let ids = (0..<20).map { "t\($0)" }
            let answer = try await gateway.connect(
                "/gateway.v1.CampaignService/GetStats", params(ids),
                headers: [("Content-Type", "application/json"), ("Connect-Timeout-Ms", "9999999999")])
            #expect(answer.status == 429)
            #expect(answer.json?["code"] == "resource_exhausted")
            #expect(try await gateway.upstreamCalls().isEmpty)
        }
    }

    @Test func theRawZipRouteSaysWhenToRetryABudgetRefusal() async throws {
        try await GatewayHarness.with(yaml: GatewayHarness.yaml(mainRateLimits: "[{calls: 1, per_seconds: 60}]")) { gateway in
            let first = try await gateway.send("/reports/daily/main/20250301.zip", body: nil, method: "GET")
            #expect(first.status == 200)
            let second = try await gateway.send(
                "/reports/daily/main/20250302.zip", body: nil, headers: [("Connect-Timeout-Ms", "2000")], method: "GET")
            #expect(second.status == 429)
            #expect(Int(second.header("Retry-After") ?? "") ?? 0 > 0)
            #expect(second.json?["error"]?["code"] == "resource_exhausted")
        }
    }

    @Test func capsRetryAfterAndReadsItsDateForm() async throws {
        let yaml = GatewayHarness.yaml(extra: "upstream: {max_retry_after_s: 1}")
        try await GatewayHarness.with(yaml: yaml) { gateway in
            let path: JSON = "/core-services/v1/campaign-stats"
            try await gateway.script([["path": path, "status": 429, "headers": ["Retry-After": "100000"]]])
            let capped = try await gateway.call("campaigns.getStats", params([gateway.alwaysActiveIDs[0]], extra: ["timeout_ms": 20_000]))
            #expect(capped.json?["result"]?["upstream"]?["calls"] == 2, "retried after the capped delay, within the deadline")

            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let inAnHour = formatter.string(from: Date().addingTimeInterval(3_600))
            try await gateway.script([["path": path, "status": 503, "headers": ["Retry-After": .string(inAnHour)]]])
            let dated = try await gateway.call("campaigns.getStats", params([gateway.alwaysActiveIDs[1]], extra: ["timeout_ms": 20_000]))
            #expect(dated.json?["result"]?["upstream"]?["calls"] == 2, "an HTTP-date an hour away is read, then capped to 1 s")
        }
    }

    @Test func aRateLimitAnswerOnTheLastAttemptStillPausesTheWorkspace() async throws {
        try await GatewayHarness.with { gateway in
            let answer: JSON = ["path": "/core-services/v1/campaign-stats", "status": 429, "headers": ["Retry-After": "0"]]
            let last: JSON = ["path": "/core-services/v1/campaign-stats", "status": 429, "headers": ["Retry-After": "30"]]
            try await gateway.script([answer, answer, answer, last])
            let failed = try await gateway.call("campaigns.getStats", params(["p1"]))
            #expect(failed.json?["error"]?["code"] == -32050)
            #expect(try await gateway.upstreamCalls().count == 4)
            let plan = try await gateway.call("campaigns.getStats", params(["p2"], extra: ["dry_run": true]))
            #expect((plan.json?["result"]?["plan"]?["earliest_completion_ms"]?.intValue ?? 0) > 20_000)
        }
    }
}
