import DynamicJSON
import Foundation
import NIOCore
import RedisClient

/// An entry of the shared cache, as this replica's clock sees it.
public struct SharedCacheEntry: Sendable {
    /// The value (or the upstream's "nothing for it").
    public var value: CachedValue
    /// When a replica stored it.
    public var storedAt: ContinuousClock.Instant
    /// When it stops being fresh.
    public var expires: ContinuousClock.Instant
}

/// The cache every replica shares, in Redis: one key per item, holding its encoded bytes behind
/// a one-line header (`2 <stored ms> <expires ms> <p|a> <key check>`, wall-clock milliseconds, so
/// that any replica can tell fresh from expired; the check is a digest of the key's name, so that
/// a value copied or restored under another key is not served for it). Redis keeps a key
/// `staleRetention` past its expiry for stale-if-error, and evicts by its own `maxmemory` policy.
/// An entry that is not exactly what a replica writes (a bad header, times out of range, an
/// expiry further than `maxTTL` from its store time, bytes that are not one JSON value) is a miss.
/// A failure of Redis is a miss (reported to `health`), never an error of the request; while the
/// store is down it is not asked.
public final class RedisCacheTier: SharedResponseCache {
    /// How long an expired entry stays in Redis for stale-if-error.
    public static let staleRetention: Duration = .seconds(86_400)
    /// How far a replica's wall clock may be behind the one that stored an entry.
    static let clockSkew: Int64 = 3_600_000
    private let redis: RedisClient
    private let names: SharedKeyNames
    private let maxTTL: Duration
    private let health: SharedStoreHealth

    /// A tier in `redis` under `names`, holding entries for at most `maxTTL`.
    public init(redis: RedisClient, names: SharedKeyNames, maxTTL: Duration, health: SharedStoreHealth) {
        self.redis = redis
        self.names = names
        self.maxTTL = maxTTL
        self.health = health
    }

    /// See `SharedResponseCache.lookup`; unreachable ones are left out too.
    public func lookup(_ keys: [CacheKey], deadline: ContinuousClock.Instant?) async -> [CacheKey: SharedCacheEntry] {
        guard !keys.isEmpty, !health.isStoreDown else { return [:] }
        do {
            let redisKeys = keys.map(names.cache)
            let replies = try await redis.pipeline(redisKeys.map { ["GET", .string($0)] }, deadline: deadline)
            health.storeAnswered()
            let clock = EntryClock(localNow: .now, wallNow: Self.wallMilliseconds(), maxTTL: Int64(maxTTL.wholeMilliseconds))
            var found: [CacheKey: SharedCacheEntry] = [:]
            for (index, reply) in replies.enumerated() {
                guard let bytes = reply.bytes, let entry = Self.decode(bytes, key: redisKeys[index], clock: clock) else { continue }
                found[keys[index]] = entry
            }
            return found
        } catch .deadlineReached {
            return [:]
        } catch {
            health.storeFailed("\(error)")
            return [:]
        }
    }

    /// Stores `values` for `ttl` each, in the background (a failure only costs other replicas a miss).
    public func store(_ values: [(key: CacheKey, value: CachedValue, ttl: Duration)]) {
        guard !values.isEmpty, !health.isStoreDown else { return }
        Task { await write(values) }
    }

    /// Stores `values` for `ttl` each and returns once Redis has them (or has failed: reported to `health`).
    public func write(_ values: [(key: CacheKey, value: CachedValue, ttl: Duration)]) async {
        guard !values.isEmpty, !health.isStoreDown else { return }
        let wallNow = Self.wallMilliseconds()
        let commands: [[RESPArgument]] = values.map { entry in
            let ttlMs = Int64(max(1, min(entry.ttl, maxTTL).wholeMilliseconds))
            let key = names.cache(entry.key)
            let body: EncodedJSON? = if case .present(let json) = entry.value { json } else { nil }
            var buffer = ByteBuffer()
            buffer.writeString("2 \(wallNow) \(wallNow + ttlMs) \(body == nil ? "a" : "p") \(Self.check(key))\n")
            if let body { buffer.writeBytes(body.bytes) }
            return ["SET", .string(key), .bytes(buffer), "PX", .int(ttlMs + Int64(Self.staleRetention.wholeMilliseconds))]
        }
        do {
            _ = try await redis.pipeline(commands)
        } catch {
            health.storeFailed("\(error)")
        }
    }

    /// The instants an entry is read at, and the longest TTL an entry may have.
    struct EntryClock {
        var localNow: ContinuousClock.Instant
        var wallNow: Int64
        var maxTTL: Int64
    }

    /// Reads an entry stored under `key`; nil for anything a replica would not have written there (read as a miss).
    static func decode(_ bytes: ByteBuffer, key: String, clock: EntryClock) -> SharedCacheEntry? {
        let view = bytes.readableBytesView
        guard let newline = view.firstIndex(of: 0x0A), newline - view.startIndex <= 96 else { return nil }
        let header = String(decoding: view[view.startIndex..<newline], as: UTF8.self).split(separator: " ", omittingEmptySubsequences: false)
        guard header.count == 5, header[0] == "2", header[4] == check(key), let stored = Int64(header[1]), let expires = Int64(header[2]) else {
            return nil
        }
        // Written by a replica whose clock is within `clockSkew` of this one's, and kept no longer
        // than `staleRetention` past a TTL of at most `maxTTL`: anything else is not an entry.
        let oldest = clock.wallNow - clock.maxTTL - Int64(staleRetention.wholeMilliseconds) - clockSkew
        guard stored >= oldest, stored <= clock.wallNow + clockSkew, expires >= stored, expires - stored <= clock.maxTTL else { return nil }
        let value: CachedValue
        switch header[3] {
        case "p":
            let body = Array(view[(newline + 1)...])
            // Spliced into answers as they are: only bytes that are one JSON value.
            guard (try? JSON.parse(body)) != nil else { return nil }
            value = .present(EncodedJSON(writtenBytes: body))
        case "a":
            guard newline + 1 == view.endIndex else { return nil }
            value = .absent
        default:
            return nil
        }
        return SharedCacheEntry(
            value: value, storedAt: clock.localNow - .milliseconds(max(0, clock.wallNow - stored)),
            expires: clock.localNow + .milliseconds(expires - clock.wallNow))
    }

    /// A short digest of a key's name (FNV-1a, 64 bits, hex): which key an entry was written for.
    static func check(_ key: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    private static func wallMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1_000).rounded(.down))
    }
}
