import CoreMetrics
import DynamicJSON
import Logging

/// What a request cost upstream, as `upstream` in answers.
public struct UpstreamUsage: Sendable, Hashable {
    /// Upstream calls this request made (retries included).
    public var calls = 0
    /// Items served from the cache.
    public var cacheHits = 0
    /// In-flight calls of other requests this request waited on.
    public var coalesced = 0

    /// A usage of `calls` calls, `cacheHits` hits and `coalesced` joined calls (none by default).
    public init(calls: Int = 0, cacheHits: Int = 0, coalesced: Int = 0) {
        self.calls = calls
        self.cacheHits = cacheHits
        self.coalesced = coalesced
    }

    /// Adds another usage to this one.
    public mutating func absorb(_ other: UpstreamUsage) {
        calls += other.calls
        cacheHits += other.cacheHits
        coalesced += other.coalesced
    }

    /// `{calls, cache_hits, coalesced}`.
    public var json: JSON {
        ["calls": .int(calls), "cache_hits": .int(cacheHits), "coalesced": .int(coalesced)]
    }
}

/// A whole answer from the answer cache, and when the first entry it was made from expires.
public struct CachedAnswer: Sendable {
    /// The encoded answer.
    public var answer: EncodedJSON
    /// When it stops being fresh.
    public var expires: ContinuousClock.Instant
    /// Counts a read of it (for refresh-ahead), when refresh-ahead is on.
    public var read: AnswerRead?
}

/// Counts a read of an answer-cache entry, wherever it is served from (the answer or the replay cache), as a read of its entries.
public struct AnswerRead: Sendable {
    let refresh: RefreshAhead
    let key: CacheKey

    /// Counts one read.
    public func count() { refresh.readAnswer(key) }
}

/// The oldest expired entry an answer served because the upstream failed: the answer is `stale`,
/// and its `stale_age_s` is measured when the answer is made, not when the cache was read.
public struct Staleness: Sendable, Hashable {
    /// When the oldest expired entry served was stored.
    public var storedAt: ContinuousClock.Instant

    /// The older of two (either may be absent).
    public static func oldest(_ a: Staleness?, _ b: Staleness?) -> Staleness? {
        guard let a, let b else { return a ?? b }
        return a.storedAt <= b.storedAt ? a : b
    }

    /// Sets `stale` in an answer, and when stale `stale_age_s` (whole seconds from the entry's store to now).
    public static func mark(_ answer: inout [String: JSONDocument], _ staleness: Staleness?) {
        answer["stale"] = .value(.bool(staleness != nil))
        if let staleness { answer["stale_age_s"] = .value(.int((ContinuousClock.now - staleness.storedAt).wholeMilliseconds / 1_000)) }
    }
}

/// Gets the items of one scope the way every gateway method does: fresh ones from the cache
/// (this process's, then the replicas' shared one), the rest from identical in-flight calls of
/// other requests or from new shared calls (cached on arrival, absent items too), and expired
/// entries, flagged, when the upstream fails.
public struct CachedItemFetcher: Sendable {
    private let cache: any ResponseCache
    private let shared: (any SharedResponseCache)?
    private let leases: (any CrossReplicaCoalescing)?
    private let metrics: CacheMetrics?
    private let refresh: RefreshAhead?
    private let coalescer = ItemCallCoalescer()

    /// Fetches through `cache`, and `shared` behind it when replicas share one, making calls
    /// identical across replicas once through `leases`; counts what a real run found in `metrics`;
    /// tells `refresh` which calls filled which entries and how often they are read.
    public init(
        cache: any ResponseCache, shared: (any SharedResponseCache)? = nil, leases: (any CrossReplicaCoalescing)? = nil,
        metrics: CacheMetrics? = nil, refresh: RefreshAhead? = nil
    ) {
        self.cache = cache
        self.shared = shared
        self.leases = leases
        self.metrics = metrics
        self.refresh = refresh
    }

    /// What the cache holds for a request, before any upstream call.
    public struct Lookup: Sendable {
        /// Fresh values by item, as encoded JSON.
        public var values: [String: EncodedJSON] = [:]
        /// When the first of the fresh entries expires (nil when there are none).
        public var freshUntil: ContinuousClock.Instant?
        /// Items to fetch, in request order.
        public var needed: [String] = []
        /// Expired entries of needed items, kept for stale-if-error.
        public var expired: [String: (value: CachedValue, storedAt: ContinuousClock.Instant)] = [:]
        /// Items answered from the cache (present or known absent).
        public var hits = 0

        /// Counts a fresh entry of `item` as a hit.
        mutating func add(_ item: String, _ value: CachedValue, expires: ContinuousClock.Instant) {
            hits += 1
            freshUntil = min(freshUntil ?? expires, expires)
            if case .present(let json) = value { values[item] = json }
        }
    }

    /// The result of a fetch.
    public struct Fetched: Sendable {
        /// Values by item as encoded JSON (absent items have none).
        public var values: [String: EncodedJSON] = [:]
        /// Calls made and waited on.
        public var usage = UpstreamUsage()
        /// Set when expired entries were served because the upstream failed.
        public var staleness: Staleness?
    }

    /// Splits `items` into fresh cache hits and items to fetch. Items this process lacks (or
    /// holds expired) are asked of the shared cache; its fresh entries are kept here until the
    /// same expiry; the shared cache is asked until `deadline` at the latest (later, a miss). Its
    /// fresh entries count as read for refresh-ahead unless `countingReads` is false (a dry run, a look ahead of the real one).
    public func lookup(
        _ items: [String], scope: CallScope, now: ContinuousClock.Instant = .now, deadline: ContinuousClock.Instant? = nil,
        countingReads: Bool = true
    ) async -> Lookup {
        var lookup = Lookup()
        var missing: [String] = []
        for item in items {
            switch cache.lookup(CacheKey(scope: scope, item: item), now: now) {
            case .fresh(let value, let expires):
                lookup.add(item, value, expires: expires)
            case .expired(let value, let storedAt):
                lookup.expired[item] = (value, storedAt)
                missing.append(item)
            case .miss:
                missing.append(item)
            }
        }
        guard let shared, !missing.isEmpty else {
            lookup.needed = missing
            if countingReads { countRead(lookup, items: items, scope: scope) }
            return lookup
        }
        let found = await shared.lookup(missing.map { CacheKey(scope: scope, item: $0) }, deadline: deadline)
        let localNow = ContinuousClock.now
        for item in missing {
            let key = CacheKey(scope: scope, item: item)
            guard let entry = found[key] else {
                lookup.needed.append(item)
                continue
            }
            if entry.expires > localNow {
                cache.store(key, entry.value, ttl: entry.expires - localNow, now: localNow)
                lookup.add(item, entry.value, expires: entry.expires)
            } else {
                if lookup.expired[item].map({ $0.storedAt < entry.storedAt }) ?? true { lookup.expired[item] = (entry.value, entry.storedAt) }
                lookup.needed.append(item)
            }
        }
        if countingReads { countRead(lookup, items: items, scope: scope) }
        return lookup
    }

    /// Tells refresh-ahead (when on) which entries a lookup found fresh.
    private func countRead(_ lookup: Lookup, items: [String], scope: CallScope) {
        guard let refresh, lookup.hits > 0, refresh.isOn else { return }
        let needed = Set(lookup.needed)
        refresh.read(items.lazy.filter { !needed.contains($0) }.map { CacheKey(scope: scope, item: $0) })
    }

    /// Stores values the caller fetched itself (e.g. every campaign of a listing), here and in the shared cache.
    public func store(_ values: [String: EncodedJSON], scope: CallScope, ttl: Duration) {
        let now = ContinuousClock.now
        for (item, value) in values { cache.store(CacheKey(scope: scope, item: item), .present(value), ttl: ttl, now: now) }
        shared?.store(values.map { (CacheKey(scope: scope, item: $0.key), CachedValue.present($0.value), ttl) })
    }

    /// A whole answer kept under `key` in `scope` until `expires` (never past the entries it was
    /// made from, `madeFrom`: its reads count as theirs for refresh-ahead).
    public func storeAnswer(
        _ answer: EncodedJSON, key: String, scope: CallScope, expires: ContinuousClock.Instant, madeFrom: @autoclosure () -> [CacheKey]
    ) {
        let now = ContinuousClock.now
        guard expires > now else { return }
        let answerKey = CacheKey(scope: scope, item: key)
        cache.store(answerKey, .present(answer), ttl: expires - now, now: now)
        if let refresh, refresh.isOn { refresh.rememberAnswer(answerKey, madeFrom: madeFrom(), expires: expires) }
    }

    /// The whole answer kept under `key`, while fresh.
    public func answer(key: String, scope: CallScope) -> CachedAnswer? {
        let answerKey = CacheKey(scope: scope, item: key)
        guard case .fresh(.present(let answer), let expires) = cache.lookup(answerKey, now: .now) else { return nil }
        return CachedAnswer(answer: answer, expires: expires, read: refresh.map { AnswerRead(refresh: $0, key: answerKey) })
    }

    /// A fetch claimed (`claim`): what the cache held, the calls it owns (started by `start`) and
    /// those of other requests it joined, and how to make its calls.
    public struct Fetch: Sendable {
        let lookup: Lookup
        let scope: CallScope
        let claim: ItemCallCoalescer.Claim?
        let callsPerChunk: Int
        let ttl: @Sendable (String) -> Duration
        let call: @Sendable ([String], CallContext) async throws -> ItemsAnswer

        /// Upstream calls the fetch makes itself (the calls it joined cost it nothing).
        public var startingCalls: Int { (claim?.owned.count ?? 0) * callsPerChunk }
        /// When the last of the calls it joined was projected answered (nil: none joined, or not known).
        public var joinedAnswerBy: ContinuousClock.Instant? { claim?.joined.compactMap(\.call.answerBy).max() }
    }

    /// Claims the calls that complete `lookup`: its needed items are fetched `chunkSize` per call
    /// (of `callsPerChunk` upstream calls) through `call` and cached for `ttl(item)`, by identical
    /// calls of other requests in flight, joined now, or by calls this request owns from now on
    /// (identical requests arriving later join them) and `start`s once admitted. The request
    /// (`context`) waits on each until its deadline. Then `start` and `finish`, or `abandon`.
    public func claim(
        _ lookup: Lookup, scope: CallScope, chunkSize: Int, callsPerChunk: Int, ttl: @escaping @Sendable (String) -> Duration,
        context: CallContext, call: @escaping @Sendable ([String], CallContext) async throws -> ItemsAnswer
    ) -> Fetch {
        // A pure hit: no coalescing, no deadline timer, no task group.
        let claim =
            lookup.needed.isEmpty
            ? nil : coalescer.claim(
                lookup.needed, scope: scope, chunkSize: chunkSize, deadline: context.deadline, allowance: context.allowance, priority: context.priority)
        return Fetch(lookup: lookup, scope: scope, claim: claim, callsPerChunk: callsPerChunk, ttl: ttl, call: call)
    }

    /// Starts the calls `fetch` owns, for the admitted request `context` and whoever joins them
    /// (who learn when the admission projected them answered).
    public func start(_ fetch: Fetch, context: CallContext) {
        for chunk in fetch.claim?.owned ?? [] {
            chunk.call.answerBy = context.admission?.completion
            startSharedCall(chunk, scope: fetch.scope, ttl: fetch.ttl, context: context.sharing(chunk.call), call: fetch.call)
        }
    }

    /// The request will not wait on `fetch` (it was not admitted): it leaves every call, and a call
    /// it owns that other requests joined meanwhile starts for them.
    public func abandon(_ fetch: Fetch, context: CallContext) {
        guard let claim = fetch.claim else { return }
        for chunk in claim.joined { coalescer.leave(chunk, waiter: claim.waiter, scope: fetch.scope) }
        for chunk in claim.owned where !coalescer.leave(chunk, waiter: claim.waiter, scope: fetch.scope) {
            startSharedCall(chunk, scope: fetch.scope, ttl: fetch.ttl, context: context.sharing(chunk.call), call: fetch.call)
        }
    }

    /// Counts a real run's lookups: fresh items as hits, the rest as misses.
    public func count(_ lookups: [Lookup]) {
        guard let metrics else { return }
        metrics.hits.increment(by: lookups.reduce(0) { $0 + $1.hits })
        metrics.misses.increment(by: lookups.reduce(0) { $0 + $1.needed.count })
    }

    /// Completes a started fetch: its lookup's fresh values and hits, plus the values of its calls.
    ///
    /// A shared call runs while some request waits on it, until the latest deadline among them
    /// (`call` gets a context whose deadline says so); this request stops waiting when its own
    /// deadline passes or it is cancelled, and a call nobody waits on any more is cancelled.
    /// Throws the upstream's `GatewayError` when a call fails and an item it covered has no
    /// expired entry to fall back on.
    public func finish(_ fetch: Fetch, context: CallContext) async throws -> Fetched {
        let (lookup, scope) = (fetch.lookup, fetch.scope)
        guard let claim = fetch.claim else { return Fetched(values: lookup.values, usage: UpstreamUsage(cacheHits: lookup.hits)) }
        let waits = claim.owned.map { ($0, true) } + claim.joined.map { ($0, false) }
        return try await withDeadline(context.deadline) { [coalescer] in
            try await withThrowingTaskGroup(of: (ItemCallCoalescer.Chunk, Result<SharedAnswer, any Error>, Bool).self) { group in
                for (chunk, owned) in waits {
                    group.addTask {
                        defer { coalescer.leave(chunk, waiter: claim.waiter, scope: scope) }
                        // The awaited value is bound before the tuple is built: Swift 6.3.1 -O miscompiles
                        // `(x, .success(try await …))` in a task-group child (Tests/ToolchainRepro).
                        do {
                            let answer = try await chunk.call.future.value()
                            return (chunk, .success(answer), owned)
                        } catch {
                            return (chunk, .failure(error), owned)
                        }
                    }
                }
                var fetched = Fetched()
                fetched.values = lookup.values
                fetched.usage.cacheHits = lookup.hits
                for try await (chunk, outcome, owned) in group {
                    switch outcome {
                    case .success(let answer):
                        for item in chunk.items { if let value = answer.values[item] { fetched.values[item] = value } }
                        if owned {
                            fetched.usage.calls += answer.calls
                        } else {
                            fetched.usage.coalesced += 1
                            metrics?.coalesced.increment()
                        }
                    case .failure(let error):
                        guard let failure = error as? GatewayError else { throw error }
                        for item in chunk.items {
                            guard let stale = lookup.expired[item] else { throw error }
                            if case .present(let value) = stale.value { fetched.values[item] = value }
                            fetched.staleness = Staleness.oldest(fetched.staleness, Staleness(storedAt: stale.storedAt))
                        }
                        metrics?.staleServed.increment(by: chunk.items.count)
                        // Served stale, but the calls made before giving up were sent and paid all the same.
                        if owned {
                            fetched.usage.calls += failure.upstreamCalls
                        } else {
                            fetched.usage.coalesced += 1
                            metrics?.coalesced.increment()
                        }
                        context.logger.warning(
                            "serving stale entries after upstream failure",
                            metadata: ["scope": "\(scope.operation)", "items": "\(chunk.items.count)"])
                    }
                }
                return fetched
            }
        }
    }

    /// Fetches `items` through `call` and stores them, here and (before returning) in the shared
    /// cache; refresh-ahead remembers the call (`refreshed`: it was itself a refresh).
    private func fetchAndStore(
        _ items: [String], scope: CallScope, ttl: @escaping @Sendable (String) -> Duration, context: CallContext,
        call: @escaping @Sendable ([String], CallContext) async throws -> ItemsAnswer, refreshed: Bool
    ) async throws -> SharedAnswer {
        let answer = try await call(items, context)
        let encoded = SharedAnswer(values: answer.values.mapValues(EncodedJSON.init), calls: answer.calls)
        let now = ContinuousClock.now
        let stored = items.map { item in
            (key: CacheKey(scope: scope, item: item), value: encoded.values[item].map(CachedValue.present) ?? .absent, ttl: ttl(item))
        }
        for entry in stored { cache.store(entry.key, entry.value, ttl: entry.ttl, now: now) }
        await shared?.write(stored)
        if let refresh, refresh.isOn {
            refresh.remember(stored.map(\.key), ttl: stored.map(\.ttl).min() ?? .zero, caller: context.caller, refreshed: refreshed) {
                [self] background in
                _ = try await self.fetchAndStore(items, scope: scope, ttl: ttl, context: background, call: call, refreshed: true)
            }
        }
        return encoded
    }

    private func startSharedCall(
        _ chunk: ItemCallCoalescer.Chunk, scope: CallScope, ttl: @escaping @Sendable (String) -> Duration, context: CallContext,
        call: @escaping @Sendable ([String], CallContext) async throws -> ItemsAnswer
    ) {
        let fetchAndStore: @Sendable ([String]) async throws -> SharedAnswer = { [self] items in
            try await self.fetchAndStore(items, scope: scope, ttl: ttl, context: context, call: call, refreshed: false)
        }
        chunk.call.run(
            Task { [cache, leases, coalescer] in
                let outcome: Result<SharedAnswer, any Error>
                do {
                    if let leases {
                        let coordinated = try await leases.coordinate(chunk.items, scope: scope, deadline: { context.deadline }, fetch: fetchAndStore)
                        // Entries another replica fetched are kept here until their shared expiry, not a new TTL.
                        let now = ContinuousClock.now
                        for (item, expires) in coordinated.storedElsewhere where expires > now {
                            let value = coordinated.answer.values[item].map(CachedValue.present) ?? .absent
                            cache.store(CacheKey(scope: scope, item: item), value, ttl: expires - now, now: now)
                        }
                        outcome = .success(coordinated.answer)
                    } else {
                        let answer = try await fetchAndStore(chunk.items)
                        outcome = .success(answer)
                    }
                } catch {
                    outcome = .failure(error)
                }
                coalescer.release(chunk, scope: scope)
                chunk.call.future.complete(outcome)
            })
    }
}
