import NIOCore
import RedisClient
import Testing

private func buffer(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

private func bulk(_ text: String) -> RESPValue { .bulkString(ByteBuffer(string: text)) }

/// The RESP2 reader: whole frames only, partial frames consume nothing, hostile frames are errors.
@Suite struct RESPReaderTests {

    @Test(arguments: [
        ("+OK\r\n", RESPValue.simpleString("OK")),
        ("-ERR unknown command\r\n", .error("ERR unknown command")),
        (":-42\r\n", .integer(-42)),
        ("$5\r\nhello\r\n", bulk("hello")),
        ("$0\r\n\r\n", bulk("")),
        ("$-1\r\n", .bulkString(nil)),
        ("*-1\r\n", .array(nil)),
        ("*0\r\n", .array([])),
        ("$4\r\na\r\nb\r\n", bulk("a\r\nb")),
        ("*2\r\n*2\r\n:1\r\n$-1\r\n*1\r\n+x\r\n", .array([.array([.integer(1), .bulkString(nil)]), .array([.simpleString("x")])])),
    ])
    func readsEachReplyType(text: String, expected: RESPValue) throws {
        var reader = RESPReader()
        var input = buffer(text)
        #expect(try reader.read(from: &input) == expected)
        #expect(input.readableBytes == 0)
    }

    @Test func aPartialFrameConsumesNothingAtEverySplitPoint() throws {
        let whole = "*3\r\n$3\r\nfoo\r\n:7\r\n*2\r\n$-1\r\n+bar\r\n"
        let bytes = Array(whole.utf8)
        for split in 0..<bytes.count {
            var reader = RESPReader()
            var input = ByteBuffer(bytes: bytes[..<split])
            #expect(try reader.read(from: &input) == nil, "split at \(split)")
            #expect(input.readableBytes == split)
            input.writeBytes(bytes[split...])
            #expect(try reader.read(from: &input) == .array([bulk("foo"), .integer(7), .array([.bulkString(nil), .simpleString("bar")])]))
        }
    }

    @Test func resumesAPartialReplyWhereItStoppedAsBytesTrickleIn() throws {
        // Each read resumes the reply (arrays open, the line scanned so far) instead of parsing it again.
        let elements = (0..<2_000).map { RESPValue.array([.integer(Int64($0)), bulk("v\($0)")]) } + [.simpleString(String(repeating: "s", count: 5_000))]
        var frame = "*\(elements.count)\r\n"
        for index in 0..<2_000 { frame += "*2\r\n:\(index)\r\n$\(String(index).count + 1)\r\nv\(index)\r\n" }
        frame += "+" + String(repeating: "s", count: 5_000) + "\r\n:9\r\n"
        let bytes = Array(frame.utf8)
        var reader = RESPReader()
        var input = ByteBuffer()
        var value: RESPValue?
        var sent = 0
        while value == nil, sent < bytes.count {
            input.writeInteger(bytes[sent])
            sent += 1
            value = try reader.read(from: &input)
            if sent % 4_096 == 0 { input.discardReadBytes() }
        }
        #expect(value == .array(elements))
        input.writeBytes(bytes[sent...])
        #expect(try reader.read(from: &input) == .integer(9), "the next reply starts afresh")
    }

    @Test func readsPipelinedRepliesOneAtATime() throws {
        var reader = RESPReader()
        var input = buffer("+OK\r\n:1\r\n$1\r\nx\r\n")
        #expect(try reader.read(from: &input) == .simpleString("OK"))
        #expect(try reader.read(from: &input) == .integer(1))
        #expect(try reader.read(from: &input) == bulk("x"))
        #expect(try reader.read(from: &input) == nil)
    }

    @Test func readsALargeBulkStringArrivingInPieces() throws {
        var reader = RESPReader()
        let payload = String(repeating: "abcdefgh", count: 256 * 1024)  // 2 MiB
        let frame = Array("$\(payload.utf8.count)\r\n\(payload)\r\n".utf8)
        var input = ByteBuffer()
        var value: RESPValue?
        for start in stride(from: 0, to: frame.count, by: 65_536) {
            input.writeBytes(frame[start..<min(start + 65_536, frame.count)])
            value = try reader.read(from: &input)
            if start + 65_536 < frame.count { #expect(value == nil) }
        }
        #expect(value?.bytes?.readableBytes == payload.utf8.count)
        #expect(value?.string == payload)
    }

    @Test(arguments: [
        "?x\r\n", ":12a\r\n", "$-2\r\n", "$3\r\nabcd\r\n", "*-5\r\n", "$99999999999999999999\r\n", ":\r\n",
    ])
    func refusesFramesRedisCannotHaveSent(text: String) {
        var reader = RESPReader()
        var input = buffer(text)
        #expect(throws: RESPProtocolError.self) { try reader.read(from: &input) }
    }

    @Test func refusesOverLimitSizesAndNestingBeforeReadingThem() throws {
        var small = RESPReader(maxBulkLength: 10, maxDepth: 3, maxArrayLength: 4)
        var reader = RESPReader()
        var long = buffer("$11\r\n")
        #expect(throws: RESPProtocolError.self) { try small.read(from: &long) }
        var wide = buffer("*5\r\n")
        #expect(throws: RESPProtocolError.self) { try small.read(from: &wide) }
        var deep = buffer("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n")
        #expect(throws: RESPProtocolError.self) { try small.read(from: &deep) }
        var deepest = buffer(String(repeating: "*1\r\n", count: 100_000))
        #expect(throws: RESPProtocolError.self) { try reader.read(from: &deepest) }
        var endless = buffer("+" + String(repeating: "x", count: 70_000))
        #expect(throws: RESPProtocolError.self, "a line that never ends is refused, not buffered forever") { try reader.read(from: &endless) }
        var bareCR = buffer("+OK\rX\n")
        #expect(throws: RESPProtocolError.self) { try reader.read(from: &bareCR) }
        // Many values each within the bulk limit, together over the reply's: refused while they arrive.
        var bounded = RESPReader(maxBulkLength: 10, maxReplyBytes: 64)
        var many = buffer("*100\r\n" + String(repeating: "$10\r\n0123456789\r\n", count: 3))
        #expect(try bounded.read(from: &many) == nil, "within the reply's limit so far")
        many.writeString(String(repeating: "$10\r\n0123456789\r\n", count: 3))
        #expect(throws: RESPProtocolError.self) { try bounded.read(from: &many) }
        var fits = RESPReader(maxBulkLength: 10, maxReplyBytes: 64)
        var two = buffer("*2\r\n$10\r\n0123456789\r\n$10\r\n0123456789\r\n")
        #expect(try fits.read(from: &two)?.array?.count == 2)
    }

    @Test func writesCommandsAsArraysOfBulkStrings() throws {
        var output = ByteBuffer()
        RESPWriter.write(["SET", "k", .bytes(ByteBuffer(string: "a\r\nb")), .int(1500)], into: &output)
        #expect(String(buffer: output) == "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n$4\r\n1500\r\n")
        var roundTrip = output
        var reader = RESPReader()
        #expect(
            try reader.read(from: &roundTrip) == .array([bulk("SET"), bulk("k"), bulk("a\r\nb"), bulk("1500")]),
            "a command is itself a RESP array")
    }
}
