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
/// a one-line header (`1 <stored ms> <expires ms> <p|a>`, wall-clock milliseconds, so that any
/// replica can tell fresh from expired). Redis keeps a key `staleRetention` past its expiry for
/// stale-if-error, and evicts by its own `maxmemory` policy. A failure of Redis is a miss
/// (reported to `health`), never an error of the request; while degraded it is not asked.
public final class RedisCacheTier: SharedResponseCache {
    /// How long an expired entry stays in Redis for stale-if-error.
    public static let staleRetention: Duration = .seconds(86_400)
    private let redis: RedisClient
    private let keyPrefix: String
    private let health: SharedStoreHealth

    /// A tier in `redis` under `keyPrefix`.
    public init(redis: RedisClient, keyPrefix: String, health: SharedStoreHealth) {
        self.redis = redis
        self.keyPrefix = keyPrefix
        self.health = health
    }

    /// The shared entries of `keys` (fresh or expired); missing, unreadable or unreachable ones are left out.
    public func lookup(_ keys: [CacheKey]) async -> [CacheKey: SharedCacheEntry] {
        guard !keys.isEmpty, !health.isDegraded else { return [:] }
        do {
            let replies = try await redis.pipeline(keys.map { ["GET", .string(redisKey($0))] })
            health.recovered()
            let localNow = ContinuousClock.now
            let wallNow = Self.wallMilliseconds()
            var found: [CacheKey: SharedCacheEntry] = [:]
            for (key, reply) in zip(keys, replies) {
                guard let bytes = reply.bytes, let entry = Self.decode(bytes, localNow: localNow, wallNow: wallNow) else { continue }
                found[key] = entry
            }
            return found
        } catch {
            health.failed("\(error)")
            return [:]
        }
    }

    /// Stores `values` for `ttl` each, in the background (a failure only costs other replicas a miss).
    public func store(_ values: [(key: CacheKey, value: CachedValue, ttl: Duration)]) {
        guard !values.isEmpty, !health.isDegraded else { return }
        Task { await write(values) }
    }

    /// Stores `values` for `ttl` each and returns once Redis has them (or has failed: reported to `health`).
    public func write(_ values: [(key: CacheKey, value: CachedValue, ttl: Duration)]) async {
        guard !values.isEmpty, !health.isDegraded else { return }
        let wallNow = Self.wallMilliseconds()
        let commands: [[RESPArgument]] = values.map { entry in
            let ttlMs = Int64(max(1, entry.ttl.wholeMilliseconds))
            var buffer = ByteBuffer()
            switch entry.value {
            case .present(let json):
                buffer.writeString("1 \(wallNow) \(wallNow + ttlMs) p\n")
                buffer.writeBytes(json.bytes)
            case .absent:
                buffer.writeString("1 \(wallNow) \(wallNow + ttlMs) a\n")
            }
            return ["SET", .string(redisKey(entry.key)), .bytes(buffer), "PX", .int(ttlMs + Int64(Self.staleRetention.wholeMilliseconds))]
        }
        do {
            _ = try await redis.pipeline(commands)
        } catch {
            health.failed("\(error)")
        }
    }

    /// The Redis key of a cache entry.
    func redisKey(_ key: CacheKey) -> String {
        "\(keyPrefix)cache:{\(key.scope.workspace)}:\(key.scope.operation):\(key.item)"
    }

    /// Reads a stored entry; nil for anything malformed (read as a miss).
    static func decode(_ bytes: ByteBuffer, localNow: ContinuousClock.Instant, wallNow: Int64) -> SharedCacheEntry? {
        let view = bytes.readableBytesView
        guard let newline = view.firstIndex(of: 0x0A), newline - view.startIndex <= 64 else { return nil }
        let header = String(decoding: view[view.startIndex..<newline], as: UTF8.self).split(separator: " ")
        guard header.count == 4, header[0] == "1", let stored = Int64(header[1]), let expires = Int64(header[2]), expires >= stored else {
            return nil
        }
        let value: CachedValue
        switch header[3] {
        case "p":
            let body = Array(view[(newline + 1)...])
            // Spliced into answers as they are: only bytes that are one JSON value.
            guard (try? JSON.parse(body)) != nil else { return nil }
            value = .present(EncodedJSON(writtenBytes: body))
        case "a":
            value = .absent
        default:
            return nil
        }
        return SharedCacheEntry(
            value: value, storedAt: localNow - .milliseconds(max(0, wallNow - stored)), expires: localNow + .milliseconds(expires - wallNow))
    }

    private static func wallMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1_000).rounded(.down))
    }
}
