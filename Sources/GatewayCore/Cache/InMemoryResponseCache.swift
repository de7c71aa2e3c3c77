import CoreMetrics
import DynamicJSON
import LockedState

/// A `ResponseCache` in process memory: LRU within `maxBytes`, expired entries kept until evicted.
///
/// Sizes are the encoded JSON length plus the key and a fixed per-entry overhead: entries hold
/// their encoded bytes, so the bound is the memory they really take.
public final class InMemoryResponseCache: ResponseCache {
    private struct Entry: Sendable {
        var value: CachedValue
        var stored: ContinuousClock.Instant
        var expires: ContinuousClock.Instant
    }

    private static let entryOverhead = 160
    private let store: Locked<LRUStore<CacheKey, Entry>>
    private let evictions: Counter?

    /// A cache bounded to `maxBytes`, counting its evictions in `metrics` when given.
    public init(maxBytes: Int, metrics: CacheMetrics? = nil) {
        store = Locked(LRUStore(capacity: maxBytes))
        evictions = metrics?.evictions
    }

    /// See `ResponseCache.lookup`.
    public func lookup(_ key: CacheKey, now: ContinuousClock.Instant) -> CacheLookup {
        guard let entry = store.withLock({ $0.get(key) }) else { return .miss }
        return entry.expires > now ? .fresh(entry.value, expires: entry.expires) : .expired(entry.value, storedAt: entry.stored)
    }

    /// See `ResponseCache.store`.
    public func store(_ key: CacheKey, _ value: CachedValue, ttl: Duration, now: ContinuousClock.Instant) {
        let size: Int
        switch value {
        case .present(let json): size = json.bytes.count + Self.entryOverhead
        case .absent: size = Self.entryOverhead
        }
        let keySize = key.item.utf8.count + key.scope.operation.utf8.count + key.scope.workspace.utf8.count
        let evicted = store.withLock { $0.set(key, Entry(value: value, stored: now, expires: now + ttl), size: size + keySize) }
        if evicted > 0 { evictions?.increment(by: evicted) }
    }

    /// Bytes held now.
    public var bytes: Int { store.withLock { $0.bytes } }

    /// Entries and bytes held now.
    var held: (entries: Int, bytes: Int) { store.withLock { ($0.count, $0.bytes) } }
}
