import DynamicJSON
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An answer queued through `POST /_sim/script`, given instead of the simulated one to the next
/// call on its path that passes auth and the rate limits: for testing how a client copes with any
/// answer an upstream may give (odd names, huge numbers, an echo of the request, error bodies).
///
/// `{path, status, headers?, body? | raw?}`: `body` is JSON, `raw` is text sent as is. In either,
/// `{{authorization}}` becomes the request's `Authorization` header and `{{url}}` its path and query,
/// as a broken upstream echoing the request would send them.
struct ScriptedAnswer: Sendable {
    var path: String
    var status: Int
    var headers: [(name: String, value: String)]
    var body: String

    /// Reads one scripted answer; nil when malformed.
    init?(json: JSON) {
        guard let path = json["path"]?.stringValue, let status = json["status"]?.intValue, (100...599).contains(status) else { return nil }
        self.path = path
        self.status = status
        headers = (json["headers"]?.objectValue ?? [:]).compactMap { name, value in value.stringValue.map { (name, $0) } }
        if let raw = json["raw"]?.stringValue {
            body = raw
        } else if let body = json["body"] {
            self.body = body.encodedString()
        } else {
            body = ""
        }
    }

    /// Whether the answer is for a request to `requestPath` (exact, or a prefix ending in `/`).
    func matches(_ requestPath: String) -> Bool {
        path == requestPath || (path.hasSuffix("/") && requestPath.hasPrefix(path))
    }

    /// The HTTP response for `request`, placeholders filled in.
    func response(to request: Request) -> Response {
        let filled = body.replacingOccurrences(of: "{{authorization}}", with: request.headers[.authorization] ?? "")
            .replacingOccurrences(of: "{{url}}", with: request.uri.description)
        var fields: HTTPFields = [.contentType: "application/json"]
        for (name, value) in headers {
            if let field = HTTPField.Name(name) { fields[field] = value }
        }
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: filled)))
    }
}
