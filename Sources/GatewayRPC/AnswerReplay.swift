import CoreMetrics
import GatewayCore
import LockedState
import Logging
import NIOCore

/// Whole HTTP answers to repeated requests, kept as their bytes and replayed, as nginx's
/// `proxy_cache` keyed on the body does.
///
/// A request is remembered by its route, its caller and its exact body, and only when its method
/// answered wholly from the answer cache; the replay expires with that answer (the first expiry of
/// the entries it was made from), so it is never staler than the answer cache. A repeat skips
/// parsing, validation and writing; it is still authenticated, counted and logged. LRU within
/// `cache.replay_max_bytes`.
final class AnswerReplay: Sendable {
    /// What makes two requests the same: the route, who asks (scopes are the caller's) and the body bytes.
    struct Key: Hashable, Sendable {
        var route: String
        var caller: String
        var body: ByteBuffer
    }

    /// A replayable answer: the response body, the method it answered (for metrics and logs) and its expiry.
    struct Entry: Sendable {
        var body: ByteBuffer
        var method: String
        var expires: ContinuousClock.Instant
        /// Counts a replay as a read of the answer-cache entry (refresh-ahead).
        var read: AnswerRead?
    }

    /// The fixed share of an entry: its node and hash table bucket (each in a table up to half
    /// empty after doubling) and the two byte buffers' storage objects and malloc chunks.
    static let entryOverhead = 512
    private let store: Locked<LRUStore<Key, Entry>>?
    private let replays: CoreMetrics.Counter
    private let held: CoreMetrics.Gauge

    /// A replay cache of at most `maxBytes` (0: none is kept), counting its replays in
    /// `campaign_gateway_answer_replays_total` and the bytes it holds in `campaign_gateway_answer_replay_bytes`.
    init(maxBytes: Int, metrics: any MetricsFactory) {
        store = maxBytes > 0 ? Locked(LRUStore(capacity: maxBytes)) : nil
        replays = CoreMetrics.Counter(label: MetricCatalog.answerReplays.name, factory: metrics)
        held = CoreMetrics.Gauge(label: MetricCatalog.answerReplayBytes.name, factory: metrics)
        held.record(0)
    }

    /// Forgets every answer (a reload may have changed what a caller may see).
    func clear() {
        store?.withLock { $0 = LRUStore(capacity: $0.capacity) }
        held.record(0)
    }

    /// The answer to replay for `key`, while fresh (counted as a replay).
    func lookup(_ key: Key, now: ContinuousClock.Instant = .now) -> Entry? {
        let entry = store?.withLock { store -> Entry? in
            guard let entry = store.get(key) else { return nil }
            guard entry.expires > now else {
                store.remove(key)  // expired: it must not hold a most-recent place
                return nil
            }
            return entry
        }
        guard let entry else { return nil }
        replays.increment()
        return entry
    }

    /// Remembers `entry` as the answer to `key` until `entry.expires`.
    func store(_ key: Key, _ entry: Entry) {
        guard let store else { return }
        var key = key
        key.body = ByteBuffer(bytes: key.body.readableBytesView)  // only the body's bytes, not the request's whole buffer
        // Capacities, not lengths: NIO rounds each buffer up to a power of two, and that is the memory held.
        let size = key.body.capacity + entry.body.capacity + key.route.utf8.count + key.caller.utf8.count + Self.entryOverhead
        let bytes = store.withLock { store -> Int in
            _ = store.set(key, entry, size: size)
            return store.bytes
        }
        held.record(bytes)
    }
}

extension AnswerReplay {
    /// The stored bytes answering a repeat of `key`, counted and logged through `dispatcher` like
    /// the call it repeats; nil when there are none (or the request's header timeout is unreadable,
    /// which the call itself must answer).
    func replayed(_ key: Key, context: CallContext, dispatcher: RPCDispatcher) -> ByteBuffer? {
        let started = ContinuousClock.now
        guard case .success = context.headerTimeout, let entry = lookup(key, now: started) else { return nil }
        dispatcher.record(method: entry.method, code: "ok", context: context, since: started)
        entry.read?.count()
        return entry.body
    }

    /// `answer` as binary protobuf (Connect `application/proto`, gRPC), remembered as the answer to `key` when the answer cache gave it whole.
    func binary(_ answer: MethodAnswer, of method: RPCMethod, answering key: Key, logger: Logger) throws(GatewayError) -> ByteBuffer {
        let bytes = ByteBuffer(bytes: try ProtoAnswer.binary(answer.document, of: method, logger: logger))
        remember(bytes, answering: key, answer: answer, method: method.name)
        return bytes
    }

    /// Remembers `body` as the answer to `key` when the answer cache gave `answer` whole.
    func remember(_ body: ByteBuffer, answering key: Key, answer: MethodAnswer, method: String?) {
        guard let expires = answer.cachedUntil, let method = method ?? answer.method else { return }
        store(key, Entry(body: body, method: method, expires: expires, read: answer.read))
    }
}
