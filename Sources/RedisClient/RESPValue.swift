import NIOCore

/// One RESP2 value, as Redis answers it.
public enum RESPValue: Sendable, Hashable {
    /// `+OK`
    case simpleString(String)
    /// `-ERR …`: the server refused the command.
    case error(String)
    /// `:42`
    case integer(Int64)
    /// `$3 foo`; nil is the null bulk string (`$-1`, a missing key).
    case bulkString(ByteBuffer?)
    /// `*2 …`; nil is the null array (`*-1`).
    case array([RESPValue]?)

    /// The text of a simple or bulk string (bulk bytes read as UTF-8).
    public var string: String? {
        switch self {
        case .simpleString(let text): return text
        case .bulkString(let bytes?): return String(buffer: bytes)
        default: return nil
        }
    }

    /// The value of an integer reply.
    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The elements of a non-null array reply.
    public var array: [RESPValue]? {
        if case .array(let elements?) = self { return elements }
        return nil
    }

    /// The bytes of a non-null bulk string.
    public var bytes: ByteBuffer? {
        if case .bulkString(let bytes?) = self { return bytes }
        return nil
    }

    /// True for the null bulk string and the null array.
    public var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): return true
        default: return false
        }
    }
}
