import DynamicJSON
import Hummingbird

/// Builds HTTP responses with JSON bodies.
enum HTTPJSON {
    /// A response with `json` as its body and `Content-Type: application/json`.
    static func response(_ status: HTTPResponse.Status, _ json: JSON, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(data: json.encoded())))
    }
}
