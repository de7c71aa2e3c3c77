import DynamicJSON
import RedisClient

/// Makes identical upstream calls in flight on different replicas once: before fetching items,
/// a replica takes a lease per item in Redis (`SET NX PX`, renewed while its call runs); items
/// another replica holds are awaited through the shared cache, polled every `pollInterval`.
/// A lease whose holder vanished expires within `leaseTTL`, and a waiter then takes it over and
/// fetches the items itself. When the holder's upstream call fails, it leaves the failure for
/// `failureTTL` beside the lease: the replicas that were waiting for that call answer with it
/// instead of each calling again (a request arriving afterwards calls). Without Redis every
/// replica fetches for itself.
public final class ReplicaCallLeases: CrossReplicaCoalescing {
    /// How long a lease lasts without renewal (a dead holder's leases are gone after this).
    public static let leaseTTL: Duration = .seconds(2)
    /// How often a waiter looks for another replica's results.
    public static let pollInterval: Duration = .milliseconds(25)
    /// How long a failed call's outcome stays for the replicas that waited on it.
    public static let failureTTL: Duration = .seconds(1)

    /// Takes every free lease of a chunk at once (atomically, so that two replicas asking for the
    /// same chunk at the same instant do not split it between them). KEYS: the leases, then their
    /// failure keys. Per lease: 0 held by another, 1 taken, or the failure text when taken but a
    /// holder's call just failed.
    private static let take = RedisScript(
        """
        local n = #KEYS / 2
        local taken = {}
        for i = 1, n do
          if redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2]) then
            taken[i] = redis.call('GET', KEYS[n + i]) or 1
          else
            taken[i] = 0
          end
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
    /// KEYS: the leases, then their failure keys. ARGV: the token, then the failure text and its
    /// TTL (ms) when the call failed.
    private static let release = RedisScript(
        """
        local n = #KEYS / 2
        for i = 1, n do
          if redis.call('GET', KEYS[i]) == ARGV[1] then
            redis.call('DEL', KEYS[i])
            if ARGV[2] then redis.call('SET', KEYS[n + i], ARGV[2], 'PX', ARGV[3]) end
          end
        end
        return 0
        """)

    private let redis: RedisClient
    private let tier: any SharedResponseCache
    private let names: SharedKeyNames
    private let health: SharedStoreHealth

    /// Leases in `redis` under `names`; results travel through `tier`.
    public init(redis: RedisClient, tier: any SharedResponseCache, names: SharedKeyNames, health: SharedStoreHealth) {
        self.redis = redis
        self.tier = tier
        self.names = names
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
        var awaited: Set<String> = []
        while !pending.isEmpty {
            let lease = await self.lease(pending, scope: scope, token: token, deadline: deadline())
            var leased = lease.taken
            if !leased.isEmpty {
                // A lease just given back means its results are already in the shared cache: look before fetching.
                let done = await storedFresh(leased, scope: scope, deadline: deadline(), into: &result)
                if !done.isEmpty {
                    await release(Array(done), scope: scope, token: token)
                    leased.removeAll { done.contains($0) }
                    pending.removeAll { done.contains($0) }
                }
            }
            if let failed = leased.first(where: { awaited.contains($0) && lease.failures[$0] != nil }), let failure = lease.failures[failed] {
                // The call this request waited for failed on its replica: its answer is this one's too.
                await release(leased, scope: scope, token: token)
                throw GatewayError.upstreamFailed(status: failure.status, reason: failure.reason)
            }
            if !leased.isEmpty {
                let answer = try await fetchHoldingLeases(leased, scope: scope, token: token, fetch: fetch)
                result.answer.calls += answer.calls
                for (item, value) in answer.values { result.answer.values[item] = value }
                pending.removeAll { leased.contains($0) }
            }
            guard !pending.isEmpty else { break }
            awaited.formUnion(pending)
            try Task.checkCancellation()
            guard ContinuousClock.now < deadline() else { throw GatewayError.deadlineExceeded }
            try await Task.sleep(for: Self.pollInterval)
            let done = await storedFresh(pending, scope: scope, deadline: deadline(), into: &result)
            pending.removeAll { done.contains($0) }
        }
        return result
    }

    /// The items the shared cache holds fresh, added to `result`.
    private func storedFresh(
        _ items: [String], scope: CallScope, deadline: ContinuousClock.Instant, into result: inout CoordinatedAnswer
    ) async -> Set<String> {
        guard !health.isStoreDown else { return [] }
        let found = await tier.lookup(items.map { CacheKey(scope: scope, item: $0) }, deadline: deadline)
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

    /// An upstream failure as the waiting replicas answer it.
    private struct SharedFailure {
        var status: Int
        var reason: String

        /// Written as `<status> <reason>`.
        var text: String { "\(status) \(reason)" }

        init(status: Int, reason: String) {
            self.status = status
            self.reason = reason
        }

        init?(text: String) {
            let parts = text.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let status = Int(parts[0]), (0...999).contains(status) else { return nil }
            self.init(status: status, reason: String(parts[1].prefix(200)) + " (on the replica that made the call)")
        }
    }

    /// The leases this replica now holds (all of the items while the store is down), and of those
    /// the ones whose previous holder's call just failed.
    private func lease(
        _ items: [String], scope: CallScope, token: String, deadline: ContinuousClock.Instant
    ) async -> (taken: [String], failures: [String: SharedFailure]) {
        guard !health.isStoreDown else { return (items, [:]) }
        let ttl = RESPArgument.int(Self.leaseTTL.wholeMilliseconds)
        do {
            let reply = try await Self.take.run(on: redis, keys: keys(items, scope), arguments: [.string(token), ttl], deadline: deadline)
            guard let flags = reply.array, flags.count == items.count else {
                throw RedisError.protocolViolation("a lease answer without one flag per item")
            }
            var taken: [String] = []
            var failures: [String: SharedFailure] = [:]
            for (item, flag) in zip(items, flags) where flag.integer != 0 {
                taken.append(item)
                if let failure = flag.string.flatMap(SharedFailure.init(text:)) { failures[item] = failure }
            }
            return (taken, failures)
        } catch RedisError.deadlineReached {
            // Past the deadline: nothing taken, and the caller stops waiting.
            return ([], [:])
        } catch {
            health.storeFailed("\(error)")
            return (items, [:])
        }
    }

    /// Gives leases back; with `failure`, leaves it for the replicas waiting on them.
    private func release(_ items: [String], scope: CallScope, token: String, failure: SharedFailure? = nil) async {
        guard !items.isEmpty else { return }
        let failed: [RESPArgument] = failure.map { [.string($0.text), .int(Self.failureTTL.wholeMilliseconds)] } ?? []
        _ = try? await Self.release.run(on: redis, keys: keys(items, scope), arguments: [.string(token)] + failed)
    }

    /// Runs `fetch` for `items` while renewing their leases, then gives the leases back.
    private func fetchHoldingLeases(
        _ items: [String], scope: CallScope, token: String, fetch: @escaping @Sendable ([String]) async throws -> SharedAnswer
    ) async throws -> SharedAnswer {
        let leaseKeys = leaseKeys(items, scope)
        let renewal = Task { [redis] in
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.leaseTTL / 3)
                _ = try? await Self.renew.run(on: redis, keys: leaseKeys, arguments: [.string(token), .int(Self.leaseTTL.wholeMilliseconds)])
            }
        }
        defer { renewal.cancel() }
        do {
            let answer = try await fetch(items)
            // Given back after the results are in the shared cache.
            await release(items, scope: scope, token: token)
            return answer
        } catch let error as GatewayError where error.jsonRPCCode == -32050 {
            // The upstream failed: the replicas waiting on this call answer with it (see `failureTTL`).
            let status = error.data?["upstream_status"]?.intValue ?? 0
            await release(
                items, scope: scope, token: token,
                failure: SharedFailure(status: status, reason: error.data?["reason"]?.stringValue ?? "upstream failed"))
            throw error
        } catch {
            // This request's own end (deadline, disconnect, budget): a waiter takes the call over.
            await release(items, scope: scope, token: token)
            throw error
        }
    }

    /// The lease keys of `items`.
    private func leaseKeys(_ items: [String], _ scope: CallScope) -> [String] {
        items.map { names.lease(scope, $0) }
    }

    /// The lease keys of `items`, then their failure keys (one hash slot: the account's).
    private func keys(_ items: [String], _ scope: CallScope) -> [String] {
        let leases = leaseKeys(items, scope)
        return leases + leases.map { $0 + ":failed" }
    }
}
