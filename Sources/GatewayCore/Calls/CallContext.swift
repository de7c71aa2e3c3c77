import Logging

/// What every method handler knows about the call it serves.
public struct CallContext: Sendable {
    /// The longest deadline a request may ask for (`timeout_ms`, `Connect-Timeout-Ms`): 10 minutes.
    public static let maxTimeoutMs = 600_000
    /// The request id: from `X-Request-Id` or generated; sent upstream as `request_id`.
    public var requestID: String
    /// The authenticated caller.
    public var caller: CallerIdentity
    /// A logger carrying the request id.
    public var logger: Logger
    /// The upstream calls the inbound HTTP request may still plan (shared by a batch's elements).
    public var allowance: CallAllowance
    private let fixedDeadline: ContinuousClock.Instant
    private let sharedDeadline: (@Sendable () -> ContinuousClock.Instant)?

    /// Creates a call context.
    public init(requestID: String, caller: CallerIdentity, deadline: ContinuousClock.Instant, logger: Logger, allowance: CallAllowance) {
        self.requestID = requestID
        self.caller = caller
        self.fixedDeadline = deadline
        self.sharedDeadline = nil
        self.logger = logger
        self.allowance = allowance
    }

    private init(_ context: CallContext, sharedDeadline: @escaping @Sendable () -> ContinuousClock.Instant, allowance: CallAllowance) {
        requestID = context.requestID
        caller = context.caller
        logger = context.logger
        self.allowance = allowance
        fixedDeadline = context.fixedDeadline
        self.sharedDeadline = sharedDeadline
    }

    /// When the call must be answered by: the request's deadline, or for a shared upstream call the
    /// latest deadline among the requests waiting on it now.
    public var deadline: ContinuousClock.Instant { sharedDeadline?() ?? fixedDeadline }

    /// This context for a shared upstream call: its deadline is the latest of its waiters' (read
    /// when needed), and calls past its plan are paid by the longest-waiting waiter that can.
    func sharing(_ call: SharedCall) -> CallContext {
        CallContext(
            self, sharedDeadline: { call.latestDeadline }, allowance: CallAllowance(sharedBy: { call.payers }, limit: allowance.limit))
    }

    /// Milliseconds left before the deadline (0 when passed).
    public var remainingMs: Int {
        let left = deadline - ContinuousClock.now
        return max(0, Int(left.components.seconds * 1_000 + left.components.attoseconds / 1_000_000_000_000_000))
    }
}

/// An authenticated caller and what it may use.
public struct CallerIdentity: Sendable, Hashable {
    /// The caller's configured name.
    public var name: String
    /// Workspace names it may use; `*` means all.
    public var workspaces: [String]
    /// Method globs it may call.
    public var methods: [String]

    /// Creates an identity.
    public init(name: String, workspaces: [String], methods: [String]) {
        self.name = name
        self.workspaces = workspaces
        self.methods = methods
    }

    /// Whether the caller may use the workspace.
    public func mayUse(workspace: String) -> Bool {
        workspaces.contains("*") || workspaces.contains(workspace)
    }

    /// Whether the caller may call the method (globs: `*` matches any run of characters).
    public func mayCall(method: String) -> Bool {
        methods.contains { GlobPattern($0).matches(method) }
    }
}

/// A glob where `*` matches any run of characters and everything else matches itself.
struct GlobPattern {
    private let parts: [Substring]

    init(_ pattern: String) {
        parts = pattern.split(separator: "*", omittingEmptySubsequences: false)
    }

    func matches(_ text: String) -> Bool {
        guard parts.count > 1 else { return text == parts.first.map(String.init) }
        var rest = Substring(text)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for middle in parts.dropFirst().dropLast() where !middle.isEmpty {
            guard let found = rest.range(of: middle) else { return false }
            rest = rest[found.upperBound...]
        }
        return rest.hasSuffix(parts[parts.count - 1])
    }
}
