import LockedState

/// A W3C Trace Context (`traceparent`): the caller's trace, and the gateway's own span in it.
///
/// A request's valid `traceparent` is kept (its trace id and flags; the gateway's span is new,
/// a child of the caller's); a missing or malformed one starts a new trace. The trace id goes in
/// every log line of the request; `traceparent` (the trace and the gateway's span) is answered in
/// the `traceresponse` header and sent on every upstream call the request makes.
public struct TraceContext: Sendable, Hashable {
    /// 32 lowercase hex digits, not all zero.
    public let traceID: String
    /// The gateway's span for this request: 16 lowercase hex digits.
    public let spanID: String
    /// Two hex digits (`01`: sampled).
    public let flags: String

    /// The caller's trace when `traceparent` is a valid version-00 (or later) header, else a new, sampled one.
    public init(traceparent: String?) {
        let parts = traceparent.map { $0.split(separator: "-", omittingEmptySubsequences: false).map(String.init) } ?? []
        if parts.count >= 4, Self.isHex(parts[0], count: 2), parts[0] != "ff", parts[0] != "00" || parts.count == 4,
            Self.isHex(parts[1], count: 32), parts[1] != String(repeating: "0", count: 32),
            Self.isHex(parts[2], count: 16), parts[2] != String(repeating: "0", count: 16), Self.isHex(parts[3], count: 2)
        {
            traceID = parts[1]
            flags = parts[3]
        } else {
            traceID = Self.randomHex(bytes: 16)
            flags = "01"
        }
        spanID = Self.randomHex(bytes: 8)
    }

    /// The trace and the gateway's span: the `traceparent` of the request's upstream calls (the
    /// gateway's span as their parent) and the `traceresponse` of its answer (W3C Level 2).
    public var traceparent: String { "00-\(traceID)-\(spanID)-\(flags)" }

    private static func isHex(_ text: String, count: Int) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// `bytes` random bytes (8 or 16) in lowercase hex, never all zero; no system call per request.
    private static func randomHex(bytes: Int) -> String {
        let wordCount = bytes / 8
        var words = (RandomWords.next(), wordCount == 2 ? RandomWords.next() : 0)
        if words == (0, 0) { words.0 = 1 }
        return String(unsafeUninitializedCapacity: bytes * 2) { text in
            for index in 0..<wordCount {
                let word = index == 0 ? words.0 : words.1
                for nibble in 0..<16 {
                    let value = UInt8(truncatingIfNeeded: word >> (60 - 4 * UInt64(nibble))) & 0xF
                    text[index * 16 + nibble] = value < 10 ? 0x30 + value : 0x57 + value
                }
            }
            return bytes * 2
        }
    }
}

/// 64-bit random words for trace and span ids: SplitMix64 over a process-wide state seeded once
/// from the system's generator (a `getrandom` call per id would cost the hot path a system call).
private enum RandomWords {
    private static let state = Locked(UInt64.random(in: 0...UInt64.max))

    static func next() -> UInt64 {
        var z = state.withLock { state -> UInt64 in
            state &+= 0x9E37_79B9_7F4A_7C15
            return state
        }
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
