import DynamicJSON
import Foundation
import Testing

/// Refresh-ahead: a popular entry is fetched again by background work before it expires; a cold one is left to expire.
@Suite struct RefreshAheadTests {
    /// Entries live 2 s; one read twice is refreshed at half its life.
    static let yaml = GatewayHarness.yaml(
        extra: """
            cache: {fresh_ttl_s: 2, settled_ttl_s: 2}
            refresh: {min_hits: 2, at_fraction: 0.5, interval_ms: 100}
            """)

    /// The value of one series of `/metrics`.
    private static func metric(_ gateway: GatewayHarness, _ series: String) async throws -> Double? {
        let text = try await gateway.get("/metrics").text
        return text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func aHotEntryIsRefreshedBeforeItExpiresAndAColdOneIsNot() async throws {
        try await GatewayHarness.with(yaml: Self.yaml) { gateway in
            let ids = gateway.alwaysActiveIDs
            let hot: JSON = ["workspace": "main", "campaign_ids": [.string(ids[0]), .string(ids[1])], "start_date": "2025-05-01", "end_date": "2025-05-20"]
            let cold: JSON = ["workspace": "main", "campaign_ids": [.string(ids[2])], "start_date": "2025-05-01", "end_date": "2025-05-20"]
            let first = try #require(try await gateway.call("campaigns.getStats", hot).json?["result"])
            #expect(first["upstream"]?["calls"] == 1)
            _ = try await gateway.call("campaigns.getStats", cold)
            // Read twice more (from the answer and replay caches): popular.
            for _ in 0..<2 { #expect(try await gateway.call("campaigns.getStats", hot).json?["result"]?["upstream"]?["calls"] == 0) }
            // Past the entries' first life: the hot one was refreshed meanwhile, the cold one expired.
            try await Task.sleep(for: .milliseconds(2_300))
            let later = try #require(try await gateway.call("campaigns.getStats", hot).json?["result"])
            #expect(later["upstream"]?["calls"] == 0, "the read after the expiry finds the refreshed entry")
            #expect(later["upstream"]?["cache_hits"] == 2)
            #expect(later["campaigns"] == first["campaigns"], "refreshed with the same merge")
            #expect(later["stale"] == false)
            let coldLater = try #require(try await gateway.call("campaigns.getStats", cold).json?["result"])
            #expect(coldLater["upstream"]?["calls"] == 1, "a cold entry is not refreshed")
            let calls = try await gateway.upstreamCalls()
            #expect(calls.count == 4, "hot, cold, the hot one's refresh, cold again: \(calls.count)")
            #expect(try await Self.metric(gateway, #"campaign_gateway_refreshes_total{outcome="ok"}"#) ?? 0 >= 1)
            #expect(try await Self.metric(gateway, "campaign_gateway_refresh_hits_total") ?? 0 >= 1)
            #expect(try await Self.metric(gateway, #"campaign_gateway_budget_grants_total{workspace="main",class="background"}"#) ?? 0 >= 1)
        }
    }

    @Test func dryRunsAndJobSubmitsAreNotReads() async throws {
        try await GatewayHarness.with(yaml: Self.yaml) { gateway in
            let params: JSON = [
                "workspace": "main", "campaign_ids": [.string(gateway.alwaysActiveIDs[3])], "start_date": "2025-06-01", "end_date": "2025-06-10",
            ]
            #expect(try await gateway.call("campaigns.getStats", params).json?["result"]?["upstream"]?["calls"] == 1)
            for _ in 0..<3 {
                #expect(try await gateway.call("campaigns.getStats", params.setting("dry_run", true)).json?["result"]?["plan"]?["cache_hits"] == 1)
            }
            try await Task.sleep(for: .milliseconds(2_300))
            #expect(try await gateway.call("campaigns.getStats", params).json?["result"]?["upstream"]?["calls"] == 1, "not refreshed: nobody read it")
            #expect(try await gateway.upstreamCalls().count == 2)
        }
    }
}
