import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import LockedState
import Logging

/// Reads what every route needs from a request's headers (request id, Connect timeout) into the
/// request's `CallContext`.
enum RequestHeaders {
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!
    static let connectTimeoutHeader = HTTPField.Name("Connect-Timeout-Ms")!

    /// The caller's request id (`X-Request-Id`, gRPC `x-request-id`) when it is a safe token (≤128 of
    /// `A-Za-z0-9._-`), else a new one: this process's random prefix and a counter (unique without a
    /// UUID's cost per request).
    static func requestID(given: String?) -> String {
        if let given, (1...128).contains(given.utf8.count),
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

    /// The request's id and a logger carrying it (what a route needs before it knows the caller).
    static func identify(_ request: Request, logger: Logger) -> (requestID: String, logger: Logger) {
        identify(givenID: request.headers[requestIDHeader], logger: logger)
    }

    /// The request id (`givenID` when safe) and a logger carrying it.
    static func identify(givenID: String?, logger: Logger) -> (requestID: String, logger: Logger) {
        var logger = logger
        let id = requestID(given: givenID)
        logger[metadataKey: "request_id"] = "\(id)"
        return (id, logger)
    }

    /// The context of an authenticated request that arrived at `arrived`: a fresh allowance of
    /// `callLimit` upstream calls, its `Connect-Timeout-Ms`, its client's connection.
    static func context(
        _ request: Request, caller: CallerIdentity, identity: (requestID: String, logger: Logger), arrived: ContinuousClock.Instant,
        connection: ClientConnection, callLimit: Int, defaultTimeoutMs: Int
    ) -> CallContext {
        CallContext(
            requestID: identity.requestID, caller: caller, logger: identity.logger, allowance: CallAllowance(limit: callLimit), arrived: arrived,
            headerTimeout: connectTimeoutMs(request), client: connection, defaultTimeoutMs: defaultTimeoutMs)
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
