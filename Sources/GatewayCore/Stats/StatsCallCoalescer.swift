import Dates
import DynamicJSON
import LockedState

/// What one upstream stats call brought back: folded figures by campaign id, and its cost.
struct ChunkAnswer: Sendable {
    /// Folded figures for every campaign the upstream had data for.
    var campaigns: [String: JSON]
    /// Upstream calls it took (retries included).
    var calls: Int
}

/// The window-level part of a stats call's identity.
struct StatsWindowKey: Hashable, Sendable {
    var workspace: String
    var window: DayRange
    var attribution: String
    var metric: String
}

/// Identical in-flight upstream calls run once: for each campaign-window at most one call is in
/// flight, and every request that needs it waits on that call instead of making another.
final class StatsCallCoalescer: Sendable {
    /// Ids this request must fetch itself, and the calls of others it waits on.
    struct Claim {
        /// New calls this request owns: at most 10 ids each.
        var owned: [(ids: [String], future: SharedFuture<ChunkAnswer>)] = []
        /// Calls already in flight that hold some of this request's ids.
        var joined: [(ids: [String], future: SharedFuture<ChunkAnswer>)] = []
    }

    private let inFlight = Locked<[StatsWindowKey: [String: SharedFuture<ChunkAnswer>]]>([:])

    /// Joins in-flight calls for the ids they cover and registers new calls (≤`chunkSize` ids) for the rest.
    func claim(_ ids: [String], key: StatsWindowKey, chunkSize: Int) -> Claim {
        inFlight.withLock { table in
            var claim = Claim()
            var running = table[key] ?? [:]
            var joinedIDs: [ObjectIdentifier: (ids: [String], future: SharedFuture<ChunkAnswer>)] = [:]
            var unclaimed: [String] = []
            for id in ids {
                if let future = running[id] {
                    joinedIDs[ObjectIdentifier(future), default: ([], future)].ids.append(id)
                } else {
                    unclaimed.append(id)
                }
            }
            for start in Swift.stride(from: 0, to: unclaimed.count, by: chunkSize) {
                let chunk = Array(unclaimed[start..<min(start + chunkSize, unclaimed.count)])
                let future = SharedFuture<ChunkAnswer>()
                for id in chunk { running[id] = future }
                claim.owned.append((chunk, future))
            }
            table[key] = running
            claim.joined = Array(joinedIDs.values)
            return claim
        }
    }

    /// Forgets a finished call (after its answer is cached, so late requests hit the cache).
    func release(_ ids: [String], key: StatsWindowKey, future: SharedFuture<ChunkAnswer>) {
        inFlight.withLock { table in
            guard var running = table[key] else { return }
            for id in ids where running[id] === future { running[id] = nil }
            table[key] = running.isEmpty ? nil : running
        }
    }
}
