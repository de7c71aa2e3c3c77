import LockedState

/// The Redis key names of the shared cache and the call leases: under the deployment's prefix,
/// with the upstream account in the hash tag, so that two deployments sharing a Redis and a
/// prefix but naming workspaces differently never read each other's entries.
public struct SharedKeyNames: Sendable {
    private let prefix: String
    /// Workspace name → account; shared by every copy, so that a reload reaches them all.
    private let accountOfWorkspace: Locked<[String: String]>

    /// Names under `prefix` for `workspaces` (their accounts).
    public init(prefix: String, workspaces: [UpstreamWorkspace]) {
        self.prefix = prefix
        accountOfWorkspace = Locked(Self.accounts(of: workspaces))
    }

    /// Names `workspaces` (a reloaded configuration) from now on; a name no longer configured keeps its account.
    public func update(workspaces: [UpstreamWorkspace]) {
        let accounts = Self.accounts(of: workspaces)
        accountOfWorkspace.withLock { $0.merge(accounts) { _, new in new } }
    }

    private static func accounts(of workspaces: [UpstreamWorkspace]) -> [String: String] {
        Dictionary(workspaces.map { ($0.name, $0.account) }, uniquingKeysWith: { first, _ in first })
    }

    /// The key of a cache entry.
    public func cache(_ key: CacheKey) -> String {
        name("cache", key.scope, key.item)
    }

    /// The key of the lease on fetching an item.
    public func lease(_ scope: CallScope, _ item: String) -> String {
        name("lease", scope, item)
    }

    private func name(_ kind: String, _ scope: CallScope, _ item: String) -> String {
        let account = accountOfWorkspace.withLock { $0[scope.workspace] } ?? "unconfigured"
        return "\(prefix)\(kind):{\(account)}:\(scope.workspace):\(scope.operation):\(item)"
    }
}
