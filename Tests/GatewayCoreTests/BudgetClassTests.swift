import GatewayConfig
import GatewayCore
import LockedState
import Logging
import Metrics
import RedisClient
import ServerTesting
import Testing

/// Interactive calls and background work (jobs, refresh-ahead) on one budget: background work takes
/// only the slots interactive demand leaves, paced, beside its reserved share.
@Suite struct BudgetClassTests {
    /// Keeps `workers` acquiring background grants on `budget` until cancelled, each call taking 5 ms; their grant instants.
    private static func backgroundLoad(_ budget: any RateBudget, workers: Int, log: Locked<[ContinuousClock.Instant]>) -> Task<Void, Never> {
        Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    group.addTask {
                        while !Task.isCancelled {
                            let claim = BudgetClaim(caller: "job-\(worker)", priority: .background) { .now + .seconds(600) }
                            guard let grant = try? await budget.acquire(workspace: "main", claim: claim) else { return }
                            log.withLock { $0.append(grant.granted) }
                            try? await Task.sleep(for: .milliseconds(5))
                            budget.complete(grant, sent: true)
                        }
                    }
                }
            }
        }
    }

    /// `count` interactive calls asked for at once on `budget`; how long each waited for its grant.
    private static func interactiveBurst(_ budget: any RateBudget, count: Int) async throws -> [Duration] {
        try await withThrowingTaskGroup(of: Duration.self) { group in
            for index in 0..<count {
                group.addTask {
                    let asked = ContinuousClock.now
                    let grant = try await budget.acquire(workspace: "main", claim: BudgetClaim(caller: "dashboard-\(index)") { .now + .seconds(60) })
                    let waited = ContinuousClock.now - asked
                    try await Task.sleep(for: .milliseconds(5))
                    budget.complete(grant, sent: true)
                    return waited
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func inProcessBackgroundWorkIsPacedAndGoesAfterInteractiveCalls() async throws {
        // 10 per second (window 1.05 s): background grants 105 ms apart.
        let budget = InProcessRateBudget(workspaces: try BudgetFixtures.workspaces("[{calls: 10, per_seconds: 1}]"), safetyMargin: .milliseconds(50))
        let log = Locked<[ContinuousClock.Instant]>([])
        let load = Self.backgroundLoad(budget, workers: 4, log: log)
        try await Task.sleep(for: .milliseconds(2_500))
        let grants = log.withLock { $0 }
        let gaps = zip(grants.dropFirst(), grants).map { $0 - $1 }
        #expect((gaps.min() ?? .zero) >= .milliseconds(100), "background grants are paced: \(gaps)")
        #expect(grants.count >= 20, "and use the budget: \(grants.count) in 2.5 s")
        // An interactive call arriving now waits for at most about one interval.
        let single = try await Self.interactiveBurst(budget, count: 1)
        #expect(single[0] <= .milliseconds(160), "waited \(single)")
        // Three at once: each next slot goes to them, not to the background work.
        let before = log.withLock { $0.count }
        let burst = try await Self.interactiveBurst(budget, count: 3)
        let during = log.withLock { $0.count } - before
        load.cancel()
        #expect((burst.max() ?? .zero) <= .milliseconds(450), "waited \(burst)")
        #expect(during <= 1, "background grants while interactive calls waited: \(during)")
        // Projections for interactive calls leave out the background waiters they go before.
        let interactive = await budget.projectedCompletion(workspace: "main", calls: 1, priority: .interactive, deadline: nil)
        let background = await budget.projectedCompletion(workspace: "main", calls: 20, priority: .background, deadline: nil)
        #expect(interactive - .now < .seconds(1))
        #expect(background - .now > .seconds(2), "20 paced background calls take 20 intervals")
    }

    @Test func aReservedShareKeepsBackgroundWorkMovingUnderInteractiveSaturation() async throws {
        let budget = InProcessRateBudget(
            workspaces: try BudgetFixtures.workspaces("[{calls: 10, per_seconds: 1}]"), safetyMargin: .milliseconds(50), reservedBackgroundShare: 0.3)
        let log = Locked<[ContinuousClock.Instant]>([])
        let load = Self.backgroundLoad(budget, workers: 6, log: log)
        // Interactive callers saturating the budget for 3 s.
        let end = ContinuousClock.now + .seconds(3)
        let interactiveGrants = Locked(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<4 {
                group.addTask {
                    while ContinuousClock.now < end {
                        let grant = try await budget.acquire(workspace: "main", claim: BudgetClaim(caller: "ui-\(caller)") { .now + .seconds(60) })
                        interactiveGrants.withLock { $0 += 1 }
                        budget.complete(grant, sent: true)
                    }
                }
            }
            try await group.waitForAll()
        }
        load.cancel()
        let background = log.withLock { $0.count }
        let share = Double(background) / Double(background + interactiveGrants.withLock { $0 })
        #expect(share >= 0.2 && share <= 0.45, "background work had \(share) of the grants (reserved 0.3)")
    }

    @Test func throughRedisBackgroundWorkOnOneReplicaYieldsToInteractiveCallsOnAnother() async throws {
        try await RedisServerProcess.with { server in
            func replica() throws -> (RedisRateBudget, RedisClient) {
                var options = RedisClientOptions()
                options.commandTimeout = .seconds(2)
                let redis = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port), options: options)
                var quiet = Logger(label: "test")
                quiet.logLevel = .critical
                let settings = RedisRateBudget.Settings(keyPrefix: "classes:", replicasHint: 2, safetyMargin: .milliseconds(50), callLease: .seconds(1))
                let budget = RedisRateBudget(
                    workspaces: try BudgetFixtures.workspaces("[{calls: 10, per_seconds: 1}]"), redis: redis, settings: settings,
                    health: SharedStoreHealth(metrics: NOOPMetricsHandler.instance, logger: quiet))
                return (budget, redis)
            }
            let (jobs, jobsRedis) = try replica()
            let (dashboards, dashboardsRedis) = try replica()
            defer {
                jobsRedis.close()
                dashboardsRedis.close()
            }
            // Each replica runs a script at least once a second, as the gateway's Redis health probe makes it do
            // (a silent one might be cut off from Redis and calling on its share).
            let heartbeat = Task {
                while !Task.isCancelled {
                    await jobs.storeReachable()
                    await dashboards.storeReachable()
                    try? await Task.sleep(for: .milliseconds(300))
                }
            }
            defer { heartbeat.cancel() }
            let log = Locked<[ContinuousClock.Instant]>([])
            // Past the first start's share period (every replica keeps to its share for a recovery: a window and a lease).
            _ = await jobs.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
            _ = await dashboards.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
            try await Task.sleep(for: .seconds(3))
            let load = Self.backgroundLoad(jobs, workers: 4, log: log)
            try await Task.sleep(for: .milliseconds(2_500))
            let grants = log.withLock { $0 }
            let gaps = zip(grants.dropFirst(), grants).map { $0 - $1 }
            #expect(grants.count >= 18, "background work uses the shared budget: \(grants.count) in 2.5 s, gaps \(gaps)")
            #expect((gaps.min() ?? .zero) >= .milliseconds(90), "paced across replicas: \(gaps)")
            let before = log.withLock { $0.count }
            let burst = try await Self.interactiveBurst(dashboards, count: 4)
            let during = log.withLock { $0.count } - before
            // A lone interactive call is demand too, while it waits for its grant.
            var lone: [Duration] = []
            var duringLone: [Int] = []
            for _ in 0..<5 {
                let before = log.withLock { $0.count }
                lone += try await Self.interactiveBurst(dashboards, count: 1)
                duringLone.append(log.withLock { $0.count } - before)
            }
            load.cancel()
            #expect((burst.max() ?? .zero) <= .milliseconds(700), "interactive calls on the other replica waited \(burst)")
            #expect(during <= 2, "background grants while the other replica's interactive calls waited: \(during)")
            #expect(duringLone.allSatisfy { $0 <= 1 }, "background grants while a lone interactive call waited: \(duringLone), waits \(lone)")
        }
    }
}
