import CurlHTTP
import DynamicJSON
import Foundation
import MoEngageSimulator
import Testing

extension JSON {
    /// This object without `member`.
    func removing(_ member: String) -> JSON {
        guard var object = objectValue else { return self }
        object[member] = nil
        return .object(object)
    }

    /// This object with `member` set to `value`.
    func setting(_ member: String, _ value: JSON) -> JSON {
        var object = objectValue ?? [:]
        object[member] = value
        return .object(object)
    }
}

/// Jobs on a rate limit scaled down from MoEngage's 100/60 s to 20/2 s: a job as big as a year of a
/// 500-campaign workspace runs on the whole budget, and interactive calls keep their latency.
@Suite struct JobBudgetTests {
    /// Enough campaigns for about 650 calls for a year of every campaign (50 pages × 13 windows).
    static let campaignCount = 1_200
    static let yearOfEveryCampaign: JSON = ["workspace": "main", "start_date": "2025-01-01", "end_date": "2025-12-31", "view": "summary"]

    static func simulator(limit: RollingLimit) -> SimulatorConfiguration {
        var configuration = GatewayHarness.simulatorConfiguration(rateLimits: [limit])
        configuration.campaignCount = campaignCount
        return configuration
    }

    /// The synchronous answer for `params`, from a gateway and a simulator without a practical limit.
    static func unlimitedAnswer(_ params: JSON) async throws -> JSON {
        try await GatewayHarness.with(
            simulator: simulator(limit: RollingLimit(calls: 100_000, perSeconds: 1)),
            yaml: GatewayHarness.yaml(limits: ["max_upstream_calls_per_request": 5_000], mainRateLimits: "[{calls: 100000, per_seconds: 1}]")
        ) { gateway in
            try #require(try await gateway.call("campaigns.getStats", params).json?["result"])
        }
    }

    @Test func aYearOfEveryCampaignRunsAsAJobOnTheWholeBudgetWithoutDelayingInteractiveCalls() async throws {
        let reference = try await Self.unlimitedAnswer(Self.yearOfEveryCampaign)
        try await GatewayHarness.with(
            simulator: Self.simulator(limit: RollingLimit(calls: 20, perSeconds: 2)),
            yaml: GatewayHarness.yaml(extra: "upstream: {safety_margin_ms: 20}", mainRateLimits: "[{calls: 20, per_seconds: 2}]")
        ) { gateway in
            let ids = gateway.alwaysActiveIDs
            /// One interactive call costing one upstream call (a day of 2026, which the job does not cover); its latency.
            func interactive(_ index: Int) async throws -> Duration {
                let day = String(format: "2026-%02d-%02d", 1 + index / 28, 1 + index % 28)
                let started = ContinuousClock.now
                let answer = try await gateway.call(
                    "campaigns.getStats", ["workspace": "main", "campaign_ids": [.string(ids[index % ids.count])], "start_date": .string(day), "end_date": .string(day)])
                let latency = ContinuousClock.now - started
                #expect(answer.json?["result"]?["upstream"]?["calls"] == 1, "\(answer.text.prefix(300))")
                return latency
            }
            var idle: [Duration] = []
            for index in 0..<5 {
                idle.append(try await interactive(index))
                try await Task.sleep(for: .milliseconds(200))
            }
            let baselineCalls = try await gateway.upstreamCalls().count
            let submitted = try await gateway.submitJob(Self.yearOfEveryCampaign)
            let id = try #require(submitted["job_id"])
            // Once the job fills the budget (past its first window), interactive calls arrive now and then.
            while (try await gateway.call("jobs.get", ["job_id": id]).json?["result"]?["progress"]?["calls_done"]?.intValue ?? 0) < 60 {
                try await Task.sleep(for: .milliseconds(100))
            }
            var busy: [Duration] = []
            for index in 5..<25 {
                busy.append(try await interactive(index))
                try await Task.sleep(for: .milliseconds(Int64.random(in: 150...450)))
            }
            let job = try await gateway.finishedJob(id, within: .seconds(400))
            #expect(job["state"] == "done")
            // Exactly the synchronous answer; its `upstream` usage differs only by the retries either run needed.
            #expect(job["result"]?.removing("upstream") == reference.removing("upstream"), "the job answers what the synchronous call answers")
            let planned = try #require(job["progress"]?["calls_done"]?.intValue)
            #expect(planned >= 600, "the job is as big as the issue's example")
            #expect(job["result"]?["upstream"]?["calls"]?.intValue == planned)
            // Budget use while the job ran: its calls and the interactive ones, from the first to the
            // last, against the limit's rate (20 per 2 s, widened by the 20 ms margin).
            let times = try await gateway.upstreamCalls().dropFirst(baselineCalls).compactMap { $0["at_ms"]?.intValue }.sorted()
            let span = Double(try #require(times.last) - (try #require(times.first))) / 1_000
            let use = Double(times.count - 1) / (span * 20 / 2.02)
            print("job: \(planned) calls in \(span) s, budget use \(use); interactive latency idle \(idle), busy \(busy)")
            #expect(use >= 0.95, "budget use \(use)")
            // One grant interval: the limit's window over its calls. Background grants are paced one
            // interval apart, so a slot frees within one interval of any instant, give or take how the
            // durations of the calls holding the window varied (they count from their completion):
            // the typical interactive call waits at most one interval, none more than two.
            let grantInterval = Duration.milliseconds(2_020) / 20
            let idleWorst = try #require(idle.max())
            let busyMedian = busy.sorted()[busy.count / 2]
            let idleMedian = idle.sorted()[idle.count / 2]
            #expect(busyMedian <= idleMedian + grantInterval, "interactive calls took \(busy) (idle: \(idle))")
            for latency in busy { #expect(latency <= idleWorst + grantInterval * 2, "an interactive call took \(latency) (idle: \(idleWorst))") }
        }
    }
}
