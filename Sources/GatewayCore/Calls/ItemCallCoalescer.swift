import DynamicJSON
import LockedState

/// What one upstream call brought back: values by item, and its cost.
public struct ItemsAnswer: Sendable {
    /// A value for every item the upstream had something for; items it lacked are absent.
    public var values: [String: JSON]
    /// Upstream calls it took (retries included).
    public var calls: Int

    /// Creates an answer.
    public init(values: [String: JSON], calls: Int) {
        self.values = values
        self.calls = calls
    }
}

/// Identical in-flight upstream calls run once: for each item of a scope at most one call is in
/// flight, and every request that needs the item waits on that call instead of making another.
final class ItemCallCoalescer: Sendable {
    /// Items this request must fetch itself, and the calls of others it waits on.
    struct Claim {
        /// New calls this request owns: at most `chunkSize` items each.
        var owned: [Chunk] = []
        /// Calls already in flight that hold some of this request's items.
        var joined: [Chunk] = []
    }

    /// Some items and the shared call that answers them.
    struct Chunk: Sendable {
        var items: [String]
        var future: SharedFuture<ItemsAnswer>
    }

    private let inFlight = Locked<[CallScope: [String: SharedFuture<ItemsAnswer>]]>([:])

    /// Joins in-flight calls for the items they cover and registers new calls (≤`chunkSize` items) for the rest.
    func claim(_ items: [String], scope: CallScope, chunkSize: Int) -> Claim {
        inFlight.withLock { table in
            var claim = Claim()
            var running = table[scope] ?? [:]
            var joined: [ObjectIdentifier: Chunk] = [:]
            var unclaimed: [String] = []
            for item in items {
                if let future = running[item] {
                    joined[ObjectIdentifier(future), default: Chunk(items: [], future: future)].items.append(item)
                } else {
                    unclaimed.append(item)
                }
            }
            for start in Swift.stride(from: 0, to: unclaimed.count, by: chunkSize) {
                let chunk = Chunk(items: Array(unclaimed[start..<min(start + chunkSize, unclaimed.count)]), future: SharedFuture())
                for item in chunk.items { running[item] = chunk.future }
                claim.owned.append(chunk)
            }
            table[scope] = running
            claim.joined = Array(joined.values)
            return claim
        }
    }

    /// Forgets a finished call (after its answer is cached, so late requests hit the cache).
    func release(_ chunk: Chunk, scope: CallScope) {
        inFlight.withLock { table in
            guard var running = table[scope] else { return }
            for item in chunk.items where running[item] === chunk.future { running[item] = nil }
            table[scope] = running.isEmpty ? nil : running
        }
    }
}
