import Dates
import DynamicJSON

/// What a family of upstream answers shares: the workspace and the operation with its
/// parameters (e.g. `stats VIEW_THROUGH TOTAL 2025-03-01..2025-03-30`).
public struct CallScope: Hashable, Sendable {
    /// Workspace name.
    public var workspace: String
    /// The operation and every parameter that changes its answer, as one string.
    public var operation: String

    /// Creates a scope.
    public init(workspace: String, operation: String) {
        self.workspace = workspace
        self.operation = operation
    }
}

/// One cached item: an item (campaign id, day, …) within a scope.
public struct CacheKey: Hashable, Sendable {
    /// The scope the item belongs to.
    public var scope: CallScope
    /// The item: a campaign id, a day, a page.
    public var item: String

    /// Creates a key.
    public init(scope: CallScope, item: String) {
        self.scope = scope
        self.item = item
    }
}

/// A cached answer: the item's value as the JSON bytes answers splice in, or the upstream's "nothing for it".
public enum CachedValue: Sendable, Hashable {
    case present(EncodedJSON)
    case absent
}

/// The outcome of a lookup.
public enum CacheLookup: Sendable, Hashable {
    /// Within its TTL, which ends at `expires`.
    case fresh(CachedValue, expires: ContinuousClock.Instant)
    /// Past its TTL; `storedAt` is when it was stored (kept for stale-if-error).
    case expired(CachedValue, storedAt: ContinuousClock.Instant)
    /// Not held.
    case miss
}

/// The gateway's cache of upstream answers, item by item, in this process (`InMemoryResponseCache`).
public protocol ResponseCache: Sendable {
    /// Looks a key up at `now`.
    func lookup(_ key: CacheKey, now: ContinuousClock.Instant) -> CacheLookup
    /// Stores a value that stays fresh for `ttl` from `now`.
    func store(_ key: CacheKey, _ value: CachedValue, ttl: Duration, now: ContinuousClock.Instant)
}

/// How long an answer stays fresh: long for windows that ended long ago, short for recent ones.
public struct CacheTTLPolicy: Sendable {
    /// TTL of a window touching recent days.
    public var fresh: Duration
    /// TTL of a settled window.
    public var settled: Duration
    /// A window is settled once it ended more than this many days before today.
    public var settledAfterDays: Int

    /// Creates a policy.
    public init(fresh: Duration, settled: Duration, settledAfterDays: Int) {
        self.fresh = fresh
        self.settled = settled
        self.settledAfterDays = settledAfterDays
    }

    /// The TTL for a window seen on `today`.
    public func ttl(for window: DayRange, today: CalendarDay) -> Duration {
        window.end.days(to: today) > settledAfterDays ? settled : fresh
    }
}

/// The cache every replica shares, behind each replica's `ResponseCache` (`RedisCacheTier`).
/// Asked only for what the process lacks; its failures are misses, never errors.
public protocol SharedResponseCache: Sendable {
    /// The shared entries of `keys` (fresh or expired); missing or unreadable ones are left out,
    /// and all of them when the store has not answered by `deadline`.
    func lookup(_ keys: [CacheKey], deadline: ContinuousClock.Instant?) async -> [CacheKey: SharedCacheEntry]
    /// Stores `values` for `ttl` each, in the background.
    func store(_ values: [(key: CacheKey, value: CachedValue, ttl: Duration)])
    /// Stores `values` for `ttl` each and returns once they are stored (or storing failed).
    func write(_ values: [(key: CacheKey, value: CachedValue, ttl: Duration)]) async
}
