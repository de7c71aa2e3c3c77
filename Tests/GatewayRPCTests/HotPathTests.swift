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
            let lastStore = ContinuousClock.now
            if lastStore - stored < .milliseconds(1_500) {
                // Asked again within the TTL (a loaded machine may take longer; then it is a miss, rightly).
                #expect(hit.json?["result"]?["upstream"]?["calls"] == 0)
            }
            try await Task.sleep(until: lastStore + .milliseconds(2_300), clock: .continuous)
            let afterExpiry = try await gateway.call("campaigns.getStats", params(ids))
            #expect(afterExpiry.json?["result"]?["upstream"]?["calls"] == 1, "the entries expired, so did the answer made from them")
            #expect(afterExpiry.json?["result"]?["stale"] == false)
        }
    }
}
