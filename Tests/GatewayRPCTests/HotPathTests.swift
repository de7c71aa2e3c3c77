import DynamicJSON
import Foundation
import Testing

/// Cache hits are answered from encoded bytes (spliced entries, then the answer cache): the same
/// bytes as a fetched answer, and never past the entries they were made from.
private func params(_ ids: [String]) -> JSON {
    ["workspace": "main", "campaign_ids": .array(ids.map(JSON.string)), "start_date": "2025-03-01", "end_date": "2025-03-30"]
}

/// The raw text of the answer's `campaigns` member (members are written in name order, so it ends where `end_date` begins).
private func campaignsMember(_ answer: Answer) -> Substring? {
    guard let start = answer.text.range(of: "\"campaigns\":"),
        let end = answer.text.range(of: ",\"end_date\":", range: start.upperBound..<answer.text.endIndex)
    else { return nil }
    return answer.text[start.upperBound..<end.lowerBound]
}

@Suite struct HotPathTests {
    @Test func fetchedSplicedAndAnswerCachedAnswersCarryTheSameBytes() async throws {
        try await GatewayHarness.with { gateway in
            let ids = Array(gateway.alwaysActiveIDs.prefix(5)) + ["absent-one"]
            let fetched = try await gateway.call("campaigns.getStats", params(ids))
            let spliced = try await gateway.call("campaigns.getStats", params(ids))
            let answerCached = try await gateway.call("campaigns.getStats", params(ids))
            #expect(fetched.json?["result"]?["upstream"]?["calls"] == 1)
            #expect(campaignsMember(fetched) != nil)
            #expect(campaignsMember(fetched) == campaignsMember(spliced))
            #expect(spliced.body == answerCached.body, "the answer cache gives the bytes the pure hit gave")
            #expect(answerCached.json?["result"]?["upstream"] == ["calls": 0, "cache_hits": 6, "coalesced": 0])
            #expect(answerCached.json?["result"]?["missing"] == ["absent-one"])
            let connect = try await gateway.connect("/gateway.v1.CampaignService/GetStats", params(ids))
            #expect(connect.json == answerCached.json?["result"])
        }
    }

    @Test func neverServesACachedAnswerPastTheEntriesItWasMadeFrom() async throws {
        try await GatewayHarness.with(yaml: GatewayHarness.yaml(extra: "cache: {fresh_ttl_s: 2, settled_ttl_s: 2}")) { gateway in
            let ids = Array(gateway.alwaysActiveIDs.prefix(2))
            _ = try await gateway.call("campaigns.getStats", params(ids))
            let stored = ContinuousClock.now
            let hit = try await gateway.call("campaigns.getStats", params(ids))
            let replayed = try await gateway.call("campaigns.getStats", params(ids))
            let lastReplay = try await gateway.call("campaigns.getStats", params(ids))
            // Any of them may have fetched again on a loaded machine (the TTL is short): entries
            // stored then expire 2 s after the last of these calls at the latest.
            let lastStore = ContinuousClock.now
            if lastStore - stored < .milliseconds(1_500) {
                // All asked within the TTL: answered from the cache (then the answer cache, then its replay), the same bytes.
                #expect(hit.json?["result"]?["upstream"]?["calls"] == 0)
                for answer in [replayed, lastReplay] where answer.json?["result"]?["upstream"]?["calls"] == 0 {
                    #expect(answer.body == hit.body)
                }
            }
            try await Task.sleep(until: lastStore + .milliseconds(2_300), clock: .continuous)
            let afterExpiry = try await gateway.call("campaigns.getStats", params(ids))
            #expect(afterExpiry.json?["result"]?["upstream"]?["calls"] == 1, "the entries expired, so did the answer and its replay")
            #expect(afterExpiry.json?["result"]?["stale"] == false)
        }
    }

    @Test func repeatsOfAnAnswerCacheHitAreReplayedCountedLoggedAndKeptToTheirCaller() async throws {
        try await GatewayHarness.with { gateway in
            let ids = Array(gateway.alwaysActiveIDs.prefix(3))
            let request: JSON = ["jsonrpc": "2.0", "id": "r-1", "method": "campaigns.getStats", "params": params(ids)]
            let body = request.encoded()
            var answers: [Answer] = []
            for _ in 0..<5 { answers.append(try await gateway.send("/rpc", body: body)) }
            #expect(answers[0].json?["result"]?["upstream"]?["calls"] == 1)
            #expect(answers[1...].allSatisfy { $0.body == answers[1].body && $0.status == 200 }, "fetch, splice, answer cache, replays: one answer")
            #expect(answers.allSatisfy { $0.header("Content-Type") == "application/json" && $0.header("X-Request-Id") != nil })
            #expect(Set(answers.compactMap { $0.header("X-Request-Id") }).count == 5, "each replay has its own request id")
            let metrics = try await gateway.get("/metrics")
            #expect(metrics.text.contains(#"campaign_gateway_requests_total{method="campaigns.getStats",caller="reporting",code="ok"} 5"#), "replays are counted")
            #expect(gateway.renderedLogs.components(separatedBy: "campaigns.getStats").count - 1 >= 5, "replays are logged")

            // The same bytes from another caller are that caller's question: its scopes decide.
            let narrow = try await gateway.send("/rpc", body: body, token: TestSecrets.narrowToken)
            #expect(narrow.json?["error"]?["code"] == -32003)
            let noToken = try await gateway.send("/rpc", body: body, token: nil)
            #expect(noToken.status == 401)
            // A replayable body with an unreadable Connect-Timeout-Ms still gets the header's error.
            let badHeader = try await gateway.send("/rpc", body: body, headers: [("Connect-Timeout-Ms", "soon")])
            #expect(badHeader.json?["error"]?["code"] == -32602)
            // One byte more (whitespace) is another request: answered, from the answer cache, equal in content.
            var spaced = body
            spaced.append(0x20)
            let respaced = try await gateway.send("/rpc", body: spaced)
            #expect(respaced.json == answers[4].json)
            #expect(try await gateway.upstreamCalls().count == 1)

            // Connect answers are replayed the same way, per path.
            let path = "/gateway.v1.CampaignService/GetStats"
            var connects: [Answer] = []
            for _ in 0..<3 { connects.append(try await gateway.connect(path, params(ids))) }
            #expect(connects.allSatisfy { $0.status == 200 && $0.body == connects[0].body })
            #expect(connects[0].json == answers[4].json?["result"])
            let narrowConnect = try await gateway.connect(path, params(ids), token: TestSecrets.narrowToken)
            #expect(narrowConnect.status == 403)
            let replays = try await gateway.get("/metrics")
            #expect(replays.text.contains("campaign_gateway_answer_replays_total 4"), "two JSON-RPC and two Connect repeats were replayed")
        }
    }

    @Test func aGatewayWithoutAReplayCacheAnswersRepeatsFromTheAnswerCache() async throws {
        try await GatewayHarness.with(yaml: GatewayHarness.yaml(extra: "cache: {replay_max_bytes: 0}")) { gateway in
            let ids = Array(gateway.alwaysActiveIDs.prefix(2))
            var answers: [Answer] = []
            for _ in 0..<4 { answers.append(try await gateway.call("campaigns.getStats", params(ids))) }
            #expect(answers[1...].allSatisfy { $0.body == answers[1].body })
            #expect(try await gateway.upstreamCalls().count == 1)
            #expect(try await gateway.get("/metrics").text.contains("campaign_gateway_answer_replays_total 0"))
        }
    }
}
