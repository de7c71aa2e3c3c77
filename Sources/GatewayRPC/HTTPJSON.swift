import DynamicJSON
import GatewayCore
import Hummingbird

/// Reads request bodies and builds HTTP responses with JSON bodies.
enum HTTPJSON {
    /// The request's body, or nil when it is (or declares to be) over `maxBytes`.
    static func body(of request: Request, upTo maxBytes: Int) async -> ByteBuffer? {
        if let declared = request.headers.value(.contentLength).flatMap(Int.init), declared > maxBytes { return nil }
        return try? await request.body.collect(upTo: maxBytes)
    }

    /// A response with `document` written as its body and `Content-Type: application/json`.
    static func response(_ status: HTTPResponse.Status, _ document: JSONDocument, headers: HTTPFields = [:]) -> Response {
        response(status, bytes: ByteBuffer(bytes: document.encodedBytes()), headers: headers)
    }

    /// A response with its body already written, `Content-Type: application/json` unless told otherwise.
    static func response(
        _ status: HTTPResponse.Status, bytes: ByteBuffer, headers: HTTPFields = [:], contentType: String = "application/json"
    ) -> Response {
        var fields = headers
        fields[.contentType] = contentType
        return Response(status: status, headers: fields, body: .init(byteBuffer: bytes))
    }

    /// A response with `json` as its body and `Content-Type: application/json`.
    static func response(_ status: HTTPResponse.Status, _ json: JSON, headers: HTTPFields = [:]) -> Response {
        response(status, .value(json), headers: headers)
    }
}

extension HTTPJSON {
    /// An error in Connect's shape, `{code, message, details}` (the `google.rpc` details of
    /// `ErrorStatus`), with our JSON-RPC `data` beside Connect's fields,
    /// with Connect's HTTP status and, for a budget refusal, `Retry-After`; `enveloped` puts it
    /// under `error` (the raw zip route).
    static func error(_ error: GatewayError, headers: HTTPFields, enveloped: Bool = false) -> Response {
        let fields = retryAfter(of: error, adding: headers)
        var body: [String: JSON] = [
            "code": .string(error.connectCode), "message": .string(error.message), "details": ErrorStatus(error: error).connectDetails,
        ]
        if let data = error.data { body["data"] = data }
        return response(.init(code: error.connectHTTPStatus), enveloped ? ["error": .object(body)] : .object(body), headers: fields)
    }

    /// `headers` with `Retry-After` (whole seconds, rounded up) when `error` carries a retry delay.
    static func retryAfter(of error: GatewayError, adding headers: HTTPFields) -> HTTPFields {
        var fields = headers
        if let retryAfterMs = error.retryAfterMs {
            fields[.retryAfter] = String((retryAfterMs + 999) / 1_000)
        }
        return fields
    }
}
