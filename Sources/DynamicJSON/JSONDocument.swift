/// A JSON value already written as bytes: what caches keep, so a hit is spliced into an answer
/// instead of being encoded again.
public struct EncodedJSON: Sendable, Hashable {
    /// The JSON text.
    public let bytes: [UInt8]

    /// Writes `value` (see `JSONWriter`).
    public init(_ value: JSON) {
        bytes = value.encodedBytes()
    }

    /// Wraps bytes known to be one JSON value (written by `JSONWriter`).
    public init(writtenBytes bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The value, read back.
    public func decoded() throws(JSONParseError) -> JSON {
        try JSON.parse(bytes)
    }
}

/// An answer to write: JSON values, and parts already encoded (cache hits) spliced in as they are.
public indirect enum JSONDocument: Sendable {
    /// A value to encode.
    case value(JSON)
    /// A value already encoded.
    case encoded(EncodedJSON)
    /// An object whose members are documents (written in the writer's member order).
    case object([String: JSONDocument])
    /// An array of documents.
    case array([JSONDocument])

    /// The document as bytes.
    public func encodedBytes() -> [UInt8] {
        var writer = JSONWriter(capacity: 4_096)
        writer.write(self)
        return writer.bytes
    }
}

extension JSONWriter {
    /// Appends a document, splicing its encoded parts.
    public mutating func write(_ document: JSONDocument) {
        switch document {
        case .value(let value): write(value)
        case .encoded(let encoded): writeRaw(encoded.bytes)
        case .object(let members):
            writeRaw("{")
            for (index, name) in members.keys.sorted(by: Self.precedes).enumerated() {
                if index > 0 { writeRaw(",") }
                write(name)
                writeRaw(":")
                write(members[name]!)
            }
            writeRaw("}")
        case .array(let elements):
            writeRaw("[")
            for (index, element) in elements.enumerated() {
                if index > 0 { writeRaw(",") }
                write(element)
            }
            writeRaw("]")
        }
    }
}
