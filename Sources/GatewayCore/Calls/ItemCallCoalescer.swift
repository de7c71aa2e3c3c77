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

/// An upstream call's answer as every waiter gets it: values encoded once (as the cache holds them).
public struct SharedAnswer: Sendable {
    /// Encoded values by item; items the upstream lacked are absent.
    public var values: [String: EncodedJSON]
    /// Upstream calls it took (retries included).
    public var calls: Int

    /// An answer of `values` that took `calls` calls.
    public init(values: [String: EncodedJSON], calls: Int) {
        self.values = values
        self.calls = calls
    }
}

/// Identical in-flight upstream calls run once: for each item of a scope at most one call is in
/// flight, and every request that needs the item waits on that call instead of making another.
///
/// A call runs for the requests waiting on it: its deadline is the latest of theirs, and when the
/// last one leaves (its deadline passed, its client went away) the call is cancelled and forgotten,
/// so a queued grant is given back and a later request starts afresh.
final class ItemCallCoalescer: Sendable {
    /// Items this request must fetch itself, and the calls of others it waits on.
    struct Claim {
        /// New calls this request owns: at most `chunkSize` items each.
        var owned: [Chunk] = []
        /// Calls already in flight that hold some of this request's items.
        var joined: [Chunk] = []
        /// This request's place among the waiters of every claimed call.
        var waiter = 0
    }

    /// Some items and the shared call that answers them.
    struct Chunk: Sendable {
        var items: [String]
        var call: SharedCall
    }

    private struct Table {
        var running: [CallScope: [String: SharedCall]] = [:]
        var nextWaiter = 0
    }

    private let table = Locked(Table())

    /// Joins in-flight calls for the items they cover and registers new calls (≤`chunkSize` items)
    /// for the rest; the request waits on every one of them until `deadline`, and its `allowance`
    /// may pay for calls they make past their plan.
    func claim(
        _ items: [String], scope: CallScope, chunkSize: Int, deadline: ContinuousClock.Instant, allowance: CallAllowance, priority: BudgetPriority
    ) -> Claim {
        table.withLock { table in
            table.nextWaiter += 1
            var claim = Claim(waiter: table.nextWaiter)
            var running = table.running[scope] ?? [:]
            var joined: [ObjectIdentifier: Chunk] = [:]
            var unclaimed: [String] = []
            for item in items {
                if let call = running[item] {
                    joined[ObjectIdentifier(call), default: Chunk(items: [], call: call)].items.append(item)
                } else {
                    unclaimed.append(item)
                }
            }
            for start in Swift.stride(from: 0, to: unclaimed.count, by: chunkSize) {
                let chunk = Chunk(items: Array(unclaimed[start..<min(start + chunkSize, unclaimed.count)]), call: SharedCall())
                for item in chunk.items { running[item] = chunk.call }
                claim.owned.append(chunk)
            }
            table.running[scope] = running
            claim.joined = Array(joined.values)
            for chunk in claim.owned + claim.joined { chunk.call.join(claim.waiter, deadline: deadline, allowance: allowance, priority: priority) }
            return claim
        }
    }

    /// The request `waiter` stops waiting on `chunk`; the last waiter to leave a call still
    /// running (or not started yet) cancels it and forgets it: then true.
    @discardableResult
    func leave(_ chunk: Chunk, waiter: Int, scope: CallScope) -> Bool {
        let abandoned = table.withLock { table -> Bool in
            guard chunk.call.leave(waiter) else { return false }
            forget(chunk, scope: scope, in: &table)
            return true
        }
        if abandoned { chunk.call.cancel() }
        return abandoned
    }

    /// Forgets a finished call (after its answer is cached, so late requests hit the cache).
    func release(_ chunk: Chunk, scope: CallScope) {
        table.withLock { table in
            chunk.call.finish()
            forget(chunk, scope: scope, in: &table)
        }
    }

    private func forget(_ chunk: Chunk, scope: CallScope, in table: inout Table) {
        guard var running = table.running[scope] else { return }
        for item in chunk.items where running[item] === chunk.call { running[item] = nil }
        table.running[scope] = running.isEmpty ? nil : running
    }
}

/// One upstream call shared by the requests waiting on it: its result, its waiters' deadlines and
/// call allowances, and the task that runs it.
final class SharedCall: Sendable {
    private struct Interest {
        var deadlines: [Int: ContinuousClock.Instant] = [:]
        var allowances: [Int: CallAllowance] = [:]
        var interactive: Set<Int> = []
        var task: Task<Void, Never>?
        var finished = false
        var abandoned = false
        var answerBy: ContinuousClock.Instant?
    }

    /// The call's result, for every waiter.
    let future = SharedFuture<SharedAnswer>()
    private let interest = Locked(Interest())

    /// The latest deadline among the requests waiting now (now when none is left).
    var latestDeadline: ContinuousClock.Instant {
        interest.withLock { $0.deadlines.values.max() } ?? .now
    }

    /// Interactive while an interactive request waits on it, else background.
    var priority: BudgetPriority {
        interest.withLock { $0.interactive.isEmpty && !$0.deadlines.isEmpty ? .background : .interactive }
    }

    /// The allowances of the requests waiting now, longest-waiting first: who pays for calls past the plan.
    var payers: [CallAllowance] {
        interest.withLock { interest in interest.allowances.sorted { $0.key < $1.key }.map(\.value) }
    }

    /// When its owner's admission projected it answered (nil until admitted, or when started unadmitted).
    var answerBy: ContinuousClock.Instant? {
        get { interest.withLock { $0.answerBy } }
        set { interest.withLock { $0.answerBy = newValue } }
    }

    fileprivate func join(_ waiter: Int, deadline: ContinuousClock.Instant, allowance: CallAllowance, priority: BudgetPriority) {
        interest.withLock { interest in
            interest.deadlines[waiter] = deadline
            interest.allowances[waiter] = allowance
            if priority == .interactive { interest.interactive.insert(waiter) }
        }
    }

    /// Removes a waiter; true when it was the last one of a call still running (now abandoned).
    fileprivate func leave(_ waiter: Int) -> Bool {
        interest.withLock { interest in
            interest.allowances[waiter] = nil
            interest.interactive.remove(waiter)
            guard interest.deadlines.removeValue(forKey: waiter) != nil, interest.deadlines.isEmpty, !interest.finished else { return false }
            interest.abandoned = true
            return true
        }
    }

    fileprivate func finish() {
        interest.withLock { $0.finished = true }
    }

    /// Hands over the task running the call; cancels it at once if every waiter already left.
    func run(_ task: Task<Void, Never>) {
        let abandoned = interest.withLock { interest -> Bool in
            interest.task = task
            return interest.abandoned
        }
        if abandoned { task.cancel() }
    }

    fileprivate func cancel() {
        interest.withLock { $0.task }?.cancel()
    }
}

/// Makes identical upstream calls in flight on different replicas once (`ReplicaCallLeases`);
/// within a replica, `ItemCallCoalescer` already does.
public protocol CrossReplicaCoalescing: Sendable {
    /// Gets `items` of `scope`: through `fetch` (which stores them in the shared cache before it
    /// returns) those this replica takes on, the rest from the replicas fetching them; stops
    /// waiting at `deadline()` or when cancelled.
    func coordinate(
        _ items: [String], scope: CallScope, deadline: @escaping @Sendable () -> ContinuousClock.Instant,
        fetch: @escaping @Sendable ([String]) async throws -> SharedAnswer
    ) async throws -> CoordinatedAnswer
}

/// What `CrossReplicaCoalescing.coordinate` got: the values (fetched here or by other replicas),
/// the upstream calls made here, and the shared expiry of each entry another replica stored.
public struct CoordinatedAnswer: Sendable {
    /// Values and the calls made here.
    public var answer: SharedAnswer
    /// Items another replica fetched, with their shared expiry.
    public var storedElsewhere: [String: ContinuousClock.Instant]
}
