/// Why bytes are not one JSON value (RFC 8259), and where: the byte offset of the first problem.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Offset of the offending byte from the start of the input.
    public let offset: Int
    /// What is wrong, in plain words.
    public let reason: String

    /// Creates an error at `offset`.
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    /// `reason at byte N`.
    public var description: String { "\(reason) at byte \(offset)" }
}

extension JSON {
    /// The deepest nesting of arrays and objects `parse` accepts by default.
    public static let defaultMaxDepth = 128
}

/// A strict RFC 8259 reader over bytes: one value, optional whitespace around it, nothing else.
///
/// The value's type is chosen from its first byte. A number without fraction or exponent is an
/// exact `Int` when it fits 64 bits; any other number is a `Double`, kept as an `Int` when it is
/// integral and exactly representable (so `100.0` counts like `100`); a number too large for a
/// `Double` is refused. Strings must be valid UTF-8 without raw control characters; `\u` escapes
/// must pair surrogates. Nesting deeper than `maxDepth` is refused, never a stack overflow.
struct JSONReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private let maxDepth: Int
    private var position = 0
    private var depth = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Reads the whole input as one value.
    mutating func readDocument() throws(JSONParseError) -> JSON {
        skipWhitespace()
        let value = try readValue()
        skipWhitespace()
        guard position == bytes.count else { throw fail("unexpected bytes after the value") }
        return value
    }

    private func fail(_ reason: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? position, reason: reason)
    }

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func readValue() throws(JSONParseError) -> JSON {
        guard let byte = current else { throw fail("expected a value, found the end of the input") }
        switch byte {
        case UInt8(ascii: "{"): return try readObject()
        case UInt8(ascii: "["): return try readArray()
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"): return try readLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try readLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try readLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try readNumber()
        default: throw fail("expected a value")
        }
    }

    private mutating func readLiteral(_ word: StaticString, _ value: JSON) throws(JSONParseError) -> JSON {
        let start = position
        for index in 0..<word.utf8CodeUnitCount {
            guard current == word.utf8Start[index] else { throw fail("expected \(word)", at: start) }
            position += 1
        }
        return value
    }

    private mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > maxDepth { throw fail("nesting deeper than \(maxDepth) levels") }
    }

    private mutating func readArray() throws(JSONParseError) -> JSON {
        try enter()
        position += 1
        var elements: [JSON] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try readValue())
            skipWhitespace()
            switch current {
            case UInt8(ascii: ",")?: position += 1
            case UInt8(ascii: "]")?:
                position += 1
                depth -= 1
                return .array(elements)
            default: throw fail("expected , or ] in an array")
            }
        }
    }

    private mutating func readObject() throws(JSONParseError) -> JSON {
        try enter()
        position += 1
        var members: [String: JSON] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw fail("expected a member name in quotes") }
            let name = try readString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw fail("expected : after a member name") }
            position += 1
            skipWhitespace()
            members[name] = try readValue()
            skipWhitespace()
            switch current {
            case UInt8(ascii: ",")?: position += 1
            case UInt8(ascii: "}")?:
                position += 1
                depth -= 1
                return .object(members)
            default: throw fail("expected , or } in an object")
            }
        }
    }

    // MARK: Strings

    private mutating func readString() throws(JSONParseError) -> String {
        position += 1
        let start = position
        // Fast path: no escapes until the closing quote.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let text = try validated(UnsafeBufferPointer(rebasing: bytes[start..<position]), at: start)
                position += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw fail("a control character in a string must be escaped") }
            position += 1
        }
        var scratch = Array(bytes[start..<position])
        while true {
            guard let byte = current else { throw fail("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                let text = try scratch.withUnsafeBufferPointer { buffer throws(JSONParseError) in try validated(buffer, at: start) }
                position += 1
                return text
            case UInt8(ascii: "\\"):
                try readEscape(into: &scratch)
            case 0..<0x20:
                throw fail("a control character in a string must be escaped")
            default:
                scratch.append(byte)
                position += 1
            }
        }
    }

    private func validated(_ buffer: UnsafeBufferPointer<UInt8>, at offset: Int) throws(JSONParseError) -> String {
        guard let text = String(validating: buffer, as: UTF8.self) else { throw fail("a string is not valid UTF-8", at: offset) }
        return text
    }

    private mutating func readEscape(into scratch: inout [UInt8]) throws(JSONParseError) {
        let start = position
        position += 1
        guard let byte = current else { throw fail("unterminated escape") }
        position += 1
        switch byte {
        case UInt8(ascii: "\""): scratch.append(0x22)
        case UInt8(ascii: "\\"): scratch.append(0x5C)
        case UInt8(ascii: "/"): scratch.append(0x2F)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try readHex4())
            if (0xD800...0xDBFF).contains(scalar) {
                guard current == UInt8(ascii: "\\"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u") else {
                    throw fail("a high surrogate without its low surrogate", at: start)
                }
                position += 2
                let low = UInt32(try readHex4())
                guard (0xDC00...0xDFFF).contains(low) else { throw fail("a high surrogate without its low surrogate", at: start) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw fail("a lone low surrogate", at: start)
            }
            scratch.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
        default:
            throw fail("an unknown escape", at: start)
        }
    }

    private mutating func readHex4() throws(JSONParseError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let byte = current else { throw fail("a \\u escape needs four hex digits") }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("a \\u escape needs four hex digits")
            }
            value = value << 4 | UInt16(digit)
            position += 1
        }
        return value
    }

    // MARK: Numbers

    private mutating func readNumber() throws(JSONParseError) -> JSON {
        let start = position
        let negative = current == UInt8(ascii: "-")
        if negative { position += 1 }
        guard let first = current, isDigit(first) else { throw fail("expected a digit") }
        if first == UInt8(ascii: "0") {
            position += 1
            if let next = current, isDigit(next) { throw fail("a number must not have a leading zero", at: start) }
        } else {
            skipDigits()
        }
        var integral = true
        if current == UInt8(ascii: ".") {
            integral = false
            position += 1
            guard let digit = current, isDigit(digit) else { throw fail("expected a digit after the decimal point") }
            skipDigits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            integral = false
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard let digit = current, isDigit(digit) else { throw fail("expected a digit in the exponent") }
            skipDigits()
        }
        let token = UnsafeBufferPointer(rebasing: bytes[start..<position])
        if integral, let exact = Self.exactInteger(token, negative: negative) { return .int(exact) }
        guard let number = Double(String(decoding: token, as: UTF8.self)), number.isFinite else {
            throw fail("a number too large to represent", at: start)
        }
        if number.rounded() == number, abs(number) < 9_007_199_254_740_992 { return .int(Int(number)) }
        return .double(number)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private mutating func skipDigits() {
        while let byte = current, isDigit(byte) { position += 1 }
    }

    /// The token's value when it is an integer within 64 bits.
    private static func exactInteger(_ token: UnsafeBufferPointer<UInt8>, negative: Bool) -> Int? {
        var value = 0
        for byte in token.dropFirst(negative ? 1 : 0) {
            let digit = Int(byte - UInt8(ascii: "0"))
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowAgain) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            if overflow || overflowAgain { return nil }
            value = next
        }
        return value
    }
}
