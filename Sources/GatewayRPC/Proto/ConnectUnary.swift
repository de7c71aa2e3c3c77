import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import NIOCore

/// One Connect unary request as the Connect protocol carries it: a POST with the message as its
/// body, or a GET with it in the query (`message`, `encoding`, `base64`, `compression`, `connect`).
struct ConnectUnary {
    /// The message encoding, both ways.
    enum Codec: Equatable {
        case json, proto

        /// The `Content-Type` of a POST and of a success answer.
        var contentType: String { self == .json ? "application/json" : "application/proto" }
        /// Tells apart, in the replay cache, answers to the same bytes in another encoding.
        var replaySuffix: String { self == .json ? "" : "#proto" }
    }

    /// Why a request is not a Connect unary call this gateway can read: answered `{code, message}`,
    /// before any method runs (a call's own errors also carry `details` and `data`).
    struct Refusal: Error {
        var status: HTTPResponse.Status
        var code: String
        var message: String
        var headers: HTTPFields = [:]

        func response(headers: HTTPFields) -> Response {
            var fields = headers
            fields.append(contentsOf: self.headers)
            return HTTPJSON.response(status, ["code": .string(code), "message": .string(message)], headers: fields)
        }
    }

    static let protocolVersionHeader = HTTPField.Name("Connect-Protocol-Version")!
    static let acceptPostHeader = HTTPField.Name("Accept-Post")!

    var codec: Codec
    var body: ByteBuffer

    /// Reads a request; a refusal answers as connect-go does (415 for an unknown content type, 400 for a bad query).
    static func read(_ request: Request, maxBodyBytes: Int) async -> Result<ConnectUnary, Refusal> {
        if let version = request.headers.value(protocolVersionHeader), version != "1" {
            return .failure(Refusal(status: .badRequest, code: "invalid_argument", message: "Connect-Protocol-Version must be 1"))
        }
        if request.method == .get { return fromQuery(request.uri.query ?? "", maxBodyBytes: maxBodyBytes) }
        if let encoding = request.headers.value(.contentEncoding), encoding.lowercased() != "identity" {
            return .failure(Refusal(status: .notImplemented, code: "unimplemented", message: "Content-Encoding \(encoding.prefix(40)) is not supported"))
        }
        let contentType = request.headers.value(.contentType)?.lowercased().split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        let parameters = contentType.dropFirst()
        let codec: Codec
        switch contentType.first {
        case "application/json"? where parameters.allSatisfy({ $0 == "charset=utf-8" || $0 == "charset=\"utf-8\"" }): codec = .json
        case "application/proto"? where parameters.isEmpty: codec = .proto
        default:
            return .failure(
                Refusal(
                    status: .unsupportedMediaType, code: "invalid_argument", message: "Content-Type must be application/json or application/proto",
                    headers: [acceptPostHeader: "application/json, application/proto"]))
        }
        guard let body = await HTTPJSON.body(of: request, upTo: maxBodyBytes) else { return .failure(tooLarge(maxBodyBytes)) }
        return .success(ConnectUnary(codec: codec, body: body))
    }

    private static func tooLarge(_ maxBodyBytes: Int) -> Refusal {
        Refusal(status: .contentTooLarge, code: "resource_exhausted", message: "the body is over \(maxBodyBytes) bytes")
    }

    private static func fromQuery(_ query: String, maxBodyBytes: Int) -> Result<ConnectUnary, Refusal> {
        guard query.utf8.count <= maxBodyBytes * 3 else { return .failure(tooLarge(maxBodyBytes)) }
        var fields: [String: [UInt8]] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = percentDecoded(parts[0]).flatMap({ String(bytes: $0, encoding: .utf8) }),
                let value = percentDecoded(parts.count > 1 ? parts[1] : "")
            else { return .failure(badQuery("a query parameter is not percent-encoded correctly")) }
            fields[key] = value
        }
        let text = { (name: String) in fields[name].flatMap { String(bytes: $0, encoding: .utf8) } }
        if let connect = text("connect"), connect != "v1" { return .failure(badQuery("connect must be v1")) }
        if let compression = text("compression"), compression != "identity" {
            return .failure(Refusal(status: .notImplemented, code: "unimplemented", message: "compression \(compression.prefix(40)) is not supported"))
        }
        let codec: Codec
        switch text("encoding") {
        case "json"?: codec = .json
        case "proto"?: codec = .proto
        default: return .failure(badQuery("encoding must be json or proto"))
        }
        guard var message = fields["message"] else { return .failure(badQuery("the message query parameter is missing")) }
        if text("base64") == "1" {
            guard let decoded = base64URLDecoded(message) else { return .failure(badQuery("message is not base64url")) }
            message = decoded
        }
        guard message.count <= maxBodyBytes else { return .failure(tooLarge(maxBodyBytes)) }
        return .success(ConnectUnary(codec: codec, body: ByteBuffer(bytes: message)))
    }

    private static func badQuery(_ message: String) -> Refusal {
        Refusal(status: .badRequest, code: "invalid_argument", message: message)
    }

    /// Percent-decoding of a query component (`+` is a space), nil for a malformed escape.
    private static func percentDecoded(_ text: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return bytes
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Base64 with the URL alphabet (or the standard one), padding optional.
    private static func base64URLDecoded(_ bytes: [UInt8]) -> [UInt8]? {
        var text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.hasSuffix("=") { text.removeLast() }
        text += String(repeating: "=", count: (4 - text.utf8.count % 4) % 4)
        return Data(base64Encoded: text).map(Array.init)
    }
}
