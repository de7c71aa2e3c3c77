import NIOCore

/// A reply Redis cannot have sent: the connection is out of step and must be closed.
public struct RESPProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong, and at which byte of the frame.
    public let description: String
}

/// Reads RESP2 replies from bytes as they arrive: a whole frame, or nothing (and no bytes
/// consumed) while the frame is still partial.
public struct RESPReader: Sendable {
    /// Largest bulk string accepted (Redis' own `proto-max-bulk-len` default is 512 MiB).
    public var maxBulkLength: Int
    /// Deepest nesting of arrays accepted.
    public var maxDepth: Int
    /// Most elements of one array.
    public var maxArrayLength: Int
    /// Longest line (a simple string, an error, a number) before its CRLF.
    public var maxLineLength: Int

    /// A reader with the given limits.
    public init(maxBulkLength: Int = 512 << 20, maxDepth: Int = 32, maxArrayLength: Int = 1 << 20, maxLineLength: Int = 64 << 10) {
        self.maxBulkLength = maxBulkLength
        self.maxDepth = maxDepth
        self.maxArrayLength = maxArrayLength
        self.maxLineLength = maxLineLength
    }

    /// The next whole reply in `buffer` (consumed), or nil when it has not fully arrived (nothing consumed).
    public func read(from buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPValue? {
        var cursor = buffer.readerIndex
        guard let value = try value(in: buffer, at: &cursor, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: cursor)
        return value
    }

    private func value(in buffer: ByteBuffer, at cursor: inout Int, depth: Int) throws(RESPProtocolError) -> RESPValue? {
        guard let type = buffer.getInteger(at: cursor, as: UInt8.self) else { return nil }
        let start = cursor
        guard let line = try self.line(in: buffer, from: cursor + 1) else { return nil }
        let text = buffer.getString(at: line.start, length: line.length) ?? ""
        cursor = line.next
        switch type {
        case UInt8(ascii: "+"):
            return .simpleString(text)
        case UInt8(ascii: "-"):
            return .error(text)
        case UInt8(ascii: ":"):
            guard let number = Int64(text) else { throw RESPProtocolError(description: "an integer reply that is not a number at byte \(start)") }
            return .integer(number)
        case UInt8(ascii: "$"):
            guard let length = Int(text), length >= -1 else { throw RESPProtocolError(description: "a bad bulk length at byte \(start)") }
            guard length != -1 else { return .bulkString(nil) }
            guard length <= maxBulkLength else { throw RESPProtocolError(description: "a bulk string of \(length) bytes, over the limit") }
            guard buffer.writerIndex - cursor >= length + 2 else { return nil }
            guard buffer.getInteger(at: cursor + length, as: UInt16.self) == 0x0D0A else {
                throw RESPProtocolError(description: "a bulk string not ended by CRLF at byte \(cursor + length)")
            }
            let bytes = buffer.getSlice(at: cursor, length: length)
            cursor += length + 2
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            guard let count = Int(text), count >= -1 else { throw RESPProtocolError(description: "a bad array length at byte \(start)") }
            guard count != -1 else { return .array(nil) }
            guard count <= maxArrayLength else { throw RESPProtocolError(description: "an array of \(count) elements, over the limit") }
            guard depth < maxDepth else { throw RESPProtocolError(description: "arrays nested deeper than \(maxDepth)") }
            var elements: [RESPValue] = []
            elements.reserveCapacity(min(count, 1024))
            for _ in 0..<count {
                guard let element = try value(in: buffer, at: &cursor, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw RESPProtocolError(description: "an unknown reply type byte \(type) at byte \(start)")
        }
    }

    /// The line starting at `start` up to its CR (LF must follow): where it starts, its length,
    /// where the next begins; nil while it has not fully arrived; an error past `maxLineLength`.
    private func line(in buffer: ByteBuffer, from start: Int) throws(RESPProtocolError) -> (start: Int, length: Int, next: Int)? {
        let view = buffer.readableBytesView
        let offset = start - buffer.readerIndex
        guard offset <= view.count else { return nil }
        var index = view.startIndex + offset
        while index < view.endIndex {
            if view[index] == 0x0D {
                guard index + 1 < view.endIndex else { return nil }
                guard view[index + 1] == 0x0A else { throw RESPProtocolError(description: "a line not ended by CRLF at byte \(start)") }
                let length = index - view.startIndex - offset
                return (start, length, start + length + 2)
            }
            guard index - view.startIndex - offset < maxLineLength else {
                throw RESPProtocolError(description: "a line longer than \(maxLineLength) bytes at byte \(start)")
            }
            index += 1
        }
        return nil
    }
}

/// Writes commands as RESP2 arrays of bulk strings (how clients send commands).
public enum RESPWriter {
    /// Appends one command, e.g. `["SET", "key", "value", "PX", "1000"]`.
    public static func write(_ command: [RESPArgument], into buffer: inout ByteBuffer) {
        buffer.writeString("*\(command.count)\r\n")
        for argument in command {
            switch argument {
            case .string(let text):
                buffer.writeString("$\(text.utf8.count)\r\n")
                buffer.writeString(text)
            case .bytes(let bytes):
                buffer.writeString("$\(bytes.readableBytes)\r\n")
                buffer.writeImmutableBuffer(bytes)
            }
            buffer.writeStaticString("\r\n")
        }
    }
}

/// One argument of a command: text or raw bytes.
public enum RESPArgument: Sendable, Hashable, ExpressibleByStringLiteral {
    case string(String)
    case bytes(ByteBuffer)

    /// A text argument.
    public init(stringLiteral value: String) { self = .string(value) }

    /// A whole number, written in decimal.
    public static func int(_ value: some BinaryInteger) -> RESPArgument { .string(String(value)) }
}
