import NIOCore

/// A reply Redis cannot have sent: the connection is out of step and must be closed.
public struct RESPProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong, and at which byte of the frame.
    public let description: String
}

/// Reads RESP2 replies from bytes as they arrive: a whole reply, or nothing (no bytes consumed)
/// while it is still partial. A partial reply's progress is kept, so that the next call resumes
/// where this one stopped instead of parsing the reply again from its start: give it the same
/// bytes with more appended (read bytes may be discarded meanwhile).
public struct RESPReader: Sendable {
    /// Largest bulk string accepted (Redis' own `proto-max-bulk-len` default is 512 MiB).
    public var maxBulkLength: Int
    /// Deepest nesting of arrays accepted.
    public var maxDepth: Int
    /// Most elements of one array.
    public var maxArrayLength: Int
    /// Longest line (a simple string, an error, a number) before its CRLF.
    public var maxLineLength: Int
    /// Most bytes of one whole reply (an array's elements together).
    public var maxReplyBytes: Int

    /// A reply read in part: where reading resumes (bytes after the reader index), the arrays
    /// still open (innermost last), and how much of the current line is known to have no CR.
    private struct Progress: Sendable {
        var offset = 0
        var open: [(count: Int, elements: [RESPValue])] = []
        var lineScanned = 0
    }

    private enum Item {
        case value(RESPValue)
        case arrayHeader(Int)
    }

    private var progress: Progress?

    /// A reader with the given limits.
    public init(
        maxBulkLength: Int = 512 << 20, maxDepth: Int = 32, maxArrayLength: Int = 1 << 20, maxLineLength: Int = 64 << 10,
        maxReplyBytes: Int = 1 << 30
    ) {
        self.maxBulkLength = maxBulkLength
        self.maxReplyBytes = maxReplyBytes
        self.maxDepth = maxDepth
        self.maxArrayLength = maxArrayLength
        self.maxLineLength = maxLineLength
    }

    /// The next whole reply in `buffer` (consumed), or nil when it has not fully arrived (nothing consumed).
    public mutating func read(from buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPValue? {
        var state = progress ?? Progress()
        progress = nil
        var cursor = buffer.readerIndex + state.offset
        while true {
            guard let (item, next) = try item(in: buffer, at: cursor, scanned: &state.lineScanned, depth: state.open.count) else {
                // Every byte still unread belongs to this reply, as it has not ended.
                guard buffer.readableBytes <= maxReplyBytes else {
                    throw RESPProtocolError(description: "a reply of more than \(maxReplyBytes) bytes, over the limit")
                }
                state.offset = cursor - buffer.readerIndex
                progress = state
                return nil
            }
            cursor = next
            guard cursor - buffer.readerIndex <= maxReplyBytes else {
                throw RESPProtocolError(description: "a reply of more than \(maxReplyBytes) bytes, over the limit")
            }
            state.lineScanned = 0
            var value: RESPValue
            switch item {
            case .value(let scalar):
                value = scalar
            case .arrayHeader(let count):
                guard count == 0 else {
                    state.open.append((count, []))
                    state.open[state.open.count - 1].elements.reserveCapacity(min(count, 1024))
                    continue
                }
                value = .array([])
            }
            var complete = true
            while let last = state.open.indices.last {
                state.open[last].elements.append(value)
                guard state.open[last].elements.count == state.open[last].count else {
                    complete = false
                    break
                }
                value = .array(state.open.removeLast().elements)
            }
            if complete {
                buffer.moveReaderIndex(to: cursor)
                return value
            }
        }
    }

    /// One scalar, or an array's header, at `cursor`, and where the next begins; nil while it has
    /// not fully arrived.
    private func item(in buffer: ByteBuffer, at cursor: Int, scanned: inout Int, depth: Int) throws(RESPProtocolError) -> (Item, Int)? {
        guard let type = buffer.getInteger(at: cursor, as: UInt8.self) else { return nil }
        guard let line = try self.line(in: buffer, from: cursor + 1, scanned: &scanned) else { return nil }
        let text = buffer.getString(at: line.start, length: line.length) ?? ""
        switch type {
        case UInt8(ascii: "+"):
            return (.value(.simpleString(text)), line.next)
        case UInt8(ascii: "-"):
            return (.value(.error(text)), line.next)
        case UInt8(ascii: ":"):
            guard let number = Int64(text) else { throw RESPProtocolError(description: "an integer reply that is not a number at byte \(cursor)") }
            return (.value(.integer(number)), line.next)
        case UInt8(ascii: "$"):
            guard let length = Int(text), length >= -1 else { throw RESPProtocolError(description: "a bad bulk length at byte \(cursor)") }
            guard length != -1 else { return (.value(.bulkString(nil)), line.next) }
            guard length <= maxBulkLength else { throw RESPProtocolError(description: "a bulk string of \(length) bytes, over the limit") }
            guard buffer.writerIndex - line.next >= length + 2 else { return nil }
            guard buffer.getInteger(at: line.next + length, as: UInt16.self) == 0x0D0A else {
                throw RESPProtocolError(description: "a bulk string not ended by CRLF at byte \(line.next + length)")
            }
            return (.value(.bulkString(buffer.getSlice(at: line.next, length: length))), line.next + length + 2)
        case UInt8(ascii: "*"):
            guard let count = Int(text), count >= -1 else { throw RESPProtocolError(description: "a bad array length at byte \(cursor)") }
            guard count != -1 else { return (.value(.array(nil)), line.next) }
            guard count <= maxArrayLength else { throw RESPProtocolError(description: "an array of \(count) elements, over the limit") }
            guard count == 0 || depth < maxDepth else { throw RESPProtocolError(description: "arrays nested deeper than \(maxDepth)") }
            return (.arrayHeader(count), line.next)
        default:
            throw RESPProtocolError(description: "an unknown reply type byte \(type) at byte \(cursor)")
        }
    }

    /// The line starting at `start` up to its CR (LF must follow): where it starts, its length,
    /// where the next begins; nil while it has not fully arrived (`scanned` then says how much of
    /// it has no CR, so that the next look starts there); an error past `maxLineLength`.
    private func line(in buffer: ByteBuffer, from start: Int, scanned: inout Int) throws(RESPProtocolError) -> (start: Int, length: Int, next: Int)? {
        let view = buffer.readableBytesView
        let offset = start - buffer.readerIndex
        guard offset <= view.count else { return nil }
        var index = view.startIndex + offset + scanned
        while index < view.endIndex {
            if view[index] == 0x0D {
                guard index + 1 < view.endIndex else { break }
                guard view[index + 1] == 0x0A else { throw RESPProtocolError(description: "a line not ended by CRLF at byte \(start)") }
                let length = index - view.startIndex - offset
                return (start, length, start + length + 2)
            }
            guard index - view.startIndex - offset < maxLineLength else {
                throw RESPProtocolError(description: "a line longer than \(maxLineLength) bytes at byte \(start)")
            }
            index += 1
        }
        scanned = index - view.startIndex - offset
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
