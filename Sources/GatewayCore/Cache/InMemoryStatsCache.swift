import DynamicJSON
import LockedState

/// A `StatsCache` in process memory: LRU within `maxBytes`, expired entries kept until evicted.
///
/// Sizes are the encoded JSON length plus a fixed per-entry overhead, so the bound tracks the
/// memory the figures really take within a small factor.
public final class InMemoryStatsCache: StatsCache {
    private struct Entry: Sendable {
        var value: CachedStats
        var stored: ContinuousClock.Instant
        var expires: ContinuousClock.Instant
    }

    private static let entryOverhead = 160
    private let store: Locked<LRUStore<StatsCacheKey, Entry>>

    /// A cache bounded to `maxBytes`.
    public init(maxBytes: Int) {
        store = Locked(LRUStore(capacity: maxBytes))
    }

    /// See `StatsCache.lookup`.
    public func lookup(_ key: StatsCacheKey, now: ContinuousClock.Instant) -> CacheLookup {
        guard let entry = store.withLock({ $0.get(key) }) else { return .miss }
        return entry.expires > now ? .fresh(entry.value) : .expired(entry.value, age: now - entry.stored)
    }

    /// See `StatsCache.store`.
    public func store(_ key: StatsCacheKey, _ value: CachedStats, ttl: Duration, now: ContinuousClock.Instant) {
        let size: Int
        switch value {
        case .present(let json): size = json.encoded().count + Self.entryOverhead
        case .absent: size = Self.entryOverhead
        }
        store.withLock { $0.set(key, Entry(value: value, stored: now, expires: now + ttl), size: size) }
    }

    /// Bytes held now.
    public var bytes: Int { store.withLock { $0.bytes } }
}
