import Crypto
import Foundation
import GatewayConfig

/// A configured workspace with its resolved credentials (nil when missing).
public struct UpstreamWorkspace: Sendable {
    /// The workspace's configuration.
    public let configuration: WorkspaceConfiguration
    /// The API key, when it could be resolved.
    public let apiKey: Secret?
    /// The daily-report secret key, when configured and resolved.
    public let secretKey: Secret?

    /// Creates a workspace from its configuration and resolved secrets.
    public init(configuration: WorkspaceConfiguration, apiKey: Secret?, secretKey: Secret?) {
        self.configuration = configuration
        self.apiKey = apiKey
        self.secretKey = secretKey
    }

    /// The name callers use.
    public var name: String { configuration.name }

    /// The upstream account whose rate limits the workspace spends; names on one account share
    /// one budget. The configured `budget_group` when given; else MoEngage's Workspace ID, or for
    /// Migma the host and port with a digest of the resolved key (two names holding one key are one
    /// account, whatever their env or file references).
    public var account: String {
        if let group = configuration.budgetGroup { return "group \(group)" }
        return configuration.provider.adapter.account(of: configuration, apiKey: apiKey)
    }
}

/// All workspaces by name, and the choice of workspace for a call.
public struct WorkspaceDirectory: Sendable {
    private let byName: [String: UpstreamWorkspace]
    private let names: [String]

    /// Builds the directory from the configuration and its resolved secrets.
    public init(configuration: GatewayConfiguration, secrets: ResolvedSecrets) {
        names = configuration.workspaces.map(\.name)
        byName = Dictionary(
            uniqueKeysWithValues: configuration.workspaces.map {
                ($0.name, UpstreamWorkspace(configuration: $0, apiKey: secrets.apiKeys[$0.name], secretKey: secrets.secretKeys[$0.name]))
            })
    }

    /// Every configured workspace.
    public var all: [UpstreamWorkspace] { names.compactMap { byName[$0] } }

    /// The workspace a call names, or the caller's only workspace when it names none.
    ///
    /// A caller limited to some workspaces gets -32003 for any other name, known or not, so it
    /// cannot probe which workspaces exist; a caller allowed `*` gets -32602 for an unknown name.
    public func resolve(_ requested: String?, for caller: CallerIdentity) throws(GatewayError) -> UpstreamWorkspace {
        guard let name = requested else {
            let usable = names.filter(caller.mayUse(workspace:))
            guard usable.count == 1 else {
                throw .invalidParams(field: "workspace", reason: "required: this caller may use \(usable.count) workspaces")
            }
            return byName[usable[0]]!
        }
        guard caller.mayUse(workspace: name) else { throw .forbiddenWorkspace(name) }
        guard let workspace = byName[name] else { throw .invalidParams(field: "workspace", reason: "unknown workspace \"\(name)\"") }
        return workspace
    }
}
