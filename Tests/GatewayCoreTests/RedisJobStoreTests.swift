import GatewayCore
import RedisClient
import ServerTesting
import Testing

/// The Redis job store against a real `redis-server`: leases, cancels, and keys damaged by a stray write.
@Suite struct RedisJobStoreTests {
    private func withStore(_ body: (RedisJobStore, RedisClient) async throws -> Void) async throws {
        try await RedisServerProcess.with { server in
            let redis = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port))
            defer { redis.close() }
            try await body(RedisJobStore(redis: redis, keyPrefix: "jobs-test:"), redis)
        }
    }

    private func job(_ owner: String, at created: Int64 = JobRecord.nowMs()) -> JobRecord {
        JobRecord(id: JobRecord.newID(), owner: owner, method: "campaigns.getStats", request: "{}", submitted: "{}", callsTotal: 3, createdAtMs: created)
    }

    @Test func aJobIsClaimedByOneReplicaAtATimeUntilItsLeaseEnds() async throws {
        try await withStore { store, _ in
            let record = job("a")
            #expect(try await store.create(record, maxActive: 2, maxKept: 100, keepFor: .seconds(60)))
            let claimed = try await store.claim(replica: "r1", lease: .milliseconds(300))
            #expect(claimed?.id == record.id)
            #expect(claimed?.state == .running)
            #expect(try await store.claim(replica: "r2", lease: .milliseconds(300)) == nil, "leased to r1")
            #expect(try await store.renew(record.id, replica: "r2", lease: .seconds(1), callsDone: 9) == nil, "r2 holds no lease")
            #expect(try await store.renew(record.id, replica: "r1", lease: .milliseconds(300), callsDone: 2) == .running)
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await store.claim(replica: "r2", lease: .seconds(5))?.callsDone == 2, "an expired lease is taken over, with the progress made")
            #expect(try await store.renew(record.id, replica: "r1", lease: .seconds(1), callsDone: 3) == nil, "r1 lost it")
            var ended = record
            ended.state = .done
            ended.result = Array("{\"x\":1}".utf8)
            try await store.finish(ended, replica: "r1", keepFor: .seconds(60))
            #expect(try await store.get(record.id)?.state == .running, "a lost lease cannot finish it")
            try await store.finish(ended, replica: "r2", keepFor: .seconds(60))
            #expect(try await store.get(record.id)?.result == Array("{\"x\":1}".utf8))
            #expect(try await store.cancel(record.id, owner: "a", keepFor: .seconds(60))?.cancelled == false)
            #expect(try await store.cancel(record.id, owner: "b", keepFor: .seconds(60)) == nil, "another caller's job is unknown to it")
        }
    }

    @Test func aCallerHasAtMostItsActiveJobsAndACancelFreesOne() async throws {
        try await withStore { store, _ in
            let first = job("a")
            #expect(try await store.create(first, maxActive: 1, maxKept: 100, keepFor: .seconds(60)))
            #expect(try await store.create(job("a"), maxActive: 1, maxKept: 100, keepFor: .seconds(60)) == false)
            #expect(try await store.create(job("b"), maxActive: 1, maxKept: 100, keepFor: .seconds(60)), "another caller's quota")
            #expect(try await store.cancel(first.id, owner: "a", keepFor: .seconds(60))?.cancelled == true)
            #expect(try await store.create(job("a"), maxActive: 1, maxKept: 100, keepFor: .seconds(60)))
            #expect(try await store.list(owner: "a").count == 2)
            #expect(try await store.list(owner: "a").allSatisfy { $0.result == nil })
            // At most `maxKept` kept: a new job drops the oldest ended ones.
            let kept = try await store.list(owner: "a")
            #expect(try await store.cancel(kept[0].id, owner: "a", keepFor: .seconds(60))?.cancelled == true)
            #expect(try await store.create(job("a"), maxActive: 5, maxKept: 2, keepFor: .seconds(60)))
            let after = try await store.list(owner: "a")
            #expect(after.count == 2)
            #expect(!after.map(\.id).contains(first.id), "the oldest ended job was dropped")
            #expect(try await store.get(first.id) == nil)
        }
    }

    @Test func keysDamagedByAStrayWriteAreDroppedAndTheOtherJobsRun() async throws {
        try await withStore { store, redis in
            let damaged = job("a", at: 1)
            let healthy = job("a", at: 2)
            #expect(try await store.create(damaged, maxActive: 5, maxKept: 100, keepFor: .seconds(60)))
            #expect(try await store.create(healthy, maxActive: 5, maxKept: 100, keepFor: .seconds(60)))
            _ = try await redis.command(["SET", .string("jobs-test:jobs:{jobs}:job:" + damaged.id), "not a hash"])
            #expect(try await store.get(damaged.id) == nil)
            #expect(try await store.claim(replica: "r1", lease: .seconds(5))?.id == healthy.id)
            #expect(try await store.list(owner: "a").map(\.id) == [healthy.id])
            _ = try await redis.command(["SET", "jobs-test:jobs:{jobs}:active", "not a set"])
            #expect(try await store.claim(replica: "r1", lease: .seconds(5)) == nil)
            let next = job("a")
            #expect(try await store.create(next, maxActive: 5, maxKept: 100, keepFor: .seconds(60)))
            #expect(try await store.claim(replica: "r1", lease: .seconds(5))?.id == next.id)
        }
    }
}
