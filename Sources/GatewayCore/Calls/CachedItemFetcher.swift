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

    /// No usage yet.
    public init() {}

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

/// Gets the items of one scope the way every gateway method does: fresh ones from the cache,
/// the rest from identical in-flight calls of other requests or from new shared calls (cached
/// on arrival, absent items too), and expired entries, flagged, when the upstream fails.
public struct CachedItemFetcher: Sendable {
    private let cache: any ResponseCache
    private let coalescer = ItemCallCoalescer()

    /// Fetches through `cache`.
    public init(cache: any ResponseCache) {
        self.cache = cache
    }

    /// What the cache holds for a request, before any upstream call.
    public struct Lookup: Sendable {
        /// Fresh values by item.
        public var values: [String: JSON] = [:]
        /// Items to fetch, in request order.
        public var needed: [String] = []
        /// Expired entries of needed items, kept for stale-if-error.
        public var expired: [String: (value: CachedValue, age: Duration)] = [:]
        /// Items answered from the cache (present or known absent).
        public var hits = 0
    }

    /// The result of a fetch.
    public struct Fetched: Sendable {
        /// Values by item (absent items have none).
        public var values: [String: JSON] = [:]
        /// Calls made and waited on.
        public var usage = UpstreamUsage()
        /// The age of the oldest expired entry served because the upstream failed.
        public var staleAge: Duration?
    }

    /// Splits `items` into fresh cache hits and items to fetch.
    public func lookup(_ items: [String], scope: CallScope, now: ContinuousClock.Instant = .now) -> Lookup {
        var lookup = Lookup()
        for item in items {
            switch cache.lookup(CacheKey(scope: scope, item: item), now: now) {
            case .fresh(let value):
                lookup.hits += 1
                if case .present(let json) = value { lookup.values[item] = json }
            case .expired(let value, let age):
                lookup.expired[item] = (value, age)
                lookup.needed.append(item)
            case .miss:
                lookup.needed.append(item)
            }
        }
        return lookup
    }

    /// Stores values the caller fetched itself (e.g. every campaign of a listing).
    public func store(_ values: [String: JSON], scope: CallScope, ttl: Duration) {
        let now = ContinuousClock.now
        for (item, value) in values { cache.store(CacheKey(scope: scope, item: item), .present(value), ttl: ttl, now: now) }
    }

    /// Completes `lookup`: its fresh values and hits, plus its needed items fetched `chunkSize`
    /// per call through `call` and cached for `ttl(item)`.
    ///
    /// A call outlives a waiter's cancellation (others may wait on it) and is bounded by the
    /// deadline of the request that started it. Throws the upstream's `GatewayError` when a call
    /// fails and an item it covered has no expired entry to fall back on.
    public func fetch(
        _ lookup: Lookup, scope: CallScope, chunkSize: Int, ttl: @escaping @Sendable (String) -> Duration, deadline: ContinuousClock.Instant,
        logger: Logger, call: @escaping @Sendable ([String]) async throws -> ItemsAnswer
    ) async throws -> Fetched {
        let claim = coalescer.claim(lookup.needed, scope: scope, chunkSize: chunkSize)
        for chunk in claim.owned {
            startSharedCall(chunk, scope: scope, ttl: ttl, deadline: deadline, call: call)
        }
        let waits = claim.owned.map { ($0, true) } + claim.joined.map { ($0, false) }
        return try await withThrowingTaskGroup(of: (ItemCallCoalescer.Chunk, Result<ItemsAnswer, any Error>, Bool).self) { group in
            for (chunk, owned) in waits {
                group.addTask {
                    do { return (chunk, .success(try await chunk.future.value()), owned) } catch { return (chunk, .failure(error), owned) }
                }
            }
            var fetched = Fetched()
            fetched.values = lookup.values
            fetched.usage.cacheHits = lookup.hits
            for try await (chunk, outcome, owned) in group {
                switch outcome {
                case .success(let answer):
                    for item in chunk.items { if let value = answer.values[item] { fetched.values[item] = value } }
                    if owned { fetched.usage.calls += answer.calls } else { fetched.usage.coalesced += 1 }
                case .failure(let error):
                    guard error is GatewayError else { throw error }
                    for item in chunk.items {
                        guard let stale = lookup.expired[item] else { throw error }
                        if case .present(let value) = stale.value { fetched.values[item] = value }
                        fetched.staleAge = max(fetched.staleAge ?? .zero, stale.age)
                    }
                    logger.warning(
                        "serving stale entries after upstream failure", metadata: ["scope": "\(scope.operation)", "items": "\(chunk.items.count)"])
                }
            }
            return fetched
        }
    }

    private func startSharedCall(
        _ chunk: ItemCallCoalescer.Chunk, scope: CallScope, ttl: @escaping @Sendable (String) -> Duration, deadline: ContinuousClock.Instant,
        call: @escaping @Sendable ([String]) async throws -> ItemsAnswer
    ) {
        Task { [cache, coalescer] in
            let outcome: Result<ItemsAnswer, any Error>
            do {
                let answer = try await withDeadline(deadline) { try await call(chunk.items) }
                let now = ContinuousClock.now
                for item in chunk.items {
                    cache.store(CacheKey(scope: scope, item: item), answer.values[item].map(CachedValue.present) ?? .absent, ttl: ttl(item), now: now)
                }
                outcome = .success(answer)
            } catch {
                outcome = .failure(error)
            }
            coalescer.release(chunk, scope: scope)
            chunk.future.complete(outcome)
        }
    }
}
