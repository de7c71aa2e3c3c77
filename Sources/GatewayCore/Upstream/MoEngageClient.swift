import CurlHTTP
import DynamicJSON
import Foundation
import GatewayConfig
import Logging

/// Calls MoEngage's JSON APIs with a workspace's credentials, once per call.
///
/// Failures are `UpstreamCallError` (status, `Retry-After`, the `GatewayError` to answer with);
/// a missing key or a passed deadline is a plain `GatewayError`. Retries are `RetryingUpstream`'s job.
public struct MoEngageClient: Sendable {
    private let http: CurlHTTPClient
    private let upstream: UpstreamConfiguration
    private let metrics: UpstreamMetrics

    /// Creates a client over a shared curl client.
    public init(http: CurlHTTPClient, upstream: UpstreamConfiguration, metrics: UpstreamMetrics) {
        self.http = http
        self.upstream = upstream
        self.metrics = metrics
    }

    /// POSTs `body` to `path` and returns the parsed JSON answer.
    public func post(path: String, body: JSON, workspace: UpstreamWorkspace, context: CallContext) async throws -> JSON {
        guard let apiKey = workspace.apiKey, let workspaceID = workspace.configuration.workspaceID else {
            throw GatewayError.upstreamFailed(status: 0, reason: "workspace \(workspace.name) has no API key configured; see /readyz")
        }
        let timeout = min(upstream.timeoutMs, context.remainingMs)
        guard timeout > 0 else { throw GatewayError.deadlineExceeded }
        let credentials = Data("\(workspaceID):\(apiKey.value)".utf8).base64EncodedString()
        let request = HTTPClientRequest(
            method: "POST", url: workspace.configuration.baseURL + path,
            headers: [
                ("Authorization", "Basic \(credentials)"), ("MOE-APPKEY", workspaceID),
                ("Content-Type", "application/json"), ("Accept", "application/json"),
            ],
            body: body.encoded(), connectTimeoutMs: min(upstream.connectTimeoutMs, timeout), totalTimeoutMs: timeout)
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request)
        } catch let error as CurlHTTPError {
            metrics.record(endpoint: path, outcome: error.kind)
            if context.remainingMs == 0 { throw GatewayError.deadlineExceeded }
            if error == .cancelled { throw CancellationError() }
            context.logger.warning("upstream transport failure", metadata: ["endpoint": "\(path)", "failure": "\(error)"])
            let failure = GatewayError.upstreamFailed(status: 0, reason: "\(error.kind): \(error.detail)")
            throw UpstreamCallError(gatewayError: failure, status: 0, retryAfter: nil)
        }
        metrics.record(endpoint: path, outcome: String(response.status))
        return try Self.decode(response, secrets: [apiKey.value], logger: context.logger, path: path)
    }

    /// Parses a 200 body, or maps an error answer (`{title, description, code}` or `{error: {...}}`).
    static func decode(_ response: HTTPClientResponse, secrets: [String], logger: Logger, path: String) throws -> JSON {
        let json = try? JSON.parse(response.body)
        if response.status == 200 {
            guard let json else {
                // A truncated or garbled 200 is treated like a dropped connection: retryable.
                let failure = GatewayError.upstreamFailed(status: 200, reason: "the upstream answered with a malformed body")
                throw UpstreamCallError(gatewayError: failure, status: 0, retryAfter: nil)
            }
            return json
        }
        let nested = json?["error"]
        let code = (json?["code"] ?? nested?["code"])?.stringValue
        let title = json?["title"]?.stringValue
        let detail = (json?["description"] ?? nested?["message"])?.stringValue
        let reason: String
        switch response.status {
        case 401: reason = "the upstream rejected the workspace credentials (check the workspace's API key)"
        case 403: reason = "the workspace lacks access to this upstream feature (check the workspace's plan and key)"
        case 429: reason = "the upstream rate limit was exceeded"
        default: reason = detail.map { "upstream said: \($0)" } ?? "the upstream answered HTTP \(response.status)"
        }
        logger.warning("upstream error", metadata: ["endpoint": "\(path)", "status": "\(response.status)", "code": "\(code ?? "-")"])
        let failure = GatewayError.upstreamFailed(
            status: response.status, upstreamCode: code.map { Redaction.scrub($0, secrets: secrets) },
            title: title.map { Redaction.scrub($0, secrets: secrets) }, reason: Redaction.scrub(reason, secrets: secrets))
        let retryAfter = response.header("Retry-After").flatMap(Int.init).map { Duration.seconds(max(0, $0)) }
        throw UpstreamCallError(gatewayError: failure, status: response.status, retryAfter: retryAfter)
    }
}

/// Removes secret values from text that came from elsewhere (upstream messages).
enum Redaction {
    /// `text` with every occurrence of each secret replaced by `***`.
    static func scrub(_ text: String, secrets: [String]) -> String {
        secrets.filter { !$0.isEmpty }.reduce(text) { $0.replacingOccurrences(of: $1, with: "***") }
    }
}
