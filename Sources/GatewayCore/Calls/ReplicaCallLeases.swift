import DynamicJSON
import RedisClient

/// Makes identical upstream calls in flight on different replicas once: before fetching items,
/// a replica takes a lease per item in Redis (`SET NX PX`, renewed while its call runs); items
/// another replica holds are awaited through the shared cache, polled every `pollInterval`.
/// A lease whose holder vanished expires within `leaseTTL`, and a waiter then takes it over and
/// fetches the items itself. Without Redis (degraded) every replica fetches for itself.
public final class ReplicaCallLeases: CrossReplicaCoalescing {
    /// How long a lease lasts without renewal (a dead holder's leases are gone after this).
    public static let leaseTTL: Duration = .seconds(2)
    /// How often a waiter looks for another replica's results.
    public static let pollInterval: Duration = .milliseconds(25)

    /// Takes every free lease of a chunk at once (atomically, so that two replicas asking for the
    /// same chunk at the same instant do not split it between them); 1 per key taken, else 0.
    private static let take = RedisScript(
        """
        local taken = {}
        for i = 1, #KEYS do
          if redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2]) then taken[i] = 1 else taken[i] = 0 end
        end
        return taken
        """)
    private static let renew = RedisScript(
        """
        for i = 1, #KEYS do
          if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
        end
        return 0
        """)
    private static let release = RedisScript(
        """
        for i = 1, #KEYS do
          if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
        end
        return 0
        """)

    private let redis: RedisClient
    private let tier: any SharedResponseCache
    private let keyPrefix: String
    private let health: SharedStoreHealth

    /// Leases in `redis` under `keyPrefix`; results travel through `tier`.
    public init(redis: RedisClient, tier: any SharedResponseCache, keyPrefix: String, health: SharedStoreHealth) {
        self.redis = redis
        self.tier = tier
        self.keyPrefix = keyPrefix
        self.health = health
    }

    /// See `CrossReplicaCoalescing.coordinate`: the items this replica can lease go through
    /// `fetch`, the others come from the replicas holding them (`deadlineExceeded` at the deadline).
    public func coordinate(
        _ items: [String], scope: CallScope, deadline: @escaping @Sendable () -> ContinuousClock.Instant,
        fetch: @escaping @Sendable ([String]) async throws -> SharedAnswer
    ) async throws -> CoordinatedAnswer {
        let token = String(UInt64.random(in: 1...UInt64.max), radix: 36)
        var result = CoordinatedAnswer(answer: SharedAnswer(values: [:], calls: 0), storedElsewhere: [:])
        var pending = items
        while !pending.isEmpty {
            var leased = await lease(pending, scope: scope, token: token)
            if !leased.isEmpty {
                // A lease just given back means its results are already in the shared cache: look before fetching.
                let done = await storedFresh(leased, scope: scope, into: &result)
                if !done.isEmpty {
                    _ = try? await Self.release.run(on: redis, keys: done.map { key(scope, $0) }, arguments: [.string(token)])
                    leased.removeAll { done.contains($0) }
                    pending.removeAll { done.contains($0) }
                }
            }
            if !leased.isEmpty {
                let answer = try await fetchHoldingLeases(leased, scope: scope, token: token, fetch: fetch)
                result.answer.calls += answer.calls
                for (item, value) in answer.values { result.answer.values[item] = value }
                pending.removeAll { leased.contains($0) }
            }
            guard !pending.isEmpty else { break }
            try Task.checkCancellation()
            guard ContinuousClock.now < deadline() else { throw GatewayError.deadlineExceeded }
            try await Task.sleep(for: Self.pollInterval)
            let done = await storedFresh(pending, scope: scope, into: &result)
            pending.removeAll { done.contains($0) }
        }
        return result
    }

    /// The items the shared cache holds fresh, added to `result`.
    private func storedFresh(_ items: [String], scope: CallScope, into result: inout CoordinatedAnswer) async -> Set<String> {
        guard !health.isDegraded else { return [] }
        let found = await tier.lookup(items.map { CacheKey(scope: scope, item: $0) })
        let now = ContinuousClock.now
        var done: Set<String> = []
        for item in items {
            guard let entry = found[CacheKey(scope: scope, item: item)], entry.expires > now else { continue }
            if case .present(let value) = entry.value { result.answer.values[item] = value }
            result.storedElsewhere[item] = entry.expires
            done.insert(item)
        }
        return done
    }

    /// The items whose lease this replica now holds; all of them while Redis is unusable.
    private func lease(_ items: [String], scope: CallScope, token: String) async -> [String] {
        guard !health.isDegraded else { return items }
        let ttl = RESPArgument.int(Self.leaseTTL.wholeMilliseconds)
        do {
            let reply = try await Self.take.run(on: redis, keys: items.map { key(scope, $0) }, arguments: [.string(token), ttl])
            guard let taken = reply.array?.map(\.integer), taken.count == items.count else {
                throw RedisError.protocolViolation("a lease answer without one flag per item")
            }
            return zip(items, taken).compactMap { item, flag in flag == 1 ? item : nil }
        } catch {
            health.failed("\(error)")
            return items
        }
    }

    /// Runs `fetch` for `items` while renewing their leases, then gives the leases back.
    private func fetchHoldingLeases(
        _ items: [String], scope: CallScope, token: String, fetch: @escaping @Sendable ([String]) async throws -> SharedAnswer
    ) async throws -> SharedAnswer {
        let keys = items.map { key(scope, $0) }
        let renewal = Task { [redis] in
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.leaseTTL / 3)
                _ = try? await Self.renew.run(on: redis, keys: keys, arguments: [.string(token), .int(Self.leaseTTL.wholeMilliseconds)])
            }
        }
        defer { renewal.cancel() }
        let outcome: Result<SharedAnswer, any Error>
        do { outcome = .success(try await fetch(items)) } catch { outcome = .failure(error) }
        // Given back after the results are in the shared cache (or after a failure, so a waiter tries itself).
        _ = try? await Self.release.run(on: redis, keys: keys, arguments: [.string(token)])
        return try outcome.get()
    }

    private func key(_ scope: CallScope, _ item: String) -> String {
        "\(keyPrefix)lease:{\(scope.workspace)}:\(scope.operation):\(item)"
    }
}
