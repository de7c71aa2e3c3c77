import CurlHTTP
import DynamicJSON
import Foundation
import GatewayConfig
import GatewayRPC
import LockedState
import MoEngageSimulator
import ServerTesting
import Testing

/// A gateway replica run in its own task until told to stop (as a rolling update stops one).
private final class StoppableReplica: Sendable {
    private let stop: AsyncStream<Void>.Continuation
    private let task: Task<Void, any Error>
    /// Its HTTP base URL.
    let base: String

    /// Starts a replica of `configuration`; returns once it listens.
    init(configuration: GatewayConfiguration, secrets: ResolvedSecrets) async throws {
        let (stops, stop) = AsyncStream.makeStream(of: Void.self)
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        self.stop = stop
        task = Task {
            try await LiveServer.withRunning({ onRunning in
                try GatewayApplication.make(configuration: configuration, secrets: secrets, logger: LiveServer.quietLogger, onServerRunning: onRunning)
            }) { port in
                portSink.yield(port)
                for await _ in stops { break }
            }
        }
        var iterator = ports.makeAsyncIterator()
        base = "http://127.0.0.1:\(try #require(await iterator.next()))"
    }

    /// Stops it (gracefully: its jobs give up their leases) and waits until it has stopped.
    func stopAndWait() async {
        stop.yield()
        _ = try? await task.value
    }
}

/// Jobs across replicas sharing one Redis: any replica answers for a job, and one that stops mid-job
/// leaves it to another, which resumes from the shared cache.
@Suite struct JobReplicaTests {
    /// The job: 50 ids over a year (5 chunks × 13 windows = 65 calls, about 7 s at 20 per 2 s), or every campaign over a year.
    @Test(arguments: [false, true])
    func aJobWhoseReplicaStopsIsResumedByAnotherWithoutFetchingAgainWhatWasFetched(allCampaigns: Bool) async throws {
        let simulator = MoEngageSimulator(configuration: GatewayHarness.simulatorConfiguration(rateLimits: [RollingLimit(calls: 20, perSeconds: 2)]))
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        try await RedisServerProcess.with { redis in
            try await LiveServer.withRunning({ simulator.makeApplication(logger: LiveServer.quietLogger, onServerRunning: $0) }) { simPort in
                let simBase = "http://127.0.0.1:\(simPort)"
                let yaml = ClusterHarness.yaml(limits: "[{calls: 20, per_seconds: 2}]", replicasHint: 2) + "\njobs: {lease_ms: 900}\n"
                let configuration = try ConfigLoader.parse(
                    yaml.replacingOccurrences(of: "SIM", with: simBase).replacingOccurrences(of: "REDIS", with: "\(redis.port)"))
                let secrets = try SecretResolver(environment: TestSecrets.environment).resolve(configuration)
                func call(_ base: String, _ method: String, _ params: JSON) async throws -> JSON {
                    let request: JSON = ["jsonrpc": "2.0", "id": 1, "method": .string(method), "params": params]
                    let response = try await client.execute(
                        HTTPClientRequest(
                            method: "POST", url: base + "/rpc", headers: [(name: "Authorization", value: "Bearer \(TestSecrets.reportingToken)")],
                            body: request.encoded(), totalTimeoutMs: 60_000))
                    return try JSON.parse(response.body)
                }
                /// The bodies of the stats calls the simulator received, without their request ids.
                func statsCalls() async throws -> [JSON] {
                    let calls = try JSON.parse(try await client.execute(HTTPClientRequest(url: "\(simBase)/_sim/calls")).body)["calls"]?.arrayValue ?? []
                    return calls.map { call in
                        var body = call["body"]?.objectValue ?? [:]
                        body["request_id"] = nil
                        return .object(body)
                    }
                }
                var params: JSON = ["workspace": "main", "start_date": "2025-01-01", "end_date": "2025-12-31", "view": "summary"]
                if !allCampaigns { params = params.setting("campaign_ids", .array(simulator.catalog.campaigns.prefix(50).map { JSON.string($0.id) })) }
                let first = try await StoppableReplica(configuration: configuration, secrets: secrets)
                let submitted = try #require(try await call(first.base, "jobs.submit", params)["result"])
                let planned = try #require(submitted["estimated_calls"]?.intValue)
                #expect(planned == (allCampaigns ? 13 : 65), "the first page of each window, or every chunk of every window")
                let id = try #require(submitted["job_id"])
                while (try await call(first.base, "jobs.get", ["job_id": id])["result"]?["progress"]?["calls_done"]?.intValue ?? 0) < 15 {
                    try await Task.sleep(for: .milliseconds(100))
                }
                let second = try await StoppableReplica(configuration: configuration, secrets: secrets)
                // Any replica answers for the job.
                let seen = try #require(try await call(second.base, "jobs.get", ["job_id": id])["result"])
                #expect(seen["state"] == "running")
                #expect(seen["storage"] == "redis")
                let beforeStop = try await statsCalls().count
                await first.stopAndWait()
                // Calls the stopping replica had sent and not stored may be made again: at most those sent meanwhile, and the one in flight.
                let inFlightAtStop = try await statsCalls().count - beforeStop + 1
                var job = JSON.null
                let end = ContinuousClock.now + .seconds(120)
                while ContinuousClock.now < end {
                    job = try #require(try await call(second.base, "jobs.get", ["job_id": id])["result"])
                    if job["state"] != "running" && job["state"] != "queued" { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(job["state"] == "done", "\(job)")
                let calls = try await statsCalls()
                let made = calls.count
                let distinct = Set(calls.map { String(decoding: $0.encoded(), as: UTF8.self) }).count
                #expect(made >= planned)
                #expect(made - distinct <= inFlightAtStop, "\(made - distinct) calls made again; \(inFlightAtStop) in flight at the stop")
                if !allCampaigns { #expect(made <= planned + inFlightAtStop, "\(made) calls for a plan of \(planned)") }
                // Its progress counts every call each run paid for: all the simulator saw (a call cut off by the stop too),
                // and at most the ones in flight at the stop that were cut off before they were sent.
                let done = try #require(job["progress"]?["calls_done"]?.intValue)
                #expect(done >= made && done <= made + inFlightAtStop, "calls_done \(done) of \(made) made")
                // The result is the synchronous answer (for ids, served from the cache the job filled; every campaign is walked again).
                let sync = try #require(try await call(second.base, "campaigns.getStats", params)["result"])
                if !allCampaigns { #expect(sync["upstream"]?["calls"] == 0, "the job's entries are in the shared cache") }
                #expect(job["result"]?["campaigns"] == sync["campaigns"])
                #expect(job["result"]?["windows"] == sync["windows"])
                let breaches = try JSON.parse(try await client.execute(HTTPClientRequest(url: "\(simBase)/_sim/calls")).body)["breaches"]?.arrayValue
                #expect(breaches == [])
                await second.stopAndWait()
            }
        }
    }
}
