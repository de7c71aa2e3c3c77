import DynamicJSON
import Foundation
import GatewayCore
import SwiftProtobuf

/// How a transport spells a request message in JSON.
enum JSONRequestDialect: Sendable {
    /// JSON-RPC params: the .proto (snake_case) names only, 64-bit integers as JSON numbers.
    case jsonRPC
    /// Connect's proto3 JSON mapping: lowerCamelCase or .proto names, 64-bit integers as numbers or strings.
    case protoJSON
}

/// Decodes request messages from JSON or binary protobuf, refusing anything the message does
/// not declare with a -32602 naming the field, so every transport decodes into the same
/// generated message with the same errors.
struct RequestDecoder: Sendable {
    let message: ProtoCatalog.Message
    let type: any SwiftProtobuf.Message.Type

    /// A JSON object (absent or null: every field unset) as the message.
    func decode(json: JSON?, dialect: JSONRequestDialect) throws(GatewayError) -> any SwiftProtobuf.Message {
        let members: [String: JSON]
        switch json {
        case nil, .null?: members = [:]
        case .object(let object)?: members = object
        default: throw .invalidParams(field: dialect == .jsonRPC ? "params" : "body", reason: "must be an object")
        }
        let keys = members.keys.sorted()
        // Unknown names first, whatever else is wrong: a typo is the likelier mistake.
        if let unknown = keys.first(where: { field(named: $0, dialect: dialect) == nil }) {
            let allowed = message.fields.isEmpty ? "this method takes none" : "allowed: " + message.fields.map(\.name).sorted().joined(separator: ", ")
            throw .invalidParams(field: unknown, reason: "unknown parameter (\(allowed))")
        }
        var normalized: [String: JSON] = [:]
        for key in keys {
            let field = field(named: key, dialect: dialect)!
            guard normalized[field.name] == nil else { throw .invalidParams(field: key, reason: "given twice (as \(field.name) and \(field.jsonName))") }
            let value = members[key]!
            guard !value.isNull else { continue }
            try Self.check(value, of: field, as: key, dialect: dialect)
            normalized[field.name] = value
        }
        do {
            var options = JSONDecodingOptions()
            options.ignoreUnknownFields = false
            return try type.init(jsonUTF8Bytes: JSON.object(normalized).encodedBytes(), extensions: nil, options: options)
        } catch {
            throw .invalidParams(field: "params", reason: "not a valid \(message.fullName)")
        }
    }

    /// Binary protobuf as the message; a field number the message does not declare is refused.
    func decode(binary: some Collection<UInt8>) throws(GatewayError) -> any SwiftProtobuf.Message {
        let decoded: any SwiftProtobuf.Message
        do {
            decoded = try type.init(serializedBytes: Array(binary), extensions: nil, partial: false, options: BinaryDecodingOptions())
        } catch {
            throw .invalidParams(field: "body", reason: "not a valid binary \(message.fullName)")
        }
        if let number = Self.firstFieldNumber(decoded.unknownFields.data) {
            if let declared = message.fields.first(where: { UInt64($0.number) == number }) {
                throw .invalidParams(field: declared.name, reason: "field number \(number) has the wrong wire type for \(declared.name)")
            }
            throw .invalidParams(field: "#\(number)", reason: "unknown field number \(number) in \(message.fullName)")
        }
        return decoded
    }

    private func field(named key: String, dialect: JSONRequestDialect) -> ProtoCatalog.Field? {
        message.fields.first { $0.name == key || (dialect == .protoJSON && $0.jsonName == key) }
    }

    /// Checks a value's JSON kind against the field's declared type.
    private static func check(_ value: JSON, of field: ProtoCatalog.Field, as key: String, dialect: JSONRequestDialect) throws(GatewayError) {
        if field.isRepeated {
            guard case .array(let elements) = value else { throw .invalidParams(field: key, reason: "must be a list of \(kindName(field))s") }
            for element in elements where !fits(element, field.type, dialect: dialect) {
                throw .invalidParams(field: key, reason: "every element must be \(oneValue(of: field))")
            }
        } else if !fits(value, field.type, dialect: dialect) {
            throw .invalidParams(field: key, reason: "must be \(oneValue(of: field))")
        }
    }

    private static func fits(_ value: JSON, _ type: Google_Protobuf_FieldDescriptorProto.TypeEnum, dialect: JSONRequestDialect) -> Bool {
        switch (type, value) {
        case (.string, .string), (.bool, .bool), (.message, .object): return true
        case (.int64, .int), (.sint64, .int), (.sfixed64, .int): return true
        case (.int32, .int(let number)), (.sint32, .int(let number)), (.sfixed32, .int(let number)): return Int32(exactly: number) != nil
        case (.uint32, .int(let number)), (.fixed32, .int(let number)): return UInt32(exactly: number) != nil
        case (.uint64, .int(let number)), (.fixed64, .int(let number)): return number >= 0
        case (.int64, .string(let text)), (.sint64, .string(let text)), (.sfixed64, .string(let text)):
            return dialect == .protoJSON && isDecimal(text, signed: true) && Int64(text) != nil
        case (.uint64, .string(let text)), (.fixed64, .string(let text)):
            return dialect == .protoJSON && isDecimal(text, signed: false) && UInt64(text) != nil
        case (.double, .int), (.double, .double), (.float, .int), (.float, .double): return true
        case (.enum, .string), (.enum, .int): return true
        default: return false
        }
    }

    /// An integer as proto3 JSON writes one in a string: digits without a leading zero or plus sign (`-` when signed).
    private static func isDecimal(_ text: String, signed: Bool) -> Bool {
        let digits = signed && text.hasPrefix("-") ? text.utf8.dropFirst() : text.utf8[...]
        guard let first = digits.first, digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return false }
        return first != 0x30 || digits.count == 1
    }

    /// "a string", "an integer", "true or false": one value the field takes, for error reasons.
    private static func oneValue(of field: ProtoCatalog.Field) -> String {
        guard field.type != .bool else { return "true or false" }
        let kind = kindName(field)
        return (kind.first.map { "aeiou".contains($0) } == true ? "an " : "a ") + kind
    }

    private static func kindName(_ field: ProtoCatalog.Field) -> String {
        switch field.type {
        case .string: return "string"
        case .bool: return "boolean"
        case .int32, .int64, .uint32, .uint64, .sint32, .sint64, .fixed32, .fixed64, .sfixed32, .sfixed64: return "integer"
        case .double, .float: return "number"
        case .enum: return "enum name"
        default: return "object"
        }
    }

    /// The field number of the first field in protobuf-encoded bytes (its tag varint), if any.
    static func firstFieldNumber(_ bytes: Data) -> UInt64? {
        var tag: UInt64 = 0
        var shift: UInt64 = 0
        for byte in bytes.prefix(10) {
            tag |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return tag >> 3 }
            shift += 7
        }
        return nil
    }
}
