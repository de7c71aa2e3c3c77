import GatewayConfig
import GatewayCore
import Logging
import Metrics
import RedisClient
import ServerTesting
import Testing

/// Admissions (`RateBudget.admit`) on both budgets: requests planned at the same instant cannot
/// all count on the same slots, and admitted calls stop counting once waiting or let go of.
@Suite struct BudgetAdmissionTests {
    /// The in-process budget, then a shared one on a real `redis-server`, for workspace `main` with `limits`.
    private func withEachBudget(_ limits: String, _ body: (any RateBudget) async throws -> Void) async throws {
        let workspaces = try BudgetFixtures.workspaces(limits)
        try await body(InProcessRateBudget(workspaces: workspaces, safetyMargin: .milliseconds(50)))
        try await RedisServerProcess.with { server in
            let redis = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port))
            defer { redis.close() }
            var quiet = Logger(label: "test")
            quiet.logLevel = .critical
            let settings = RedisRateBudget.Settings(keyPrefix: "test:", replicasHint: 1, safetyMargin: .milliseconds(50), callLease: .seconds(5))
            let health = SharedStoreHealth(metrics: NOOPMetricsHandler.instance, logger: quiet)
            try await body(RedisRateBudget(workspaces: workspaces, redis: redis, settings: settings, health: health))
        }
    }

    private func admitted(_ outcome: AdmissionOutcome) -> BudgetAdmission? {
        if case .admitted(let admission) = outcome { return admission }
        return nil
    }

    @Test func ofTwoRequestsAskingTogetherForTheLastSlotsOnlyOneIsAdmitted() async throws {
        try await withEachBudget("[{calls: 3, per_seconds: 60}]") { budget in
            let deadline = ContinuousClock.now + .seconds(5)
            async let first = budget.admit(workspace: "main", calls: 3, by: deadline)
            async let second = budget.admit(workspace: "main", calls: 3, by: deadline)
            let outcomes = await [first, second]
            #expect(outcomes.compactMap(admitted).count == 1, "\(budget)")
            for case .refused(let completion, _) in outcomes { #expect(completion > deadline) }
            withExtendedLifetime(outcomes) {}
        }
    }

    @Test func admittedCallsCountUntilTheirGrantsTakeThemUpOrTheRequestEnds() async throws {
        try await withEachBudget("[{calls: 3, per_seconds: 60}]") { budget in
            let deadline = ContinuousClock.now + .seconds(5)
            func admit(_ calls: Int) async -> BudgetAdmission? { admitted(await budget.admit(workspace: "main", calls: calls, by: deadline)) }
            let planned = try #require(await admit(2))
            #expect(await admit(2) == nil, "two admitted of three leave one")
            // One of its calls waits and is granted: it counts as in flight, no longer as admitted.
            let grant = try await budget.acquire(workspace: "main", claim: BudgetClaim(caller: "a", admission: planned) { deadline })
            var other = await admit(1)
            #expect(other != nil, "one in flight and one admitted leave one")
            #expect(await admit(1) == nil, "one in flight and two admitted fill the three")
            withExtendedLifetime(other) {}
            other = nil  // that request ended without calling
            #expect(await admit(1) != nil, "its admission ended with it")
            budget.complete(grant, sent: true)
            withExtendedLifetime(planned) {}
        }
    }

    @Test func aPlanIsAdmittedOnlyWhenItsLastCallCanBeAnsweredByTheDeadline() async throws {
        try await withEachBudget("[{calls: 5, per_seconds: 1}]") { budget in
            var grants: [BudgetGrant] = []
            for _ in 0..<3 { grants.append(try await budget.acquire(workspace: "main", caller: "a")) }
            try await Task.sleep(for: .milliseconds(900))
            grants.forEach { budget.complete($0, sent: true) }  // calls take about 900 ms
            let soon = await budget.admit(workspace: "main", calls: 1, by: .now + .milliseconds(450))
            #expect(admitted(soon) == nil, "granted at once, but answered after the deadline")
            let tight = await budget.admit(workspace: "main", calls: 1, by: .now + .milliseconds(1_000))
            #expect(admitted(tight) == nil, "answered just before the deadline, if no slower than typical: no margin left")
            #expect(admitted(await budget.admit(workspace: "main", calls: 1, by: .now + .seconds(10))) != nil)
        }
    }

    @Test func oneSlowCallAmongQuickOnesMovesTheTypicalDurationLittle() async throws {
        // In process, where a grant is handed back the instant it is made (no task switch to time).
        let budget = InProcessRateBudget(workspaces: try BudgetFixtures.workspaces("[{calls: 5, per_seconds: 1}]"), safetyMargin: .zero)
        let slow = try await budget.acquire(workspace: "main", caller: "a")
        try await Task.sleep(for: .milliseconds(900))
        budget.complete(slow, sent: true)
        for _ in 0..<3 { budget.complete(try await budget.acquire(workspace: "main", caller: "a"), sent: true) }
        #expect(admitted(await budget.admit(workspace: "main", calls: 1, by: .now + .milliseconds(450))) != nil)
    }

    @Test func aPlanAdmittedOnOneReplicaCountsOnTheOthers() async throws {
        try await RedisServerProcess.with { server in
            let workspaces = try BudgetFixtures.workspaces("[{calls: 3, per_seconds: 60}]")
            let redis = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port))
            defer { redis.close() }
            var quiet = Logger(label: "test")
            quiet.logLevel = .critical
            let replicas = (0..<2).map { _ in
                RedisRateBudget(
                    workspaces: workspaces, redis: redis,
                    settings: RedisRateBudget.Settings(keyPrefix: "test:", replicasHint: 1, safetyMargin: .milliseconds(50), callLease: .seconds(5)),
                    health: SharedStoreHealth(metrics: NOOPMetricsHandler.instance, logger: quiet))
            }
            let deadline = ContinuousClock.now + .seconds(5)
            let first = try #require(admitted(await replicas[0].admit(workspace: "main", calls: 2, by: deadline)))
            #expect(admitted(await replicas[1].admit(workspace: "main", calls: 2, by: deadline)) == nil, "two of three are the first replica's")
            // The plan refused there was told to Redis before it was refused, and is taken back.
            var last: BudgetAdmission?
            for _ in 0..<20 where last == nil {
                last = admitted(await replicas[0].admit(workspace: "main", calls: 1, by: deadline))
                if last == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(last != nil, "the last slot, within a second (the refused plan's calls told would hold it for 2 s)")
            #expect(admitted(await replicas[1].admit(workspace: "main", calls: 1, by: deadline)) == nil, "all three are the first replica's")
            withExtendedLifetime(last) {}
            withExtendedLifetime(first) {}
        }
    }
}
