import DynamicJSON
import Foundation
import ServerTesting
import Testing

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// `/metrics` as an operator scrapes it: every series from the first scrape, counts that follow
/// what happened, Prometheus conventions (`promtool check metrics`), and the shipped alert rules
/// and dashboard naming only metrics that exist.
@Suite struct MetricsTests {
    /// A scrape's samples by series (`name{labels}` exactly as exposed).
    private struct Scrape {
        let text: String
        let samples: [String: Double]

        init(_ text: String) {
            self.text = text
            var samples: [String: Double] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
                samples[String(line[..<space])] = value
            }
            self.samples = samples
        }

        subscript(_ series: String) -> Double? { samples[series] }

        /// Every metric name exposed (histograms by their base name too).
        var names: Set<String> {
            Set(
                samples.keys.flatMap { series -> [String] in
                    let name = String(series.prefix { $0 != "{" })
                    let base = ["_bucket", "_sum", "_count"].first { name.hasSuffix($0) }.map { String(name.dropLast($0.count)) }
                    return [name] + (base.map { [$0] } ?? [])
                })
        }
    }

    private func scrape(_ gateway: GatewayHarness) async throws -> Scrape {
        let answer = try await gateway.get("/metrics")
        #expect(answer.status == 200)
        return Scrape(answer.text)
    }

    private static let statsEndpoint = "/core-services/v1/campaign-stats"

    @Test func everySeriesIsThereFromTheFirstScrape() async throws {
        try await GatewayHarness.with { gateway in
            let metrics = try await scrape(gateway)
            for caller in ["reporting", "narrow", "solo", "admin", "unauthenticated"] {
                #expect(metrics[#"campaign_gateway_requests_total{method="campaigns.getStats",caller="\#(caller)",code="ok"}"#] == 0, "\(caller)")
            }
            #expect(metrics[#"campaign_gateway_requests_total{method="unknown",caller="unauthenticated",code="unauthenticated"}"#] == 0)
            #expect(metrics[#"campaign_gateway_request_duration_seconds_count{method="reports.getDaily"}"#] == 0)
            #expect(metrics["campaign_gateway_requests_in_flight"] == 0)
            for workspace in ["main", "other"] {
                for statusClass in ["2xx", "4xx", "5xx", "error"] {
                    let series =
                        #"campaign_gateway_upstream_calls_total{workspace="\#(workspace)",endpoint="\#(Self.statsEndpoint)",status_class="\#(statusClass)"}"#
                    #expect(metrics[series] == 0, "\(series)")
                }
                #expect(
                    metrics[#"campaign_gateway_upstream_retries_total{workspace="\#(workspace)",endpoint="/core-services/v1/campaigns/meta"}"#] == 0)
                #expect(metrics[#"campaign_gateway_upstream_rate_limited_total{workspace="\#(workspace)"}"#] == 0)
                #expect(metrics[#"campaign_gateway_budget_grants_total{workspace="\#(workspace)",class="interactive"}"#] == 0)
                #expect(metrics[#"campaign_gateway_budget_refusals_total{workspace="\#(workspace)"}"#] == 0)
                #expect(metrics[#"campaign_gateway_budget_wait_seconds_count{workspace="\#(workspace)"}"#] == 0)
            }
            #expect(metrics[#"campaign_gateway_upstream_calls_total{workspace="mig",endpoint="/v1/campaigns/{id}/stats",status_class="2xx"}"#] == 0)
            #expect(metrics[#"campaign_gateway_upstream_duration_seconds_count{workspace="main",endpoint="\#(Self.statsEndpoint)"}"#] == 0)
            #expect(metrics[#"campaign_gateway_budget_window_limit{workspace="main",window="60s"}"#] == 100)
            #expect(metrics[#"campaign_gateway_budget_window_calls{workspace="main",window="60s"}"#] == 0)
            for name in [
                "campaign_gateway_cache_hits_total", "campaign_gateway_cache_misses_total", "campaign_gateway_cache_stale_served_total",
                "campaign_gateway_cache_evictions_total", "campaign_gateway_coalesced_calls_total", "campaign_gateway_cache_entries",
                "campaign_gateway_cache_bytes", "campaign_gateway_answer_cache_hits_total", "campaign_gateway_answer_replays_total",
            ] {
                #expect(metrics[name] == 0, "\(name)")
            }
            #expect(metrics[#"campaign_gateway_build_info{version="0.1.0"}"#] == 1)
            #expect(metrics["campaign_gateway_ready"] == 1)
        }
    }

    @Test func countsFollowWhatHappened() async throws {
        try await GatewayHarness.with { gateway in
            let ids = Array(gateway.alwaysActiveIDs.prefix(12))
            func stats(_ ids: [String]) -> JSON {
                ["workspace": "main", "campaign_ids": .array(ids.map(JSON.string)), "start_date": "2025-03-01", "end_date": "2025-03-05"]
            }
            let first = try await gateway.call("campaigns.getStats", stats(ids))
            #expect(first.json?["result"]?["upstream"]?["calls"] == 2)
            let subset = try await gateway.call("campaigns.getStats", stats(Array(ids.prefix(5))))
            #expect(subset.json?["result"]?["upstream"]?["cache_hits"] == 5)
            _ = try await gateway.call("campaigns.getStats", stats(ids), token: TestSecrets.narrowToken)
            _ = try await gateway.call("campaigns.getStats", stats(ids), token: "not-a-token")
            _ = try await gateway.send("/rpc", body: Data("{not json".utf8))
            let metrics = try await scrape(gateway)
            #expect(metrics[#"campaign_gateway_requests_total{method="unknown",caller="reporting",code="parse_error"}"#] == 1)
            #expect(metrics[#"campaign_gateway_requests_total{method="campaigns.getStats",caller="reporting",code="ok"}"#] == 2)
            #expect(metrics[#"campaign_gateway_requests_total{method="campaigns.getStats",caller="narrow",code="permission_denied"}"#] == 1)
            #expect(metrics[#"campaign_gateway_requests_total{method="unknown",caller="unauthenticated",code="unauthenticated"}"#] == 1)
            #expect(metrics[#"campaign_gateway_request_duration_seconds_count{method="campaigns.getStats"}"#] == 3)
            #expect(metrics[#"campaign_gateway_upstream_calls_total{workspace="main",endpoint="\#(Self.statsEndpoint)",status_class="2xx"}"#] == 2)
            #expect(metrics[#"campaign_gateway_upstream_duration_seconds_count{workspace="main",endpoint="\#(Self.statsEndpoint)"}"#] == 2)
            #expect(metrics[#"campaign_gateway_budget_grants_total{workspace="main",class="interactive"}"#] == 2)
            #expect(metrics[#"campaign_gateway_budget_wait_seconds_count{workspace="main"}"#] == 2)
            #expect(metrics[#"campaign_gateway_budget_window_calls{workspace="main",window="60s"}"#] == 2)
            #expect(metrics["campaign_gateway_cache_misses_total"] == 12)
            #expect(metrics["campaign_gateway_cache_hits_total"] == 5)
            #expect(metrics["campaign_gateway_cache_entries"] == 13, "12 items, and the subset's whole answer (made from the cache alone)")
            #expect((metrics["campaign_gateway_cache_bytes"] ?? 0) > 12 * 160)
            #expect(try await gateway.upstreamCalls().count == 2, "the figures are the simulator's")
        }
    }

    @Test func countsRetriesRateLimitsStaleServesAndRefusals() async throws {
        let yaml = GatewayHarness.yaml(extra: "cache: {fresh_ttl_s: 1, settled_ttl_s: 1}")
        try await GatewayHarness.with(yaml: yaml) { gateway in
            func question(timeoutMs: Int = 120_000) -> JSON {
                [
                    "workspace": "main", "campaign_ids": .array(gateway.alwaysActiveIDs.prefix(3).map(JSON.string)), "start_date": "2025-03-01",
                    "end_date": "2025-03-05", "timeout_ms": .int(timeoutMs),
                ]
            }
            try await gateway.script([
                ["path": .string(Self.statsEndpoint), "status": 503],
                ["path": .string(Self.statsEndpoint), "status": 429, "headers": ["Retry-After": "1"]],
            ])
            let retried = try await gateway.call("campaigns.getStats", question())
            #expect(retried.json?["result"]?["upstream"]?["calls"] == 3, "\(retried.text)")
            try await Task.sleep(for: .milliseconds(1_100))  // the entries expire
            // Every attempt (4, with backoff, well within the deadline) fails: the expired entries are served.
            try await gateway.script(Array(repeating: ["path": .string(Self.statsEndpoint), "status": 500], count: 4))
            let stale = try await gateway.call("campaigns.getStats", question())
            #expect(stale.json?["result"]?["stale"] == true && stale.json?["result"]?["upstream"]?["calls"] == 4, "\(stale.text)")
            let metrics = try await scrape(gateway)
            let upstream = #"workspace="main",endpoint="\#(Self.statsEndpoint)""#
            #expect(metrics["campaign_gateway_upstream_retries_total{\(upstream)}"] == 5, "2 for the first question, 3 for the second")
            #expect(metrics[#"campaign_gateway_upstream_rate_limited_total{workspace="main"}"#] == 1)
            #expect(metrics["campaign_gateway_upstream_calls_total{\(upstream),status_class=\"4xx\"}"] == 1)
            #expect(metrics["campaign_gateway_upstream_calls_total{\(upstream),status_class=\"5xx\"}"] == 5)
            #expect(metrics["campaign_gateway_cache_stale_served_total"] == 3)
            let calls = try await gateway.upstreamCalls().count
            #expect(metrics[#"campaign_gateway_budget_grants_total{workspace="main",class="interactive"}"#] == Double(calls), "every call sent was granted")
        }
    }

    @Test func followsPrometheusConventionsByPromtool() async throws {
        let promtool = try #require(
            Self.promtool, "promtool is missing: `make promtool` (part of `make test`) fetches it from Debian's prometheus package")
        try await ClusterHarness.with(
            replicas: 1, simulator: ReplicaTests.simulator, yaml: ClusterHarness.yaml(limits: ReplicaTests.limits, replicasHint: 1)
        ) {
            cluster in
            let text = String(decoding: try await cluster.client.execute(.init(url: cluster.gatewayBases[0] + "/metrics")).body, as: UTF8.self)
            let checked = try await ChildProcess.run(promtool, ["check", "metrics"], input: Data(text.utf8))
            #expect(checked.status == 0, "promtool check metrics: \(checked.output)")
        }
    }

    @Test func theShippedAlertsAndDashboardUseOnlyMetricsThatExist() async throws {
        let promtool = try #require(
            Self.promtool, "promtool is missing: `make promtool` (part of `make test`) fetches it from Debian's prometheus package")
        let root = repositoryRoot
        let rules = try await ChildProcess.run(promtool, ["check", "rules", root + "/deploy/prometheus/alerts.yaml"])
        #expect(rules.status == 0, "promtool check rules: \(rules.output)")
        // Every metric only exists with Redis configured once (campaign_gateway_redis_degraded).
        try await ClusterHarness.with(
            replicas: 1, simulator: ReplicaTests.simulator, yaml: ClusterHarness.yaml(limits: ReplicaTests.limits, replicasHint: 1)
        ) {
            cluster in
            let exposed = Scrape(
                String(decoding: try await cluster.client.execute(.init(url: cluster.gatewayBases[0] + "/metrics")).body, as: UTF8.self)
            ).names
            for file in ["/deploy/prometheus/alerts.yaml", "/deploy/grafana/campaign-gateway.json"] {
                let text = try String(contentsOfFile: root + file, encoding: .utf8)
                let referenced = Set(text.matches(of: /campaign_gateway_[a-z0-9_]+/).map { String($0.output) })
                #expect(referenced.count >= 8, "\(file) watches the gateway")
                #expect(
                    referenced.subtracting(exposed).isEmpty,
                    "\(file) names metrics /metrics does not have: \(referenced.subtracting(exposed).sorted())")
            }
        }
    }

    /// promtool from `make promtool`, or on the PATH.
    private static var promtool: String? {
        let candidates = [repositoryRoot + "/.build/tools/promtool", "/usr/bin/promtool"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
