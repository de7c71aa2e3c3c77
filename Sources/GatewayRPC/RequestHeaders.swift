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
    static let traceparentHeader = HTTPField.Name("traceparent")!
    static let traceresponseHeader = HTTPField.Name("traceresponse")!

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

    /// The request's id and trace, and a logger carrying both (what a route needs before it knows the caller).
    static func identify(_ request: Request, logger: Logger) -> RequestIdentity {
        identify(givenID: request.headers.value(requestIDHeader), traceparent: request.headers.value(traceparentHeader), logger: logger)
    }

    /// The request id (`givenID` when safe), the trace (`traceparent` when valid), and a logger carrying both.
    static func identify(givenID: String?, traceparent: String?, logger: Logger) -> RequestIdentity {
        RequestIdentity(requestID: requestID(given: givenID), trace: TraceContext(traceparent: traceparent), baseLogger: logger)
    }

    /// The context of an authenticated request that arrived at `arrived`: a fresh allowance of
    /// `callLimit` upstream calls, its `Connect-Timeout-Ms`, its client's connection, its trace.
    static func context(
        _ request: Request, caller: CallerIdentity, identity: RequestIdentity, arrived: ContinuousClock.Instant,
        connection: ClientConnection, callLimit: Int, defaultTimeoutMs: Int
    ) -> CallContext {
        identity.context(
            caller: caller, arrived: arrived, headerTimeout: connectTimeoutMs(request), client: connection, callLimit: callLimit,
            defaultTimeoutMs: defaultTimeoutMs)
    }

    /// `Connect-Timeout-Ms` (a positive integer of at most 10 digits, per the Connect protocol),
    /// capped at the longest deadline a request may ask for, like `timeout_ms`; anything else
    /// is -32602 (Connect `invalid_argument`), as connect-go answers it.
    static func connectTimeoutMs(_ request: Request) -> Result<Int?, GatewayError> {
        guard let text = request.headers.value(connectTimeoutHeader) else { return .success(nil) }
        guard (1...10).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = Int(text), value > 0 else {
            return .failure(.invalidParams(field: "Connect-Timeout-Ms", reason: "must be a positive integer of at most 10 digits"))
        }
        return .success(min(value, CallContext.maxTimeoutMs))
    }
}

/// Who a request is before it is authenticated: its id, its trace, a logger carrying both.
struct RequestIdentity {
    var requestID: String
    var trace: TraceContext
    /// The gateway's logger, before this request's metadata.
    var baseLogger: Logger

    /// A logger carrying the request id and trace id (made when something is logged).
    var logger: Logger { baseLogger.carrying(requestID: requestID, traceID: trace.traceID) }

    /// The headers every answer carries: `X-Request-Id` and `traceresponse`.
    var responseHeaders: HTTPFields {
        [RequestHeaders.requestIDHeader: requestID, RequestHeaders.traceresponseHeader: trace.traceparent]
    }

    /// The context of this request once `caller` is authenticated: a fresh allowance of `callLimit`
    /// upstream calls, the deadline its transport's header asks for, its client, its id, trace and logger.
    func context(
        caller: CallerIdentity, arrived: ContinuousClock.Instant, headerTimeout: Result<Int?, GatewayError>, client: any ClientPresence,
        callLimit: Int, defaultTimeoutMs: Int
    ) -> CallContext {
        CallContext(
            requestID: requestID, caller: caller, logger: baseLogger, allowance: CallAllowance(limit: callLimit), arrived: arrived,
            headerTimeout: headerTimeout, client: client, defaultTimeoutMs: defaultTimeoutMs, trace: trace)
    }
}

extension HTTPFields {
    /// The value of the field `name`, as `self[name]` gives it (several such fields joined), read
    /// without that subscript's generic path, which costs the hot path a metadata lookup per read.
    func value(_ name: HTTPField.Name) -> String? {
        var found: String?
        for field in self where field.name == name {
            if found != nil { return self[name] }
            found = field.value
        }
        return found
    }
}
