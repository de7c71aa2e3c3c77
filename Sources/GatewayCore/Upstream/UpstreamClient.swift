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

/// Sends one upstream request with the workspace's credentials, once, and maps failures.
///
/// MoEngage: `Authorization: Basic base64(workspace_id:api_key)` and `MOE-APPKEY`; Migma:
/// `Authorization: Bearer api_key`. A status outside `accepting` becomes an `UpstreamCallError`
/// (with `Retry-After` and the `GatewayError` to answer with); a missing key or a passed deadline
/// is a plain `GatewayError`. Retries are `RetryingUpstream`'s job.
public struct UpstreamClient: Sendable {
    private let http: CurlHTTPClient
    private let upstream: UpstreamConfiguration
    private let metrics: UpstreamMetrics

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
        let credentials = Self.credentials(for: workspace, apiKey: apiKey)
        let redaction = Redaction(
            secrets: [apiKey.value, workspace.secretKey?.value ?? ""] + credentials.filter { $0.name == "Authorization" }.map(\.value) + Self.encodedCredentials(workspace, apiKey)
                + request.secrets)
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if request.sendsCredentials { headers += credentials }
        if request.body != nil { headers.append(("Content-Type", "application/json")) }
        // The transfer is bounded by the upstream timeout; the deadline (which may grow while other
        // requests join a shared call) ends it by cancellation.
        let httpRequest = HTTPClientRequest(
            method: request.method, url: workspace.configuration.baseURL + request.path, headers: headers, body: request.body?.encoded(),
            connectTimeoutMs: min(upstream.connectTimeoutMs, upstream.timeoutMs), totalTimeoutMs: upstream.timeoutMs)
        let response: HTTPClientResponse
        do {
            response = try await http.execute(httpRequest)
        } catch let error as CurlHTTPError {
            metrics.record(endpoint: request.endpoint, outcome: error.kind)
            if context.remainingMs == 0 { throw GatewayError.deadlineExceeded }
            if error == .cancelled { throw CancellationError() }
            let detail = redaction.scrub(error.detail)
            context.logger.warning(
                "upstream transport failure", metadata: ["endpoint": "\(request.endpoint)", "failure": "\(error.kind): \(detail)"])
            let failure = GatewayError.upstreamFailed(status: 0, reason: "\(error.kind): \(detail)")
            // A response over the size cap or a TLS failure will not change on retry.
            guard error.isTransient else { throw failure }
            throw UpstreamCallError(gatewayError: failure, status: 0, retryAfter: nil)
        }
        metrics.record(endpoint: request.endpoint, outcome: String(response.status))
        guard accepting.contains(response.status) else {
            throw Self.failure(
                response, redaction: redaction, maxRetryAfter: .seconds(upstream.maxRetryAfterSeconds), logger: context.logger,
                endpoint: request.endpoint)
        }
        return response
    }

    /// The base64 of MoEngage's `workspace_id:api_key`, as an echo might carry it.
    private static func encodedCredentials(_ workspace: UpstreamWorkspace, _ apiKey: Secret) -> [String] {
        guard workspace.configuration.provider == .moengage else { return [] }
        let encoded = Data("\(workspace.configuration.workspaceID ?? ""):\(apiKey.value)".utf8).base64EncodedString()
        return [encoded, encoded.trimmingCharacters(in: CharacterSet(charactersIn: "="))]
    }

    /// The credential headers of a workspace's provider.
    static func credentials(for workspace: UpstreamWorkspace, apiKey: Secret) -> [(name: String, value: String)] {
        switch workspace.configuration.provider {
        case .moengage:
            let id = workspace.configuration.workspaceID ?? ""
            return [("Authorization", "Basic \(Data("\(id):\(apiKey.value)".utf8).base64EncodedString())"), ("MOE-APPKEY", id)]
        case .migma:
            return [("Authorization", "Bearer \(apiKey.value)")]
        }
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
    /// `{error: {code, message}}` (campaign meta), `{success: false, error, code}` (Migma). Upstream
    /// text is scrubbed of every form of the request's secrets and cut to a bounded length.
    static func failure(_ response: HTTPClientResponse, redaction: Redaction, maxRetryAfter: Duration, logger: Logger, endpoint: String)
        -> UpstreamCallError
    {
        let json = try? JSON.parse(response.body)
        let nested = json?["error"]
        let code = (json?["code"] ?? nested?["code"])?.stringValue
        let title = json?["title"]?.stringValue
        let detail = (json?["description"] ?? nested?["message"] ?? nested)?.stringValue
        let reason: String
        switch response.status {
        case 401: reason = "the upstream rejected the workspace credentials (check the workspace's API key)"
        case 403: reason = "the workspace lacks access to this upstream feature (check the workspace's plan and key)"
        case 429: reason = "the upstream rate limit was exceeded"
        default: reason = detail.map { "upstream said: \($0)" } ?? "the upstream answered HTTP \(response.status)"
        }
        let safeCode = code.map(redaction.scrub)
        logger.warning("upstream error", metadata: ["endpoint": "\(endpoint)", "status": "\(response.status)", "code": "\(safeCode ?? "-")"])
        let failure = GatewayError.upstreamFailed(
            status: response.status, upstreamCode: safeCode, title: title.map(redaction.scrub), reason: redaction.scrub(reason))
        let retryAfter = response.header("Retry-After").flatMap { RetryAfter.parse($0) }.map { min($0, maxRetryAfter) }
        return UpstreamCallError(gatewayError: failure, status: response.status, retryAfter: retryAfter)
    }
}
