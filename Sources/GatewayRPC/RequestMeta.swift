import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import LockedState
import Logging

/// Reads the per-request metadata every route needs: request id, Connect timeout, logger.
enum RequestMeta {
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!
    static let connectTimeoutHeader = HTTPField.Name("Connect-Timeout-Ms")!

    /// The caller's `X-Request-Id` when it is a safe token (≤128 of `A-Za-z0-9._-`), else a new one:
    /// this process's random prefix and a counter (unique without a UUID's cost per request).
    static func requestID(_ request: Request) -> String {
        if let given = request.headers[requestIDHeader], (1...128).contains(given.utf8.count),
            given.utf8.allSatisfy({ isTokenByte($0) })
        {
            return given
        }
        let number = counter.withLock { counter -> UInt64 in
            counter &+= 1
            return counter
        }
        return "\(processPrefix)-\(String(number, radix: 16))"
    }

    private static let processPrefix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
    private static let counter = Locked<UInt64>(0)

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }

    /// The call metadata, with a logger that carries the request id and a fresh allowance of `callLimit` upstream calls.
    static func make(_ request: Request, connection: ClientConnection, logger: Logger, callLimit: Int) -> CallMeta {
        var logger = logger
        let id = requestID(request)
        logger[metadataKey: "request_id"] = "\(id)"
        return CallMeta(
            requestID: id, headerTimeout: connectTimeoutMs(request), logger: logger, allowance: CallAllowance(limit: callLimit), arrived: .now,
            connection: connection)
    }

    /// `Connect-Timeout-Ms` (a positive integer of at most 10 digits, per the Connect protocol),
    /// capped at the longest deadline a request may ask for, like `timeout_ms`; anything else
    /// is -32602 (Connect `invalid_argument`), as connect-go answers it.
    static func connectTimeoutMs(_ request: Request) -> Result<Int?, GatewayError> {
        guard let text = request.headers[connectTimeoutHeader] else { return .success(nil) }
        guard (1...10).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = Int(text), value > 0 else {
            return .failure(.invalidParams(field: "Connect-Timeout-Ms", reason: "must be a positive integer of at most 10 digits"))
        }
        return .success(min(value, CallContext.maxTimeoutMs))
    }
}
