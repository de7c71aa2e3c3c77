import CurlHTTP
import DynamicJSON
import Foundation
import MoEngageSimulator
import Testing

extension GatewayHarness {
    /// Submits a job and returns `jobs.submit`'s result (failing the test on an error).
    func submitJob(_ params: JSON, token: String = TestSecrets.reportingToken) async throws -> JSON {
        let answer = try await call("jobs.submit", params, token: token)
        let result = try #require(answer.json?["result"], "jobs.submit answered \(answer.text)")
        return result
    }

    /// Polls `jobs.get` until the job has ended; its last answer.
    func finishedJob(_ id: JSON, token: String = TestSecrets.reportingToken, within: Duration = .seconds(240)) async throws -> JSON {
        let end = ContinuousClock.now + within
        while ContinuousClock.now < end {
            let job = try #require(try await call("jobs.get", ["job_id": id], token: token).json?["result"])
            if let state = job["state"]?.stringValue, ["done", "failed", "cancelled"].contains(state) { return job }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the job did not end in time")
        return .null
    }
}

@Suite struct JobTests {
    @Test func aJobAnswersExactlyWhatTheSynchronousCallAnswers() async throws {
        try await GatewayHarness.with { gateway in
            let ids = Array(gateway.alwaysActiveIDs.prefix(12)).map(JSON.string)
            let params: JSON = ["workspace": "main", "campaign_ids": .array(ids), "start_date": "2025-01-01", "end_date": "2025-03-31"]
            let submitted = try await gateway.submitJob(params)
            #expect(submitted["estimated_calls"] == 6, "3 windows × 2 chunks of ids")
            #expect(submitted["cache_hits"] == 0)
            #expect((submitted["eta_ms"]?.intValue ?? -1) >= 0)
            let job = try await gateway.finishedJob(try #require(submitted["job_id"]))
            #expect(job["state"] == "done")
            #expect(job["storage"] == "process")
            #expect(job["method"] == "campaigns.getStats")
            #expect(job["progress"] == ["calls_done": 6, "calls_total": 6])
            #expect(job["params"]?["method"] == "campaigns.getStats")
            #expect(job["created_at"]?.stringValue?.hasSuffix("Z") == true)
            #expect(job["finished_at"]?.stringValue != nil)
            let upstreamCalls = try await gateway.upstreamCalls().count
            #expect(upstreamCalls == 6)
            // The synchronous answer, from a cold gateway over the same simulator data.
            let sync = try await GatewayHarness.with { cold in try #require(try await cold.call("campaigns.getStats", params).json?["result"]) }
            #expect(job["result"] == sync)
            // The job's calls are in the cache: the synchronous call now costs nothing.
            let warm = try await gateway.call("campaigns.getStats", params).json?["result"]
            #expect(warm?["upstream"]?["calls"] == 0)
            // Listed, without its result.
            let listed = try await gateway.call("jobs.list", [:]).json?["result"]?["jobs"]?.arrayValue ?? []
            #expect(listed.count == 1)
            #expect(listed.first?["job_id"] == submitted["job_id"])
            #expect(listed.first?["result"] == nil)
        }
    }

    @Test func listAndDailyJobsRunTheirMethods() async throws {
        try await GatewayHarness.with { gateway in
            let list = try await gateway.submitJob(["method": "campaigns.list", "workspace": "main", "channels": ["EMAIL"]])
            let listed = try await gateway.finishedJob(try #require(list["job_id"]))
            let syncList = try await gateway.call("campaigns.list", ["workspace": "main", "channels": ["EMAIL"]]).json?["result"]
            #expect(listed["state"] == "done")
            #expect(listed["result"]?["campaigns"] == syncList?["campaigns"])
            let daily = try await gateway.submitJob(["method": "reports.getDaily", "workspace": "main", "date": "2025-02-03"])
            let report = try await gateway.finishedJob(try #require(daily["job_id"]))
            #expect(report["state"] == "done")
            #expect(report["result"]?["days"]?.arrayValue?.count == 1)
        }
    }

    @Test func badInputIsRefusedWithTheSynchronousErrorsAndChangesNothing() async throws {
        try await GatewayHarness.with(yaml: GatewayHarness.yaml(extra: "jobs: {max_calls: 40, max_queued_per_caller: 2}")) { gateway in
            func error(_ method: String, _ params: JSON, token: String = TestSecrets.reportingToken) async throws -> JSON {
                try #require(try await gateway.call(method, params, token: token).json?["error"], "\(method) \(params) was not refused")
            }
            let ids = Array(gateway.alwaysActiveIDs.prefix(3)).map(JSON.string)
            // Params the method refuses, refused at submit with the method's own error.
            let badDate: JSON = ["workspace": "main", "campaign_ids": .array(ids), "start_date": "2025-02-30", "end_date": "2025-03-01"]
            let syncError = try await error("campaigns.getStats", badDate)
            #expect(try await error("jobs.submit", badDate) == syncError)
            let unknownWorkspace: JSON = ["workspace": "other-unknown", "start_date": "2025-01-01", "end_date": "2025-01-02"]
            #expect(try await error("jobs.submit", unknownWorkspace) == error("campaigns.getStats", unknownWorkspace))
            #expect(try await error("jobs.submit", ["workspace": "other", "start_date": "2025-01-01", "end_date": "2025-01-02"], token: TestSecrets.narrowToken)["code"] == -32003)
            #expect(try await error("jobs.submit", ["method": "reports.getDaily", "workspace": "main", "campaign_ids": .array(ids)])["data"]?["field"] == "campaign_ids")
            #expect(try await error("jobs.submit", ["workspace": "main", "dry_run": true])["data"]?["field"] == "dry_run")
            #expect(try await error("jobs.submit", ["method": "rpc.discover"])["data"]?["field"] == "method")
            let tooBig: JSON = ["workspace": "main", "campaign_ids": .array(gateway.simulator.catalog.campaigns.prefix(40).map { JSON.string($0.id) }),
                                "start_date": "2025-01-01", "end_date": "2025-12-31"]
            let planError = try await error("jobs.submit", tooBig)
            #expect(planError["code"] == -32013)
            #expect(planError["data"]?["limit"] == 40)
            #expect(planError["data"]?["estimated_calls"] == 52, "13 windows × 4 chunks of ids")
            // Ids: unknown, malformed and another caller's get one answer.
            let unknown = try await error("jobs.get", ["job_id": "0123456789abcdef0123456789abcdef"])
            #expect(unknown["code"] == -32602)
            #expect(unknown["data"]?["field"] == "job_id")
            #expect(try await error("jobs.get", ["job_id": "../../etc"]) == unknown)
            #expect(try await error("jobs.cancel", ["job_id": "0123456789abcdef0123456789abcdef"]) == unknown)
            let mine = try await gateway.submitJob(["workspace": "main", "campaign_ids": .array(ids), "start_date": "2025-01-01", "end_date": "2025-01-10"])
            let id = try #require(mine["job_id"])
            #expect(try await error("jobs.get", ["job_id": id], token: TestSecrets.soloToken) == unknown)
            #expect(try await error("jobs.cancel", ["job_id": id], token: TestSecrets.soloToken) == unknown)
            #expect(try await gateway.call("jobs.list", [:], token: TestSecrets.soloToken).json?["result"]?["jobs"] == [])
            // Cancelling a finished job: -32016 with its state; it stays done.
            let done = try await gateway.finishedJob(id)
            #expect(done["state"] == "done")
            let finished = try await error("jobs.cancel", ["job_id": id])
            #expect(finished["code"] == -32016)
            #expect(finished["data"]?["state"] == "done")
            #expect(try await gateway.call("jobs.get", ["job_id": id]).json?["result"]?["state"] == "done")
            #expect(try await error("jobs.get", [:])["code"] == -32602)
            // Connect GET is refused for Submit (it has side effects), served for Get.
            let get = try await gateway.send("/gateway.v1.JobService/Submit?encoding=json&message=%7B%7D", body: nil, method: "GET")
            #expect(get.status == 405)
            #expect(get.header("Allow") == "POST")
        }
    }

    @Test func aCallerHasAtMostItsQuotaOfJobsQueuedAndCancelStopsOne() async throws {
        // One call every 2 s keeps the jobs running while the test looks at them.
        let limits = "[{calls: 1, per_seconds: 2}]"
        try await GatewayHarness.with(
            simulator: GatewayHarness.simulatorConfiguration(rateLimits: [RollingLimit(calls: 1, perSeconds: 2)]),
            yaml: GatewayHarness.yaml(extra: "jobs: {max_queued_per_caller: 2}\nupstream: {safety_margin_ms: 50}", mainRateLimits: limits)
        ) { gateway in
            let ids = Array(gateway.alwaysActiveIDs.prefix(3)).map(JSON.string)
            /// Three windows: three calls, 4 s or more.
            func params(_ year: Int) -> JSON {
                ["workspace": "main", "campaign_ids": .array(ids), "start_date": .string("202\(year)-01-01"), "end_date": .string("202\(year)-03-31")]
            }
            let first = try #require(try await gateway.submitJob(params(5))["job_id"])
            _ = try await gateway.submitJob(params(6))
            let refused = try #require(try await gateway.call("jobs.submit", params(6)).json?["error"])
            #expect(refused["code"] == -32015)
            #expect(refused["data"]?["limit"] == 2)
            let cancelled = try #require(try await gateway.call("jobs.cancel", ["job_id": first]).json?["result"])
            #expect(cancelled["state"] == "cancelled")
            #expect(cancelled["finished_at"]?.stringValue != nil)
            // A slot is free again.
            _ = try await gateway.submitJob(params(6))
            let again = try await gateway.finishedJob(first)
            #expect(again["state"] == "cancelled")
        }
    }
}
