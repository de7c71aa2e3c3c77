/// Deterministic hashing for synthetic data: the same inputs give the same number in every process.
enum StableHash {
    /// SplitMix64's finaliser: a well-mixed 64-bit value from any 64-bit input.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Combines several values into one well-mixed value.
    static func combine(_ values: UInt64...) -> UInt64 {
        values.reduce(0x243F_6A88_85A3_08D3) { mix($0 ^ $1) }
    }

    /// FNV-1a of a string, for mixing names into hashes.
    static func of(_ text: String) -> UInt64 {
        text.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }
}

/// A seeded SplitMix64 generator for fault injection: reproducible for a given seed and call order.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return StableHash.mix(state)
    }
}
