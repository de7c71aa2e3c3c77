/// A byte-bounded least-recently-used map. Pure value type, table-tested without clocks.
///
/// Every entry has a size in bytes; inserting past `capacity` evicts least recently used
/// entries first. An entry larger than the capacity is not stored. Inlinable, so that each user
/// gets code specialised to its key and value (no generic-metadata lookups on the hot path).
public struct LRUStore<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    @usableFromInline struct Node: Sendable {
        @usableFromInline var key: Key
        @usableFromInline var value: Value
        @usableFromInline var size: Int
        @usableFromInline var newer: Int?
        @usableFromInline var older: Int?

        @inlinable init(key: Key, value: Value, size: Int) {
            self.key = key
            self.value = value
            self.size = size
        }
    }

    /// The byte bound.
    public let capacity: Int
    /// Bytes held now.
    public var bytes: Int { heldBytes }
    @usableFromInline var heldBytes = 0
    /// Every node by slot; a freed slot (listed in `freeSlots`) holds nil until reused.
    @usableFromInline var nodes: [Node?] = []
    @usableFromInline var freeSlots: [Int] = []
    @usableFromInline var index: [Key: Int] = [:]
    @usableFromInline var newest: Int?
    @usableFromInline var oldest: Int?

    /// An empty store bounded to `capacity` bytes.
    public init(capacity: Int) {
        self.capacity = capacity
    }

    /// How many entries are held.
    public var count: Int { index.count }

    /// The value for `key`, marking it most recently used.
    @inlinable public mutating func get(_ key: Key) -> Value? {
        guard let slot = index[key] else { return nil }
        if slot != newest {
            unlink(slot)
            linkAsNewest(slot)
        }
        return nodes[slot]?.value
    }

    /// Stores `value` under `key` (replacing any old value), then evicts down to the capacity;
    /// answers how many other entries it evicted.
    @discardableResult @inlinable public mutating func set(_ key: Key, _ value: Value, size: Int) -> Int {
        remove(key)
        guard size <= capacity else { return 0 }
        let node = Node(key: key, value: value, size: size)
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            nodes[slot] = node
        } else {
            slot = nodes.count
            nodes.append(node)
        }
        index[key] = slot
        linkAsNewest(slot)
        heldBytes += size
        var evicted = 0
        while heldBytes > capacity, let victim = oldest, let key = nodes[victim]?.key {
            remove(key)
            evicted += 1
        }
        return evicted
    }

    /// Removes `key` if present.
    @inlinable public mutating func remove(_ key: Key) {
        guard let slot = index.removeValue(forKey: key) else { return }
        unlink(slot)
        heldBytes -= nodes[slot]?.size ?? 0
        nodes[slot] = nil
        freeSlots.append(slot)
    }

    @inlinable mutating func unlink(_ slot: Int) {
        let newer = nodes[slot]?.newer
        let older = nodes[slot]?.older
        if let newer { nodes[newer]?.older = older } else { newest = older }
        if let older { nodes[older]?.newer = newer } else { oldest = newer }
        nodes[slot]?.newer = nil
        nodes[slot]?.older = nil
    }

    @inlinable mutating func linkAsNewest(_ slot: Int) {
        nodes[slot]?.older = newest
        nodes[slot]?.newer = nil
        if let newest { nodes[newest]?.newer = slot }
        newest = slot
        if oldest == nil { oldest = slot }
    }
}
