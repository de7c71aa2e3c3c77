/// A byte-bounded least-recently-used map. Pure value type, table-tested without clocks.
///
/// Every entry has a size in bytes; inserting past `capacity` evicts least recently used
/// entries first. An entry larger than the capacity is not stored.
public struct LRUStore<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Node: Sendable {
        var key: Key
        var value: Value
        var size: Int
        var newer: Int?
        var older: Int?
    }

    /// The byte bound.
    public let capacity: Int
    /// Bytes held now.
    public private(set) var bytes = 0
    private var nodes: [Int: Node] = [:]
    private var index: [Key: Int] = [:]
    private var newest: Int?
    private var oldest: Int?
    private var nextSlot = 0

    /// An empty store bounded to `capacity` bytes.
    public init(capacity: Int) {
        self.capacity = capacity
    }

    /// How many entries are held.
    public var count: Int { index.count }

    /// The value for `key`, marking it most recently used.
    public mutating func get(_ key: Key) -> Value? {
        guard let slot = index[key] else { return nil }
        unlink(slot)
        linkAsNewest(slot)
        return nodes[slot]?.value
    }

    /// Stores `value` under `key` (replacing any old value), then evicts down to the capacity.
    public mutating func set(_ key: Key, _ value: Value, size: Int) {
        remove(key)
        guard size <= capacity else { return }
        let slot = nextSlot
        nextSlot += 1
        nodes[slot] = Node(key: key, value: value, size: size)
        index[key] = slot
        linkAsNewest(slot)
        bytes += size
        while bytes > capacity, let victim = oldest {
            remove(nodes[victim]!.key)
        }
    }

    /// Removes `key` if present.
    public mutating func remove(_ key: Key) {
        guard let slot = index.removeValue(forKey: key) else { return }
        unlink(slot)
        bytes -= nodes.removeValue(forKey: slot)?.size ?? 0
    }

    private mutating func unlink(_ slot: Int) {
        guard let node = nodes[slot] else { return }
        if let newer = node.newer { nodes[newer]?.older = node.older } else { newest = node.older }
        if let older = node.older { nodes[older]?.newer = node.newer } else { oldest = node.newer }
        nodes[slot]?.newer = nil
        nodes[slot]?.older = nil
    }

    private mutating func linkAsNewest(_ slot: Int) {
        nodes[slot]?.older = newest
        nodes[slot]?.newer = nil
        if let newest { nodes[newest]?.newer = slot }
        newest = slot
        if oldest == nil { oldest = slot }
    }
}
