import DynamicJSON
import Foundation
import Testing

/// The byte-level reader and writer against Foundation on a corpus in the spirit of JSONTestSuite:
/// every document Foundation and RFC 8259 accept reads the same; every one RFC 8259 refuses is
/// refused with its byte offset; and the writer's bytes are what Foundation's encoder wrote.
private let accepted: [String] = [
    "{}", "[]", "0", "-0", "1", "-1", "123", "1.5", "-1.5e3", "1E2", "1e-2", "0.1e1", "1E+2", "100.0", "9223372036854775807",
    "-9223372036854775808", "9223372036854775808", "12345678901234567890", "1e308", "5e-324", "2.5e-5", "123456789.123456789",
    "true", "false", "null", "\"\"", "\"a\"", "\"\\u0000\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u00e9\"", "\"\\ud83d\\ude00\"",
    "\"é😀\"", "\"\u{7f}\"", "\"\u{2028}\u{2029}\"", " [1 , 2 ] ", "\t\n\r{\"a\" : [ {} , [ ] , \"x\" ] }\n",
    "{\"a\":1,\"a\":2}", "[[[[[[[[[[]]]]]]]]]]", "{\"\":0}", "[1,true,false,null,\"s\",{\"k\":[1.25]}]",
    "{\"performance_stats\":{\"sent\":100,\"ctr\":20.0},\"Generate Lead\":{\"conversions\":3}}",
]

private let refused: [(String, Int)] = [
    ("", 0), (" ", 1), ("01", 0), ("-01", 0), ("1.", 2), (".5", 0), ("+1", 0), ("1e", 2), ("1e+", 3), ("-", 1), ("--1", 1),
    ("[1,]", 3), ("{\"a\":1,}", 7), ("[1 2]", 3), ("{\"a\" 1}", 5), ("{a:1}", 1), ("{\"a\":}", 5), ("[", 1), ("{", 1), ("]", 0),
    ("\"abc", 4), ("\"\\x\"", 1), ("\"\\u12\"", 5), ("\"\\ud800\"", 1), ("\"\\udc00\"", 1), ("\"\\ud800\\u0041\"", 1),
    ("\"a\u{1}b\"", 2), ("\"\t\"", 1), ("[1] x", 4), ("1 1", 2), ("tru", 0), ("nul", 0), ("True", 0), ("NaN", 0), ("Infinity", 0),
    ("1e400", 0), ("-1e400", 0), ("'a'", 0), ("[1,,2]", 3), ("{\"a\":1 \"b\":2}", 7), ("\u{feff}1", 0),
]

/// Foundation's reading of a document, as a `JSON` value (nil when it refuses it).
private func foundationValue(_ text: String) -> JSON? {
    guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else { return nil }
    return convert(object)
}

private func convert(_ object: Any) -> JSON {
    switch object {
    case let text as String: return .string(text)
    case let number as NSNumber:
        switch String(cString: number.objCType) {
        case "c": return .bool(number.boolValue)
        case "d", "f", "Q": return .double(number.doubleValue)
        default: return .int(number.intValue)
        }
    case let list as [Any]: return .array(list.map(convert))
    case let members as [String: Any]: return .object(members.mapValues(convert))
    default: return .null
    }
}

/// What the gateway wrote before this writer: Foundation's `JSONEncoder` with sorted keys.
private struct LegacyEncoded: Encodable {
    let value: JSON

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch value {
        case .null: try container.encodeNil()
        case .bool(let flag): try container.encode(flag)
        case .int(let integer): try container.encode(integer)
        case .double(let number): try container.encode(number.isFinite ? number : 0)
        case .string(let text): try container.encode(text)
        case .array(let elements): try container.encode(elements.map(LegacyEncoded.init))
        case .object(let members): try container.encode(members.mapValues(LegacyEncoded.init))
        }
    }

    static func bytes(_ value: JSON) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(LegacyEncoded(value: value)))
    }
}

@Suite struct JSONReaderWriterTests {
    @Test(arguments: accepted)
    func readsWhatFoundationReadsAndRoundTrips(text: String) throws {
        let parsed = try JSON.parse(Array(text.utf8))
        if let foundation = foundationValue(text) {
            #expect(parsed == foundation, "\(text)")
        }
        let written = parsed.encodedBytes()
        #expect(try JSON.parse(written) == parsed)
        #expect(try JSON.parse(written).encodedBytes() == written, "writing is deterministic")
    }

    @Test(arguments: refused)
    func refusesWhatRFC8259RefusesAtTheRightByte(text: String, offset: Int) {
        #expect(throws: JSONParseError.self, "\(text)") { try JSON.parse(Array(text.utf8)) }
        do {
            _ = try JSON.parse(Array(text.utf8))
        } catch {
            #expect(error.offset == offset, "\(text): \(error)")
        }
    }

    @Test func refusesInvalidUTF8InStrings() {
        for bytes: [UInt8] in [
            [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF8, 0x88, 0x80, 0x80, 0x80, 0x22],
        ] {
            #expect(throws: JSONParseError.self) { try JSON.parse(bytes) }
        }
    }

    @Test func keepsIntegersExactAndTypesNumbersByTheirValue() throws {
        #expect(try JSON.parse(Array("9223372036854775807".utf8)) == .int(Int.max))
        if case .int(let value) = try JSON.parse(Array("9223372036854775807".utf8)) { #expect(value == Int.max) } else { Issue.record("not an Int") }
        if case .int(100) = try JSON.parse(Array("100.0".utf8)) {} else { Issue.record("100.0 is the integer 100") }
        if case .double = try JSON.parse(Array("9223372036854775808".utf8)) {} else { Issue.record("past Int64: a Double") }
        if case .double(1.5) = try JSON.parse(Array("1.5".utf8)) {} else { Issue.record("1.5 is a Double") }
    }

    @Test func refusesNestingPastTheLimitWithoutOverflowingTheStack() throws {
        let limit = JSON.defaultMaxDepth
        #expect(throws: Never.self) { try JSON.parse(Array((String(repeating: "[", count: limit) + String(repeating: "]", count: limit)).utf8)) }
        let tooDeep = String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)
        #expect(throws: JSONParseError.self) { try JSON.parse(Array(tooDeep.utf8)) }
        let hostile = Array(repeating: UInt8(ascii: "["), count: 1_000_000)
        do {
            _ = try JSON.parse(hostile)
            Issue.record("a million open brackets parsed")
        } catch {
            #expect(error.offset == limit)
        }
    }

    @Test(arguments: accepted)
    func writesTheBytesFoundationsEncoderWrote(text: String) throws {
        let value = try JSON.parse(Array(text.utf8))
        #expect(value.encodedBytes() == (try LegacyEncoded.bytes(value)), "\(text)")
    }

    @Test func writesEveryControlCharacterAndKeyOrderAsFoundationDid() throws {
        let controls = String((0..<0x20).map { Character(Unicode.Scalar($0)!) }) + "\"\\/\u{7f}é😀"
        let keys: [String: JSON] = ["b": 1, "B": 2, "a": 3, "_": 4, "10": 5, "9": 6, "é": 7, "aa": 8, "a1": 9, "": 10]
        for value: JSON in [.string(controls), .object(keys), [1.0e21, 1e-7, -0.0, 0.1, 33.333333333333336, 1e16, 12345.678]] {
            #expect(value.encodedBytes() == (try LegacyEncoded.bytes(value)))
        }
    }
}
