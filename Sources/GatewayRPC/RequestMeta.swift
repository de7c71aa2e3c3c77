import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Reads the per-request metadata every route needs: request id, Connect timeout, logger.
enum RequestMeta {
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!
    static let connectTimeoutHeader = HTTPField.Name("Connect-Timeout-Ms")!

    /// The caller's `X-Request-Id` when it is a safe token (≤128 of `A-Za-z0-9._-`), else a new UUID.
    static func requestID(_ request: Request) -> String {
        if let given = request.headers[requestIDHeader], (1...128).contains(given.count),
            given.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
        {
            return given
        }
        return UUID().uuidString.lowercased()
    }

    /// The call metadata, with a logger that carries the request id.
    static func make(_ request: Request, logger: Logger) -> CallMeta {
        var logger = logger
        let id = requestID(request)
        logger[metadataKey: "request_id"] = "\(id)"
        let timeout = request.headers[connectTimeoutHeader].flatMap { $0.count <= 10 ? Int($0) : nil }.flatMap { $0 > 0 ? $0 : nil }
        return CallMeta(requestID: id, headerTimeoutMs: timeout, logger: logger)
    }
}
