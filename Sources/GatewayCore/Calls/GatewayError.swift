import DynamicJSON

/// Every error the gateway answers with: its JSON-RPC code, its Connect code and HTTP status,
/// a safe message, and structured data. Never carries a credential or a caller token.
public struct GatewayError: Error, Sendable, CustomStringConvertible {
    private enum Code: String, Sendable, CaseIterable {
        case parseError = "parse_error"
        case invalidRequest = "invalid_request"
        case methodNotFound = "method_not_found"
        case invalidParams = "invalid_params"
        case unauthenticated
        case permissionDenied = "permission_denied"
        case planTooLarge = "plan_too_large"
        case rateBudgetExhausted = "rate_budget_exhausted"
        case upstreamFailed = "upstream_failed"
        case deadlineExceeded = "deadline_exceeded"
        case cancelled
        case internalError = "internal"
        case tooManyJobs = "too_many_jobs"
        case jobFinished = "job_finished"
        case storeUnavailable = "store_unavailable"
        case resultTooLarge = "result_too_large"
    }

    private let code: Code
    /// A human-readable message, safe to show to the caller.
    public let message: String
    /// Structured details (`error.data`), or nil.
    public let data: JSON?
    /// Upstream calls made (and paid) before giving up with this error, for an answer served
    /// stale despite it; not part of the answer's error.
    public internal(set) var upstreamCalls = 0

    private init(_ code: Code, _ message: String, _ data: JSON? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// -32700: the body is not JSON; `data` says where (`offset`, in bytes) and why.
    public static func parseError(_ error: JSONParseError) -> Self {
        .init(.parseError, "Parse error: the body is not valid JSON: \(error)", ["offset": .int(error.offset), "reason": .string(error.reason)])
    }
    /// -32600: not a JSON-RPC 2.0 request.
    public static func invalidRequest(_ detail: String) -> Self { .init(.invalidRequest, "Invalid Request: \(detail)") }
    /// -32601: no such method.
    public static func methodNotFound(_ method: String) -> Self {
        .init(.methodNotFound, "Method not found: \(method)", ["method": .string(method)])
    }
    /// -32602: a parameter is missing or wrong.
    public static func invalidParams(field: String, reason: String) -> Self {
        .init(.invalidParams, "Invalid params: \(field): \(reason)", ["field": .string(field), "reason": .string(reason)])
    }
    /// -32001: missing or unknown bearer token.
    public static let unauthenticated = Self(.unauthenticated, "Unauthenticated: a valid bearer token is required")
    /// -32003: the caller may not use this workspace.
    public static func forbiddenWorkspace(_ workspace: String) -> Self {
        .init(.permissionDenied, "Permission denied for workspace \(workspace)", ["workspace": .string(workspace)])
    }
    /// -32003: the caller may not call this method.
    public static func forbiddenMethod(_ method: String) -> Self {
        .init(.permissionDenied, "Permission denied for method \(method)", ["method": .string(method)])
    }
    /// -32013: the plan needs more upstream calls than one request may spend.
    public static func planTooLarge(estimatedCalls: Int, limit: Int, reason: String? = nil) -> Self {
        var data: [String: JSON] = ["estimated_calls": .int(estimatedCalls), "limit": .int(limit)]
        if let reason { data["reason"] = .string(reason) }
        return .init(.planTooLarge, "The plan needs \(estimatedCalls) upstream calls; one request may spend \(limit)", .object(data))
    }
    /// -32029: the rate budget cannot serve the plan before the deadline.
    public static func rateBudgetExhausted(retryAfterMs: Int, estimatedCalls: Int) -> Self {
        .init(
            .rateBudgetExhausted, "The upstream rate budget cannot serve this request before its deadline",
            ["retry_after_ms": .int(retryAfterMs), "estimated_calls": .int(estimatedCalls)])
    }
    /// -32029 (HTTP 429): the caller already has `limit` requests in flight, the most allowed at once.
    public static func callerBusy(caller: String, limit: Int) -> Self {
        .init(
            .rateBudgetExhausted, "Caller \(caller) has \(limit) requests in flight, the most allowed at once; retry when one is answered",
            ["retry_after_ms": 1_000, "in_flight_limit": .int(limit)])
    }
    /// -32029 for a call that waits on the budget: a pause or block lasts until `instant`, past its deadline.
    static func outlasted(until instant: ContinuousClock.Instant) -> Self {
        rateBudgetExhausted(retryAfterMs: Int(max(.zero, instant - .now).wholeMilliseconds), estimatedCalls: 1)
    }
    /// -32050: the upstream failed; `status` 0 means no HTTP answer (timeout, dropped connection).
    public static func upstreamFailed(status: Int, upstreamCode: String? = nil, title: String? = nil, reason: String) -> Self {
        var data: [String: JSON] = ["upstream_status": .int(status), "reason": .string(reason)]
        if let upstreamCode { data["code"] = .string(upstreamCode) }
        if let title { data["title"] = .string(title) }
        return .init(.upstreamFailed, "Upstream failed: \(reason)", .object(data))
    }
    /// -32004: the request's deadline passed.
    public static let deadlineExceeded = Self(.deadlineExceeded, "Deadline exceeded")
    /// -32004 (Connect `canceled`, HTTP 499): the client closed its connection before the answer; its pending work was cancelled.
    public static let cancelled = Self(.cancelled, "Cancelled: the client closed its connection")
    /// -32015 (Connect `resource_exhausted`): the caller already has `limit` jobs queued or running.
    public static func tooManyJobs(limit: Int) -> Self {
        .init(
            .tooManyJobs, "The caller already has \(limit) jobs queued or running (jobs.max_queued_per_caller); retry when one finishes",
            ["limit": .int(limit)])
    }
    /// -32016 (Connect `failed_precondition`): the job already finished, as `state`.
    public static func jobFinished(state: String) -> Self {
        .init(.jobFinished, "The job already finished (\(state))", ["state": .string(state)])
    }
    /// -32017 (Connect `resource_exhausted`): a job's result is larger than `jobs.max_result_bytes`.
    public static func resultTooLarge(bytes: Int, limit: Int) -> Self {
        .init(
            .resultTooLarge, "The job's result is \(bytes) bytes; at most \(limit) are kept (jobs.max_result_bytes)",
            ["bytes": .int(bytes), "limit": .int(limit)])
    }
    /// -32051 (Connect `unavailable`): the shared store (Redis) holding jobs did not answer.
    public static let storeUnavailable = Self(.storeUnavailable, "The job store (Redis) is unavailable; retry shortly")
    /// -32603: an internal error; details are logged, not returned.
    public static let internalError = Self(.internalError, "Internal error")

    /// The JSON-RPC `error.code`.
    public var jsonRPCCode: Int {
        switch code {
        case .parseError: return -32700
        case .invalidRequest: return -32600
        case .methodNotFound: return -32601
        case .invalidParams: return -32602
        case .unauthenticated: return -32001
        case .permissionDenied: return -32003
        case .planTooLarge: return -32013
        case .rateBudgetExhausted: return -32029
        case .upstreamFailed: return -32050
        case .deadlineExceeded, .cancelled: return -32004
        case .internalError: return -32603
        case .tooManyJobs: return -32015
        case .jobFinished: return -32016
        case .storeUnavailable: return -32051
        case .resultTooLarge: return -32017
        }
    }

    /// The Connect protocol error code.
    public var connectCode: String {
        switch code {
        case .parseError, .invalidRequest, .invalidParams: return "invalid_argument"
        case .methodNotFound: return "unimplemented"
        case .unauthenticated: return "unauthenticated"
        case .permissionDenied: return "permission_denied"
        case .planTooLarge, .rateBudgetExhausted: return "resource_exhausted"
        case .upstreamFailed: return "unavailable"
        case .deadlineExceeded: return "deadline_exceeded"
        case .cancelled: return "canceled"
        case .internalError: return "internal"
        case .tooManyJobs, .resultTooLarge: return "resource_exhausted"
        case .jobFinished: return "failed_precondition"
        case .storeUnavailable: return "unavailable"
        }
    }

    /// The HTTP status Connect uses for `connectCode`.
    public var connectHTTPStatus: Int {
        switch connectCode {
        case "invalid_argument": return 400
        case "unauthenticated": return 401
        case "permission_denied": return 403
        case "failed_precondition": return 400
        case "resource_exhausted": return 429
        case "unimplemented": return 501
        case "unavailable": return 503
        case "deadline_exceeded": return 504
        case "canceled": return 499
        default: return 500
        }
    }

    /// A stable, low-cardinality name, safe as a metrics label.
    public var kind: String { code.rawValue }

    /// Every `kind` there is.
    public static let kinds = Code.allCases.map(\.rawValue)

    /// `retry_after_ms` when the error carries one.
    public var retryAfterMs: Int? { data?["retry_after_ms"]?.intValue }

    /// `kind: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
