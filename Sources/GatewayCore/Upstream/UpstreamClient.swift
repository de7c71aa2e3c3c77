import CurlHTTP
import DynamicJSON
import Foundation
import GatewayConfig
import Logging

/// One upstream request, before credentials are added.
public struct UpstreamRequest: Sendable {
    /// `GET` or `POST`.
    public var method: String
    /// Path and query, appended to the workspace's base URL.
    public var path: String
    /// A JSON body, for POST.
    public var body: JSON?
    /// A label for metrics and logs (the path without ids or signatures).
    public var endpoint: String
    /// Whether to send the workspace's credentials as headers (the signed daily report does not need them).
    public var sendsCredentials: Bool
    /// Values of this request that must never be echoed back (a signature, the signed path).
    public var secrets: [String]

    /// Creates a request.
    public init(
        method: String, path: String, body: JSON? = nil, endpoint: String? = nil, sendsCredentials: Bool = true, secrets: [String] = []
    ) {
        self.method = method
        self.path = path
        self.body = body
        self.endpoint = endpoint ?? path
        self.sendsCredentials = sendsCredentials
        self.secrets = secrets
    }
}

/// Sends one upstream request with the workspace's credentials (from its provider's adapter),
/// once, and maps failures. A status outside `accepting` becomes an `UpstreamCallError`
/// (with `Retry-After` and the `GatewayError` to answer with); a missing key or a passed deadline
/// is a plain `GatewayError`. Retries are `RetryingUpstream`'s job.
public struct UpstreamClient: Sendable {
    private let http: CurlHTTPClient
    private let upstream: UpstreamConfiguration
    /// Where its calls are counted.
    let metrics: UpstreamMetrics

    /// Creates a client over a shared curl client.
    public init(http: CurlHTTPClient, upstream: UpstreamConfiguration, metrics: UpstreamMetrics) {
        self.http = http
        self.upstream = upstream
        self.metrics = metrics
    }

    /// Sends `request`; returns the response when its status is in `accepting`.
    public func send(_ request: UpstreamRequest, workspace: UpstreamWorkspace, context: CallContext, accepting: Set<Int>) async throws
        -> HTTPClientResponse
    {
        guard let apiKey = workspace.apiKey else {
            throw GatewayError.upstreamFailed(status: 0, reason: "workspace \(workspace.name) has no API key configured; see /readyz")
        }
        guard context.remainingMs > 0 else { throw GatewayError.deadlineExceeded }
        let credentials = workspace.configuration.provider.adapter.credentials(for: workspace.configuration, apiKey: apiKey)
        // Only a failure's text needs scrubbing: build the redaction then, not for every call.
        func redaction() -> Redaction { Redaction(secrets: credentials.secrets + [workspace.secretKey?.value ?? ""] + request.secrets) }
        var headers: [(name: String, value: String)] = [("Accept", "application/json"), ("traceparent", context.trace.traceparent)]
        if request.sendsCredentials { headers += credentials.headers }
        if request.body != nil { headers.append(("Content-Type", "application/json")) }
        // The transfer is bounded by the upstream timeout; the deadline (which may grow while other
        // requests join a shared call) ends it by cancellation.
        let httpRequest = HTTPClientRequest(
            method: request.method, url: workspace.configuration.baseURL + request.path, headers: headers, body: request.body?.encoded(),
            connectTimeoutMs: min(upstream.connectTimeoutMs, upstream.timeoutMs), totalTimeoutMs: upstream.timeoutMs)
        let response: HTTPClientResponse
        let sent = ContinuousClock.now
        do {
            response = try await http.execute(httpRequest)
        } catch let error as CurlHTTPError {
            metrics.record(workspace: workspace.name, endpoint: request.endpoint, status: nil, duration: .now - sent)
            if context.remainingMs == 0 { throw GatewayError.deadlineExceeded }
            if error == .cancelled { throw CancellationError() }
            let detail = redaction().scrub(error.detail)
            context.logger.warning(
                "upstream transport failure", metadata: ["endpoint": "\(request.endpoint)", "failure": "\(error.kind): \(detail)"])
            let failure = GatewayError.upstreamFailed(status: 0, reason: "\(error.kind): \(detail)")
            // A response over the size cap or a TLS failure will not change on retry.
            throw UpstreamCallError(
                gatewayError: failure, status: 0, retryAfter: nil, reachedUpstream: error.mayHaveReachedServer, isTransient: error.isTransient)
        }
        metrics.record(workspace: workspace.name, endpoint: request.endpoint, status: response.status, duration: .now - sent)
        guard accepting.contains(response.status) else {
            throw Self.failure(
                response, redaction: redaction(), maxRetryAfter: .seconds(upstream.maxRetryAfterSeconds), logger: context.logger,
                endpoint: request.endpoint)
        }
        return response
    }

    /// Parses a JSON body; a garbled one is a retryable failure, like a dropped connection.
    public static func json(_ response: HTTPClientResponse) throws -> JSON {
        guard let json = try? JSON.parse(response.body) else {
            let failure = GatewayError.upstreamFailed(status: response.status, reason: "the upstream answered with a malformed body")
            throw UpstreamCallError(gatewayError: failure, status: 0, retryAfter: nil)
        }
        return json
    }

    /// Maps an error answer, whatever the provider's shape: `{title, description, code}` (stats),
    /// `{error: {code, message}}` (campaign meta), `{success: false, error, code}` (Migma). Free
    /// upstream text (descriptions, messages) is never passed on: only a `code` and `title` made of
    /// plain words (see `Redaction.plainWords`), so no echo of a credential reaches an answer or a log.
    static func failure(_ response: HTTPClientResponse, redaction: Redaction, maxRetryAfter: Duration, logger: Logger, endpoint: String)
        -> UpstreamCallError
    {
        let json = try? JSON.parse(response.body)
        let nested = json?["error"]
        let code = (json?["code"] ?? nested?["code"])?.stringValue.flatMap(redaction.plainWords)
        let title = json?["title"]?.stringValue.flatMap(redaction.plainWords)
        let reason: String
        switch response.status {
        case 401: reason = "the upstream rejected the workspace credentials (check the workspace's API key)"
        case 403: reason = "the workspace lacks access to this upstream feature (check the workspace's plan and key)"
        case 429: reason = "the upstream rate limit was exceeded"
        default: reason = "the upstream answered HTTP \(response.status)" + (title.map { ": \($0)" } ?? "")
        }
        logger.warning("upstream error", metadata: ["endpoint": "\(endpoint)", "status": "\(response.status)", "code": "\(code ?? "-")"])
        let failure = GatewayError.upstreamFailed(status: response.status, upstreamCode: code, title: title, reason: reason)
        let retryAfter = response.header("Retry-After").flatMap { RetryAfter.parse($0) }.map { min($0, maxRetryAfter) }
        return UpstreamCallError(gatewayError: failure, status: response.status, retryAfter: retryAfter)
    }
}
