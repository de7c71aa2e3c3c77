/// Writes JSON text as bytes: object members in UTF-8 byte order of their names (so equal values
/// give equal bytes), strings with only the escapes JSON requires (`"`, `\`, control characters),
/// `/` unescaped, integers exact, doubles in their shortest round-trip form (`20` for 20.0),
/// and non-finite doubles (which JSON cannot carry) as `0`.
public struct JSONWriter {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends a value.
    public mutating func write(_ value: JSON) {
        switch value {
        case .null: writeRaw("null")
        case .bool(let flag): writeRaw(flag ? "true" : "false")
        case .int(let integer): write(integer)
        case .double(let number): write(number)
        case .string(let text): write(text)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                write(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (index, name) in members.keys.sorted(by: Self.precedes).enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                write(name)
                bytes.append(UInt8(ascii: ":"))
                write(members[name]!)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// The order of object members: UTF-8 byte order of the names.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// Appends bytes that are already JSON text (a cached encoded value).
    public mutating func writeRaw(_ json: some Sequence<UInt8>) {
        bytes.append(contentsOf: json)
    }

    /// Appends ASCII text as is (punctuation, literals).
    public mutating func writeRaw(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends an integer.
    public mutating func write(_ integer: Int) {
        // Up to 20 characters: a small string, no allocation.
        bytes.append(contentsOf: String(integer).utf8)
    }

    /// Appends a double: its shortest round-trip form, without a trailing `.0`; non-finite as `0`.
    public mutating func write(_ number: Double) {
        guard number.isFinite else {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var text = number.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    /// Appends a string in quotes with JSON's required escapes.
    public mutating func write(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): writeRaw("\\\"")
            case UInt8(ascii: "\\"): writeRaw("\\\\")
            case 0x08: writeRaw("\\b")
            case 0x0C: writeRaw("\\f")
            case 0x0A: writeRaw("\\n")
            case 0x0D: writeRaw("\\r")
            case 0x09: writeRaw("\\t")
            case 0..<0x20:
                writeRaw("\\u00")
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0x0F)])
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
