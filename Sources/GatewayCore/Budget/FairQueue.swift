/// Waiting requests for one workspace's budget, served round-robin across callers.
///
/// Each caller has a queue, earliest request first (FIFO among equals); `next()` takes the head
/// of the next non-empty caller after the one served last, so a caller with 300 queued calls
/// cannot starve a caller with one, and a caller's earlier request is not held back by its later one.
/// Pure value type.
public struct FairQueue<Element: Sendable>: Sendable {
    private var queues: [String: [(id: Int, element: Element, since: ContinuousClock.Instant)]] = [:]
    /// Callers in the order they first queued; the rotation order.
    private var callers: [String] = []
    /// One past the caller served last (may equal `callers.count`, so a newly queued caller is next).
    private var cursor = 0

    /// An empty queue.
    public init() {}

    /// Whether nothing is waiting.
    public var isEmpty: Bool { queues.values.allSatisfy(\.isEmpty) }

    /// How many are waiting.
    public var count: Int { queues.values.reduce(0) { $0 + $1.count } }

    /// Queues `element` for `caller` under `id`, behind the caller's elements of requests that arrived no later than `since`.
    public mutating func enqueue(_ element: Element, id: Int, caller: String, since: ContinuousClock.Instant = .now) {
        if queues[caller] == nil {
            callers.append(caller)
        }
        let position = queues[caller, default: []].lastIndex { $0.since <= since }.map { $0 + 1 } ?? 0
        queues[caller, default: []].insert((id, element, since), at: position)
    }

    /// Takes the next element in round-robin order across callers.
    public mutating func next() -> Element? {
        guard !callers.isEmpty else { return nil }
        for step in 0..<callers.count {
            let index = (cursor + step) % callers.count
            let caller = callers[index]
            if var queue = queues[caller], !queue.isEmpty {
                let head = queue.removeFirst()
                queues[caller] = queue
                cursor = index + 1
                compact()
                return head.element
            }
        }
        return nil
    }

    /// Removes and returns the element queued under `id`, if still waiting.
    public mutating func remove(id: Int) -> Element? {
        for (caller, queue) in queues {
            if let position = queue.firstIndex(where: { $0.id == id }) {
                let removed = queues[caller]!.remove(at: position)
                compact()
                return removed.element
            }
        }
        return nil
    }

    private mutating func compact() {
        let emptied = callers.enumerated().filter { queues[$0.element]?.isEmpty ?? true }
        guard !emptied.isEmpty else { return }
        for (index, caller) in emptied.reversed() {
            queues[caller] = nil
            callers.remove(at: index)
            if index < cursor { cursor -= 1 }
        }
        if callers.isEmpty { cursor = 0 }
    }
}
