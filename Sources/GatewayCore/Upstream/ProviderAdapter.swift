import Crypto
import CurlHTTP
import Dates
import DynamicJSON
import Foundation
import GatewayConfig

/// What the gateway knows of one upstream provider: how a workspace authenticates and which
/// account's rate limits it spends. Endpoints and provider-only guards are the adapters' own.
public protocol ProviderAdapter: Sendable {
    /// The credential headers of `workspace` with key `apiKey`, and every form of the secret they
    /// put on the wire, for redaction.
    func credentials(for workspace: WorkspaceConfiguration, apiKey: Secret) -> (headers: [(name: String, value: String)], secrets: [String])
    /// The upstream account whose limits `workspace` spends (names on one account share one budget).
    func account(of workspace: WorkspaceConfiguration, apiKey: Secret?) -> String
    /// The metrics labels of the endpoints the gateway calls.
    var endpoints: [String] { get }
}

extension ProviderAdapter {
    /// `host:port` of a base URL (lower-cased host, the scheme's default port): one data centre of a provider.
    static func origin(of baseURL: String) -> String {
        let url = URLComponents(string: baseURL)
        let port = url?.port ?? (url?.scheme?.lowercased() == "http" ? 80 : 443)
        return "\(url?.host?.lowercased() ?? baseURL):\(port)"
    }
}

extension Provider {
    /// This provider's adapter.
    public var adapter: any ProviderAdapter {
        switch self {
        case .moengage: return MoEngageAdapter()
        case .migma: return MigmaAdapter()
        }
    }
}

/// MoEngage: Basic auth of `workspace_id:api_key` plus `MOE-APPKEY`; one account per data centre (host) and Workspace ID.
public struct MoEngageAdapter: ProviderAdapter {
    /// The campaign stats endpoint.
    public static let statsPath = "/core-services/v1/campaign-stats"
    /// The campaign meta endpoint.
    public static let metaPath = "/core-services/v1/campaigns/meta"
    /// The metrics label of the daily report download (its real path carries the signature).
    public static let dailyReportEndpoint = "/dailyCampaignReportDump/{app_id}/{day}.zip"

    /// The adapter.
    public init() {}

    /// See `ProviderAdapter.endpoints`.
    public var endpoints: [String] { [Self.statsPath, Self.metaPath, Self.dailyReportEndpoint] }

    /// The signed download path of one day's report.
    static func dailyReportPath(appID: String, day: CalendarDay, signature: String) -> String {
        "/dailyCampaignReportDump/\(appID)/\(DailyReportSignature.fileName(for: day))?Signature=\(signature)"
    }

    /// See `ProviderAdapter.credentials`.
    public func credentials(for workspace: WorkspaceConfiguration, apiKey: Secret) -> (headers: [(name: String, value: String)], secrets: [String]) {
        let id = workspace.workspaceID ?? ""
        let encoded = Data("\(id):\(apiKey.value)".utf8).base64EncodedString()
        return (
            [("Authorization", "Basic \(encoded)"), ("MOE-APPKEY", id)],
            [apiKey.value, "Basic \(encoded)", encoded, encoded.trimmingCharacters(in: CharacterSet(charactersIn: "="))]
        )
    }

    /// See `ProviderAdapter.account`.
    public func account(of workspace: WorkspaceConfiguration, apiKey: Secret?) -> String {
        "moengage \(Self.origin(of: workspace.baseURL)) \(workspace.workspaceID ?? workspace.name)"
    }

    /// The MoEngage Workspace ID of `workspace`; -32602 when it is another provider's (`api` names what was asked for).
    static func workspaceID(of workspace: UpstreamWorkspace, for api: String) throws -> String {
        guard workspace.configuration.provider == .moengage, let id = workspace.configuration.workspaceID else {
            throw GatewayError.invalidParams(
                field: "workspace", reason: "\(api) a MoEngage API; workspace \(workspace.name) is \(workspace.configuration.provider.rawValue)")
        }
        return id
    }
}

/// Migma: a Bearer key; one account per host and key (two names holding one key are one account).
public struct MigmaAdapter: ProviderAdapter {
    /// The metrics label of the stats endpoint.
    public static let statsEndpoint = "/v1/campaigns/{id}/stats"

    /// The adapter.
    public init() {}

    /// See `ProviderAdapter.endpoints`.
    public var endpoints: [String] { [Self.statsEndpoint] }

    /// The stats path of a campaign (ids are `[A-Za-z0-9_-]`, one safe path segment).
    static func statsPath(of id: String) -> String { "/v1/campaigns/\(id)/stats" }

    /// See `ProviderAdapter.credentials`.
    public func credentials(for workspace: WorkspaceConfiguration, apiKey: Secret) -> (headers: [(name: String, value: String)], secrets: [String]) {
        ([("Authorization", "Bearer \(apiKey.value)")], [apiKey.value, "Bearer \(apiKey.value)"])
    }

    /// See `ProviderAdapter.account`.
    public func account(of workspace: WorkspaceConfiguration, apiKey: Secret?) -> String {
        let key = apiKey.map { SHA256.hash(data: Data($0.value.utf8)).map { String(format: "%02x", $0) }.joined() } ?? "name \(workspace.name)"
        return "migma \(Self.origin(of: workspace.baseURL)) \(key)"
    }

    /// Migma's `data` object from a 200, or nil for a 404 (unknown campaign).
    static func statsObject(_ response: HTTPClientResponse) throws -> JSON? {
        guard response.status == 200 else { return nil }
        let json = try UpstreamClient.json(response)
        guard let data = json["data"], data.objectValue != nil else {
            throw UpstreamCallError(
                gatewayError: .upstreamFailed(status: 200, reason: "the Migma answer has no data object"), status: 0, retryAfter: nil)
        }
        return data
    }
}
