import GatewayConfig
import GatewayCore
import LockedState
import Logging
import Metrics
import RedisClient
import ServerTesting
import Testing

/// The shared budget against a real `redis-server`: several budget instances on one Redis stand
/// for several replicas.
@Suite struct RedisBudgetTests {
    private func replica(
        _ server: RedisServerProcess, limits: String, hint: Int = 1, prefix: String = "test:", lease: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(2), user: String? = nil, forgetAfter: Duration = .seconds(3_600)
    ) throws -> (budget: RedisRateBudget, health: SharedStoreHealth, redis: RedisClient) {
        var options = RedisClientOptions()
        options.commandTimeout = commandTimeout
        options.initialBackoff = .milliseconds(50)
        options.maxBackoff = .milliseconds(200)
        let redis = RedisClient(
            endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port, username: user, password: user.map { "pw-\($0)" }), options: options)
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        let health = SharedStoreHealth(metrics: NOOPMetricsHandler.instance, logger: quiet)
        var settings = RedisRateBudget.Settings(keyPrefix: prefix, replicasHint: hint, safetyMargin: .milliseconds(50), callLease: lease)
        settings.probeInterval = .milliseconds(200)
        settings.forgetAfter = forgetAfter
        return (RedisRateBudget(workspaces: try BudgetFixtures.workspaces(limits), redis: redis, settings: settings, health: health), health, redis)
    }

    /// Grant and completion instants of every call, for checking windows afterwards.
    private final class CallLog: Sendable {
        let calls = Locked<[(granted: ContinuousClock.Instant, completed: ContinuousClock.Instant, replica: Int)]>([])

        /// The most calls that were in flight or completed within `window` before any grant.
        func peak(window: Duration) -> Int {
            let all = calls.withLock { $0 }
            return all.map { call in
                all.filter { other in other.granted <= call.granted && other.completed > call.granted - window }.count
            }.max() ?? 0
        }
    }

    /// Keeps `callers` acquiring for `duration`, each call taking `hold`, on `budget` as replica `index`.
    private func load(
        _ budget: RedisRateBudget, index: Int, callers: Int, duration: Duration, hold: Duration, log: CallLog
    ) async throws {
        let end = ContinuousClock.now + duration
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<callers {
                group.addTask {
                    while ContinuousClock.now < end {
                        // The budget's own instants: this task may resume a while after the grant.
                        let grant = try await budget.acquire(workspace: "main", caller: "caller-\(caller)")
                        try await Task.sleep(for: hold)
                        let completed = ContinuousClock.now
                        budget.complete(grant, sent: true)
                        log.calls.withLock { $0.append((grant.granted, completed, index)) }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func threeReplicasTogetherKeepEveryLimitAndShareIt() async throws {
        try await RedisServerProcess.with { server in
            let replicas = try (0..<3).map { _ in try replica(server, limits: "[{calls: 12, per_seconds: 1}, {calls: 30, per_seconds: 3}]") }
            defer { replicas.forEach { $0.redis.close() } }
            let log = CallLog()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, replica) in replicas.enumerated() {
                    group.addTask {
                        try await load(replica.budget, index: index, callers: 4, duration: .seconds(4), hold: .milliseconds(10), log: log)
                    }
                }
                try await group.waitForAll()
            }
            // The gateway's own windows are period + margin; the upstream's are the bare periods.
            #expect(log.peak(window: .seconds(1)) <= 12)
            #expect(log.peak(window: .seconds(3)) <= 30)
            let perReplica = (0..<3).map { index in log.calls.withLock { $0.filter { $0.replica == index }.count } }
            #expect(perReplica.allSatisfy { $0 >= 5 }, "no replica is starved: \(perReplica)")
            // About 40 fit in 4 s; a loaded machine (the whole suite at once) wakes waiters late.
            #expect(perReplica.reduce(0, +) >= 24, "the budget is used, not only kept: \(perReplica)")
            #expect(replicas.allSatisfy { !$0.health.isDegraded })
        }
    }

    @Test func projectionsSeeTheOtherReplicasCalls() async throws {
        try await withTwoReplicas(limits: "[{calls: 5, per_seconds: 60}]") { first, second in
            let started = ContinuousClock.now
            for _ in 0..<5 { first.budget.complete(try await first.budget.acquire(workspace: "main", caller: "a"), sent: true) }
            try await Task.sleep(for: .milliseconds(100))  // completions are written in the background
            let projected = await second.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
            // Measured from before the calls: a loaded run may take seconds to get here.
            #expect(projected - started > .seconds(59), "the other replica used the whole minute")
        }
    }

    @Test func aCallThatNeverReachedTheUpstreamIsTakenBackForEveryReplica() async throws {
        try await withTwoReplicas(limits: "[{calls: 5, per_seconds: 60}]") { first, second in
            // Five calls that made no connection, then four that were sent: one slot is left.
            for _ in 0..<5 { first.budget.complete(try await first.budget.acquire(workspace: "main", caller: "a"), sent: false) }
            for _ in 0..<4 { first.budget.complete(try await first.budget.acquire(workspace: "main", caller: "a"), sent: true) }
            try await Task.sleep(for: .milliseconds(100))  // completions are written in the background
            let started = ContinuousClock.now
            let one = await second.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
            let two = await second.budget.projectedCompletion(workspace: "main", calls: 2, deadline: nil)
            #expect(one - started < .seconds(30), "the withdrawn calls left the window: one call fits now")
            #expect(two - started > .seconds(55), "the four sent calls still count: a second waits for the window")
            #expect(first.budget.callsInWindow(workspace: "main", period: .seconds(60)) == 4)
        }
    }

    /// Runs `body` with two replicas sharing one Redis, each with `limits`.
    private func withTwoReplicas(
        limits: String, _ body: ((budget: RedisRateBudget, health: SharedStoreHealth, redis: RedisClient), (budget: RedisRateBudget, health: SharedStoreHealth, redis: RedisClient)) async throws -> Void
    ) async throws {
        try await RedisServerProcess.with { server in
            let first = try replica(server, limits: limits)
            let second = try replica(server, limits: limits)
            defer {
                first.redis.close()
                second.redis.close()
            }
            try await body(first, second)
        }
    }

    @Test func aGrantWhoseReplicaVanishedCountsUntilItsLeaseAndAWindowPass() async throws {
        try await RedisServerProcess.with { server in
            let lost = try replica(server, limits: "[{calls: 1, per_seconds: 1}]", lease: .milliseconds(400))
            let survivor = try replica(server, limits: "[{calls: 1, per_seconds: 1}]", lease: .milliseconds(400))
            defer {
                lost.redis.close()
                survivor.redis.close()
            }
            // Timed from before the grant (its lease starts at the grant): a loaded run may hand the grant back late.
            let started = ContinuousClock.now
            _ = try await lost.budget.acquire(workspace: "main", caller: "a")  // never completed
            let grant = try await survivor.budget.acquire(workspace: "main", caller: "b")
            survivor.budget.complete(grant, sent: true)
            #expect(ContinuousClock.now - started >= .milliseconds(1_400), "lease (0.4 s) then the window (1 s + margin)")
        }
    }

    @Test func whenRedisStopsEachReplicaKeepsToItsShareAndReturnsWhenRedisIsBack() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let replicas = try (0..<2).map { _ in try replica(server, limits: "[{calls: 10, per_seconds: 1}]", hint: 2, lease: .milliseconds(300)) }
        defer { replicas.forEach { $0.redis.close() } }
        let log = CallLog()
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, replica) in replicas.enumerated() {
                group.addTask { try await load(replica.budget, index: index, callers: 3, duration: .seconds(6), hold: .milliseconds(5), log: log) }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(2_500))
                server.stop()
                // A command may wait out its 2 s timeout for a connection before the replica notices.
                for _ in 0..<60 where !replicas.allSatisfy({ $0.health.isDegraded }) { try await Task.sleep(for: .milliseconds(50)) }
                #expect(replicas.allSatisfy { $0.health.isDegraded }, "both replicas noticed")
                try await server.startAgain()
            }
            try await group.waitForAll()
        }
        #expect(log.peak(window: .seconds(1)) <= 10, "no breach across the fallback and the return")
        let granted = log.calls.withLock { $0.count }
        #expect(granted >= 10, "the budget was used, not only kept: \(log.calls.withLock { $0.map { "\($0.replica)@\($0.granted - started)" } })")
        try await Task.sleep(for: .milliseconds(500))
        for replica in replicas { replica.budget.complete(try await replica.budget.acquire(workspace: "main", caller: "probe"), sent: true) }
        #expect(replicas.allSatisfy { !$0.health.isDegraded }, "shared again by itself")
    }

    /// The keys of account `moengage 127.0.0.1:1 WS_MAIN` under `prefix`.
    private func budgetKey(_ prefix: String, _ name: String) -> RESPArgument {
        .string("\(prefix)budget:{moengage 127.0.0.1:1 WS_MAIN}:\(name)")
    }

    /// A call waiting for its grant is part of the interactive demand its replica tells (other
    /// replicas' background work yields to it); once it leaves, it is not.
    @Test func aWaitingCallIsToldAsDemandUntilItLeaves() async throws {
        try await RedisServerProcess.with { server in
            let waiting = try replica(server, limits: "[{calls: 10, per_seconds: 1}]", hint: 2, prefix: "leaving:")
            let pausing = try replica(server, limits: "[{calls: 10, per_seconds: 1}]", hint: 2, prefix: "leaving:")
            defer {
                waiting.redis.close()
                pausing.redis.close()
            }
            /// The interactive demand told under `i:` (one replica tells it here), `count:time`.
            func toldInteractive() async throws -> String? {
                let fields = try await pausing.redis.command(["HGETALL", budgetKey("leaving:", "demand")]).array ?? []
                let pairs = stride(from: 0, to: fields.count - 1, by: 2).map { (fields[$0].string ?? "", fields[$0 + 1].string ?? "") }
                return pairs.first { $0.0.hasPrefix("i:") }?.1
            }
            func waitUntil(_ atMost: Duration, _ holds: (String?) -> Bool) async throws -> String? {
                let end = ContinuousClock.now + atMost
                var told = try await toldInteractive()
                while !holds(told), ContinuousClock.now < end {
                    try await Task.sleep(for: .milliseconds(20))
                    told = try await toldInteractive()
                }
                return told
            }
            // Paused through the other replica: the waiting one learns it from Redis, at each try for a grant.
            pausing.budget.pause(workspace: "main", until: .now + .seconds(10))
            try await Task.sleep(for: .milliseconds(200))
            let call = Task { try await waiting.budget.acquire(workspace: "main", caller: "dashboard") }
            let whileWaiting = try await waitUntil(.seconds(2)) { $0?.hasPrefix("1:") == true }
            #expect(whileWaiting?.hasPrefix("1:") == true, "told while it waits: \(whileWaiting ?? "nothing")")
            call.cancel()
            await #expect(throws: CancellationError.self) { try await call.value }
            // Told again without it at once, not left to age out of the hash (2 s).
            let afterLeaving = try await waitUntil(.milliseconds(500)) { $0?.hasPrefix("0:") == true }
            #expect(afterLeaving?.hasPrefix("0:") == true, "told after it left: \(afterLeaving ?? "nothing")")
        }
    }

    @Test func stateRedisLostBlocksEveryReplicaForAWindowInsteadOfGrantingAFreshBudget() async throws {
        try await RedisServerProcess.with { server in
            let first = try replica(server, limits: "[{calls: 5, per_seconds: 60}]", lease: .seconds(1))
            let second = try replica(server, limits: "[{calls: 5, per_seconds: 60}]", lease: .seconds(1))
            defer {
                first.redis.close()
                second.redis.close()
            }
            _ = await second.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)  // it has seen the guard
            for _ in 0..<5 { first.budget.complete(try await first.budget.acquire(workspace: "main", caller: "a"), sent: true) }
            try await Task.sleep(for: .milliseconds(100))
            try await first.redis.command(["FLUSHALL"])
            let projected = await second.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
            #expect(projected - .now > .seconds(55), "the flushed minute's calls may still count: nobody grants until they have left")
            let own = await first.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
            #expect(own - .now > .seconds(55))
            let newcomer = try replica(server, limits: "[{calls: 5, per_seconds: 60}]", lease: .seconds(1))
            defer { newcomer.redis.close() }
            let late = await newcomer.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
            #expect(late - .now > .seconds(55), "a replica started after the loss is blocked too")
            #expect(!first.health.isDegraded && !second.health.isDegraded, "Redis works: shared, and blocked by it")
            #expect(second.health.budgetHolds.first?.contains("no upstream call for") == true, "readiness says so: \(second.health.budgetHolds)")
        }
    }

    @Test func aRestartFromAnOlderSnapshotIsKnownByTheServersNewRunID() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let replica = try replica(server, limits: "[{calls: 5, per_seconds: 60}]", lease: .seconds(1))
        defer { replica.redis.close() }
        for _ in 0..<5 { replica.budget.complete(try await replica.budget.acquire(workspace: "main", caller: "a"), sent: true) }
        try await Task.sleep(for: .milliseconds(100))
        server.stop()
        try await server.startAgain()
        // As if restored from a snapshot taken before those calls: the guard is there, the calls are not.
        let restorer = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port))
        defer { restorer.close() }
        try await restorer.command(["HSET", budgetKey("test:", "guard"), "block", "0", "share", "0"])
        replica.redis.close()  // its connections noticed the restart and reconnect without a failed command
        let projected = await replica.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
        #expect(projected - .now > .seconds(55), "a new run_id means calls may be missing: blocked for a window")
        #expect(replica.redis.serverChanges == 1)
    }

    @Test func aDamagedKeyIsRepairedAndCountsAsLostStateAGarbagePauseAsNone() async throws {
        try await RedisServerProcess.with { server in
            let damaged = try replica(server, limits: "[{calls: 5, per_seconds: 60}]", prefix: "damaged:", lease: .seconds(1))
            let paused = try replica(server, limits: "[{calls: 5, per_seconds: 60}]", prefix: "paused:", lease: .seconds(1))
            defer {
                damaged.redis.close()
                paused.redis.close()
            }
            damaged.budget.complete(try await damaged.budget.acquire(workspace: "main", caller: "a"), sent: true)
            paused.budget.complete(try await paused.budget.acquire(workspace: "main", caller: "a"), sent: true)
            try await Task.sleep(for: .milliseconds(100))
            try await damaged.redis.command(["SET", budgetKey("damaged:", "done"), "not a sorted set"])
            try await paused.redis.command(["SET", budgetKey("paused:", "pause"), "soon"])
            let blocked = await damaged.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
            #expect(blocked - .now > .seconds(55), "the damaged key held completions: blocked for a window")
            #expect(try await damaged.redis.command(["TYPE", budgetKey("damaged:", "done")]).string != "string", "repaired")
            let free = await paused.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
            #expect(free - .now < .seconds(1), "a pause that is not a time is no pause")
            #expect(!damaged.health.isDegraded && !paused.health.isDegraded, "both are served through Redis, not degraded")
        }
    }

    @Test func aReplicaBackFromItsFallbackHoldsEveryReplicaToItsShareForAWindow() async throws {
        try await RedisServerProcess.with { server in
            let limits = "[{calls: 10, per_seconds: 1}]"
            let admin = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port))
            defer { admin.close() }
            // Redis fails for one replica alone: its user is switched off and its connections closed.
            try await admin.command(["ACL", "SETUSER", "returning", "on", ">pw-returning", "~*", "+@all"])
            let returning = try replica(server, limits: limits, hint: 2, lease: .milliseconds(200), user: "returning")
            let steady = try replica(server, limits: limits, hint: 2, lease: .milliseconds(200))
            defer {
                returning.redis.close()
                steady.redis.close()
            }
            let log = CallLog()
            _ = await returning.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
            try await admin.command(["ACL", "SETUSER", "returning", "off"])
            try await admin.command(["CLIENT", "KILL", "USER", "returning"])
            returning.budget.storeUnreachable(because: "test: the probe failed")
            #expect(returning.health.isDegraded)
            let failFast = await returning.budget.projectedCompletion(workspace: "main", calls: 1, deadline: .now + .milliseconds(100))
            #expect(failFast - .now > .seconds(1), "the fallback's block is in the projection at once")
            // Its share (5) after the block (a window and a lease), calls Redis never sees.
            try await load(returning.budget, index: 0, callers: 3, duration: .milliseconds(1_500), hold: .milliseconds(5), log: log)
            try await admin.command(["ACL", "SETUSER", "returning", "on"])
            returning.health.storeAnswered()
            #expect(returning.health.isDegraded, "the probe answered, but the budget still keeps to its share")
            for _ in 0..<20 where returning.health.isDegraded {
                await returning.budget.storeReachable()  // the client may still be backing off (at most 200 ms)
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(!returning.health.isDegraded)
            // The other replica never failed: Redis knows none of those calls, and still holds it to its share.
            try await load(steady.budget, index: 1, callers: 3, duration: .milliseconds(800), hold: .milliseconds(5), log: log)
            #expect(log.peak(window: .seconds(1)) <= 10, "no breach: \(log.peak(window: .seconds(1)))")
            #expect(log.calls.withLock { $0.filter { $0.replica == 1 }.count } >= 1)
        }
    }

    @Test func aSlowRedisAnswersProjectionsByTheDeadlineWithoutDegrading() async throws {
        try await RedisServerProcess.with { server in
            let replica = try replica(server, limits: "[{calls: 5, per_seconds: 60}]", commandTimeout: .seconds(5))
            let other = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port))
            defer {
                replica.redis.close()
                other.close()
            }
            _ = await replica.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)  // connected, scripts loaded
            try await other.command(["CLIENT", "PAUSE", "2000", "ALL"])
            let started = ContinuousClock.now
            _ = await replica.budget.projectedCompletion(workspace: "main", calls: 1, deadline: .now + .milliseconds(200))
            #expect(ContinuousClock.now - started < .milliseconds(1_500), "answered by its deadline, not Redis' pace")
            #expect(!replica.health.isDegraded, "a request's deadline is not a Redis failure")
        }
    }

    @Test func valuesNoScriptWritesCountAsLostStateNeverACrash() async throws {
        try await RedisServerProcess.with { server in
            let hostile: [(field: String, value: String)] = [
                ("block", "nan"), ("block", "inf"), ("share", "-inf"), ("block", "-1"), ("share", "1e300"), ("unseen", "-9223372036854775808"),
                ("generation", "nan"), ("generation", "0.5"), ("generation", "0"), ("generation", "1e300"),
            ]
            for (index, change) in hostile.enumerated() {
                let prefix = "hostile\(index):"
                let replica = try replica(server, limits: "[{calls: 5, per_seconds: 60}]", prefix: prefix, lease: .seconds(1))
                defer { replica.redis.close() }
                replica.budget.complete(try await replica.budget.acquire(workspace: "main", caller: "a"), sent: true)
                try await replica.redis.command(["HSET", budgetKey(prefix, "guard"), .string(change.field), .string(change.value)])
                let projected = await replica.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
                #expect(projected - .now > .seconds(30), "\(change): blocked for a window, as for any damaged state")
                #expect(!replica.health.isDegraded, "\(change): still served through Redis")
                let generation = try await replica.redis.command(["HGET", budgetKey(prefix, "guard"), "generation"]).string
                #expect(generation.flatMap { Int64($0) }.map { $0 >= 1 } == true, "\(change): the guard was made again: \(generation ?? "none")")
            }
            let paused = try replica(server, limits: "[{calls: 5, per_seconds: 60}]", prefix: "pausedinf:", lease: .seconds(1))
            defer { paused.redis.close() }
            paused.budget.complete(try await paused.budget.acquire(workspace: "main", caller: "a"), sent: true)
            try await paused.redis.command(["SET", budgetKey("pausedinf:", "pause"), "inf"])
            let free = await paused.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
            #expect(free - .now < .seconds(1), "a pause no script writes is no pause")
        }
    }

    @Test func aDamagedDemandCountsAsNoneAndLosesNothing() async throws {
        try await RedisServerProcess.with { server in
            let replica = try replica(server, limits: "[{calls: 5, per_seconds: 60}]", lease: .seconds(1))
            defer { replica.redis.close() }
            replica.budget.complete(try await replica.budget.acquire(workspace: "main", caller: "a"), sent: true)
            let key = budgetKey("test:", "demand")
            for damage: [RESPArgument] in [
                ["HSET", key, "other", "junk", "stale", "4:1", "negative", "-3:1", "future", "7:99999999999999999"],
                ["DEL", key], ["SET", key, "not a hash"],
                ["HSET", key, "other", "junk", "stale", "4:1", "negative", "-3:1", "future", "7:99999999999999999"],
            ] {
                try await replica.redis.command(damage)
                let projected = await replica.budget.projectedCompletion(workspace: "main", calls: 4, deadline: nil)
                #expect(projected - .now < .seconds(1), "\(damage): four more of five fit now")
                #expect(!replica.health.isDegraded)
            }
            let left = try await replica.redis.command(["HKEYS", key]).array?.compactMap(\.string) ?? []
            #expect(Set(left).isDisjoint(with: ["other", "stale", "negative"]), "unreadable and stale entries removed: \(left)")
        }
    }

    @Test func aSetOfCallsDeletedAloneIsFoundByItsMissingMarker() async throws {
        try await RedisServerProcess.with { server in
            for name in ["done", "inflight", "replicas"] {
                // Only the calls of `done` and `inflight` count; a lost `replicas` forgets silent replicas: lost all the same.
                let calls = name == "replicas" ? 0 : 4
                let prefix = "deleted-\(name):"
                let first = try replica(server, limits: "[{calls: 5, per_seconds: 60}]", prefix: prefix, lease: .seconds(1))
                let second = try replica(server, limits: "[{calls: 5, per_seconds: 60}]", prefix: prefix, lease: .seconds(1))
                defer {
                    first.redis.close()
                    second.redis.close()
                }
                _ = await second.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
                for _ in 0..<calls { first.budget.complete(try await first.budget.acquire(workspace: "main", caller: "a"), sent: true) }
                if calls > 0 { _ = try await first.budget.acquire(workspace: "main", caller: "a") }  // in flight
                try await Task.sleep(for: .milliseconds(100))
                try await first.redis.command(["DEL", budgetKey(prefix, name)])
                let projected = await second.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
                #expect(projected - .now > .seconds(30), "\(name) lost: blocked for a window")
            }
        }
    }

    @Test func aReplicaCutOffWhileTheOthersReachRedisNeverMakesThemBreach() async throws {
        try await RedisServerProcess.with { server in
            let limits = "[{calls: 9, per_seconds: 1}]"
            let admin = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port))
            defer { admin.close() }
            try await admin.command(["ACL", "SETUSER", "cut", "on", ">pw-cut", "~*", "+@all"])
            let replicas = try [nil, nil, "cut"].map {
                try replica(server, limits: limits, hint: 3, lease: .milliseconds(200), user: $0, forgetAfter: .seconds(2))
            }
            defer { replicas.forEach { $0.redis.close() } }
            let log = CallLog()
            let cutAt = Locked<ContinuousClock.Instant?>(nil)
            let killedAt = Locked<ContinuousClock.Instant?>(nil)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, replica) in replicas.enumerated() {
                    group.addTask {
                        try await load(replica.budget, index: index, callers: 3, duration: .seconds(7), hold: .milliseconds(5), log: log)
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(1))
                    cutAt.withLock { $0 = .now }
                    try await admin.command(["ACL", "SETUSER", "cut", "off"])
                    try await admin.command(["CLIENT", "KILL", "USER", "cut"])
                    killedAt.withLock { $0 = .now }
                    try await Task.sleep(for: .milliseconds(4_500))
                    #expect(replicas[2].health.isDegraded && !replicas[0].health.isDegraded)
                    try await admin.command(["ACL", "SETUSER", "cut", "on"])
                }
                try await group.waitForAll()
            }
            #expect(log.peak(window: .seconds(1)) <= 9, "no breach while one replica calls on its share unseen: \(log.peak(window: .seconds(1)))")
            // Once it has been silent a while, the others keep to their shares (3 each) while it may call on its own.
            let cut = cutAt.withLock { $0 } ?? .now
            let others = log.calls.withLock {
                $0.filter { $0.replica != 2 && $0.granted > cut + .milliseconds(1_000) && $0.granted < cut + .milliseconds(3_500) }
            }
            let othersPeak =
                others.map { call in others.filter { $0.granted <= call.granted && $0.granted > call.granted - .seconds(1) }.count }.max() ?? 0
            #expect(othersPeak <= 6, "the two that reach Redis left the cut-off one its share: \(othersPeak)")
            // Its fallback stops granting 2 s (`forgetAfter`) after Redis last answered it (before its
            // connections were killed), give or take half a recovery (0.6 s), though it may notice the
            // cut only when a command times out (2 s): well before the others forget it.
            let killed = killedAt.withLock { $0 } ?? cut
            let late = log.calls.withLock {
                $0.filter { $0.replica == 2 && $0.granted > killed + .milliseconds(2_700) && $0.granted < cut + .milliseconds(4_500) }
            }
            #expect(late.isEmpty, "the cut-off replica stopped granting: \(late.map { $0.granted - killed })")
        }
    }

    @Test func aReplicaRestartedWhileCutOffWaitsForItsPreviousProcesssCalls() async throws {
        try await RedisServerProcess.with { server in
            let limits = "[{calls: 10, per_seconds: 1}]"
            let admin = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port))
            defer { admin.close() }
            try await admin.command(["ACL", "SETUSER", "restarting", "on", ">pw-restarting", "~*", "+@all"])
            func start(_ user: String?) throws -> (budget: RedisRateBudget, health: SharedStoreHealth, redis: RedisClient) {
                try replica(server, limits: limits, hint: 2, lease: .milliseconds(200), user: user)
            }
            let steady = try start(nil)
            let before = try start("restarting")
            defer {
                steady.redis.close()
                before.redis.close()
            }
            let log = CallLog()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await load(steady.budget, index: 0, callers: 3, duration: .seconds(6), hold: .milliseconds(5), log: log) }
                group.addTask {
                    _ = await before.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
                    try await Task.sleep(for: .milliseconds(500))
                    try await admin.command(["ACL", "SETUSER", "restarting", "off"])
                    try await admin.command(["CLIENT", "KILL", "USER", "restarting"])
                    // The first process serves on its share after its block, unseen, then stops; a new one starts, still cut off.
                    try await load(before.budget, index: 1, callers: 3, duration: .milliseconds(2_500), hold: .milliseconds(5), log: log)
                    let after = try start("restarting")
                    defer { after.redis.close() }
                    _ = await after.budget.projectedCompletion(workspace: "main", calls: 1, deadline: nil)
                    try await admin.command(["ACL", "SETUSER", "restarting", "on"])
                    for _ in 0..<20 where after.health.isDegraded {
                        await after.budget.storeReachable()  // the client may still be backing off (at most 200 ms)
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    try await load(after.budget, index: 1, callers: 3, duration: .seconds(2), hold: .milliseconds(5), log: log)
                }
                try await group.waitForAll()
            }
            #expect(log.peak(window: .seconds(1)) <= 10, "no breach: \(log.peak(window: .seconds(1)))")
            #expect(log.calls.withLock { $0.filter { $0.replica == 1 }.count } >= 5)
        }
    }

    /// A waiter's outcome when its own deadline would cancel it after `wait`: the error it got.
    private func outcome(of waiting: Task<BudgetGrant, any Error>, cancelledAfter wait: Duration) async -> (any Error)? {
        let cancel = Task {
            try await Task.sleep(for: wait)
            waiting.cancel()
        }
        defer { cancel.cancel() }
        do {
            _ = try await waiting.value
            return nil
        } catch {
            return error
        }
    }

    @Test func waitersADegradedBudgetsBlockOutlastsAreAnsweredAtOnce() async throws {
        try await RedisServerProcess.with { server in
            let replica = try replica(server, limits: "[{calls: 2, per_seconds: 60}]", lease: .seconds(1))
            defer { replica.redis.close() }
            for _ in 0..<2 { replica.budget.complete(try await replica.budget.acquire(workspace: "main", caller: "a"), sent: true) }
            let deadline = ContinuousClock.now + .seconds(3)
            let waiting = Task { try await replica.budget.acquire(workspace: "main", claim: BudgetClaim(caller: "b") { deadline }) }
            try await Task.sleep(for: .milliseconds(200))
            replica.budget.storeUnreachable(because: "test: the probe failed")
            let error = await outcome(of: waiting, cancelledAfter: .seconds(3))
            #expect(
                (error as? GatewayError)?.jsonRPCCode == -32029, "a -32029 to retry later, not a wait to the deadline: \(String(describing: error))")
        }
    }

    @Test func waitersAnUpstreamPauseOutlastsAreAnsweredAtOnceInProcessToo() async throws {
        let budget = InProcessRateBudget(workspaces: try BudgetFixtures.workspaces("[{calls: 2, per_seconds: 1}]"), safetyMargin: .zero)
        budget.pause(workspace: "main", until: .now + .seconds(60))
        let deadline = ContinuousClock.now + .seconds(3)
        let waiting = Task { try await budget.acquire(workspace: "main", claim: BudgetClaim(caller: "b") { deadline }) }
        let error = await outcome(of: waiting, cancelledAfter: .seconds(3))
        #expect((error as? GatewayError)?.jsonRPCCode == -32029, "\(String(describing: error))")
        let patient = Task { try await budget.acquire(workspace: "main", caller: "c") }
        #expect(await outcome(of: patient, cancelledAfter: .milliseconds(300)) is CancellationError, "a waiter with time to spare waits")
    }
}
