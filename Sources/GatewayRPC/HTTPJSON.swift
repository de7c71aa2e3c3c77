import DynamicJSON
import Hummingbird

/// Builds HTTP responses with JSON bodies.
enum HTTPJSON {
    /// A response with `document` written as its body and `Content-Type: application/json`.
    static func response(_ status: HTTPResponse.Status, _ document: JSONDocument, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: document.encodedBytes())))
    }

    /// A response with `json` as its body and `Content-Type: application/json`.
    static func response(_ status: HTTPResponse.Status, _ json: JSON, headers: HTTPFields = [:]) -> Response {
        response(status, .value(json), headers: headers)
    }
}
