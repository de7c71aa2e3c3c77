import CoreMetrics
import DynamicJSON
import LockedState

/// A `ResponseCache` in process memory: LRU within `maxBytes`, expired entries kept until evicted.
///
/// An entry's size is the heap memory it takes, not only its JSON's length: the value's buffer as
/// allocated (stored values are first copied to a buffer of their own length: a writer's buffer
/// grows by doubling, up to twice the text), the key's strings that do not fit inline, and a fixed
/// share for the entry's slot in the LRU's node array and hash table (both grow by doubling and
/// never shrink). So `maxBytes` bounds the memory the cache really holds.
public final class InMemoryResponseCache: ResponseCache {
    private struct Entry: Sendable {
        var value: CachedValue
        var stored: ContinuousClock.Instant
        var expires: ContinuousClock.Instant
    }

    /// The fixed share of an entry: its node (key, value, clocks, links: about 130 B) and its hash
    /// table bucket (about 60 B), each in a table up to half empty after doubling.
    static let entryOverhead = 384
    /// A heap buffer's header (Swift's array or string storage) plus malloc's chunk overhead.
    static let heapBufferOverhead = 48
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
        let value = Self.compacted(value)
        let size = Self.size(of: key, value)
        let evicted = store.withLock { $0.set(key, Entry(value: value, stored: now, expires: now + ttl), size: size) }
        if evicted > 0 { evictions?.increment(by: evicted) }
    }

    /// Bytes held now.
    public var bytes: Int { store.withLock { $0.bytes } }

    /// Entries and bytes held now.
    var held: (entries: Int, bytes: Int) { store.withLock { ($0.count, $0.bytes) } }

    /// The memory an entry takes (see the type's comment).
    static func size(of key: CacheKey, _ value: CachedValue) -> Int {
        var size = entryOverhead + heapSize(key.item) + heapSize(key.scope.operation) + heapSize(key.scope.workspace)
        if case .present(let json) = value { size += json.bytes.capacity + heapBufferOverhead }
        return size
    }

    /// The heap a string takes beyond its inline 16 bytes (none for up to 15 UTF-8 bytes; an
    /// upper bound for a string shared by several keys, as scopes are).
    private static func heapSize(_ string: String) -> Int {
        let count = string.utf8.count
        return count <= 15 ? 0 : count + heapBufferOverhead
    }

    /// `value` with its bytes in a buffer of their own length (a writer's buffer may be twice as long).
    static func compacted(_ value: CachedValue) -> CachedValue {
        guard case .present(let json) = value, json.bytes.capacity - json.bytes.count > 64 else { return value }
        let source = json.bytes
        let exact = [UInt8](unsafeUninitializedCapacity: source.count) { buffer, count in
            count = buffer.initialize(fromContentsOf: source)
        }
        return .present(EncodedJSON(writtenBytes: exact))
    }
}
