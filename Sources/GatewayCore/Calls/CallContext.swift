import LockedState
import Logging

/// Whether the client that sent a request is still there.
public protocol ClientPresence: Sendable {
    /// Runs `work`; if the client goes away first, the work is cancelled and its own answer to
    /// that returned (work that did not need to wait still answers normally).
    func whileConnected<Value: Sendable>(logger: Logger, _ work: @escaping @Sendable () async -> Value) async -> Value
}

/// A client that is never seen leaving (work runs to its end or its deadline).
public struct AlwaysPresent: ClientPresence {
    /// A client that stays.
    public init() {}

    /// Runs `work`.
    public func whileConnected<Value: Sendable>(logger: Logger, _ work: @escaping @Sendable () async -> Value) async -> Value {
        await work()
    }
}

/// Everything about one request that the transports, the dispatcher and the method handlers
/// need: who asks, its id and logger, when it arrived and how long it may take, the upstream
/// calls it may still plan, and whether its client is still there. A batch's elements each get
/// a copy with their own id and deadline; a shared upstream call gets one whose deadline and
/// allowance follow its waiters.
public struct CallContext: Sendable {
    /// The longest deadline a request may ask for (`timeout_ms`, `Connect-Timeout-Ms`): 10 minutes.
    public static let maxTimeoutMs = 600_000
    /// The request id: from `X-Request-Id` or generated; sent upstream as `request_id`.
    public var requestID: String
    /// The request's W3C trace (kept from its `traceparent`, or new).
    public let trace: TraceContext
    /// The authenticated caller.
    public var caller: CallerIdentity
    /// The gateway's logger, before this request's metadata.
    public let baseLogger: Logger
    /// The upstream calls the inbound HTTP request may still plan (shared by a batch's elements).
    public var allowance: CallAllowance
    /// When the HTTP request arrived: every deadline of the request (each batch element's too) counts from here.
    public let arrived: ContinuousClock.Instant
    /// `Connect-Timeout-Ms` when given (at most `maxTimeoutMs`), or the -32602 for an unreadable one.
    public let headerTimeout: Result<Int?, GatewayError>
    /// The client: work that must wait is cancelled when it leaves.
    public let client: any ClientPresence
    /// The budget's admission of the calls planned (`PlanGuard.admit`), taken up by their grants.
    public var admission: BudgetAdmission?
    /// Counts the upstream calls made for the request that the budget paid for (a job's progress), when set.
    public var callsMade: CallCounter?
    private var fixedDeadline: ContinuousClock.Instant
    private let sharedDeadline: (@Sendable () -> ContinuousClock.Instant)?
    private var fixedPriority = BudgetPriority.interactive
    private let sharedPriority: (@Sendable () -> BudgetPriority)?

    /// The context of a request that arrived at `arrived`; its deadline is `Connect-Timeout-Ms` or
    /// `defaultTimeoutMs` from then until a call sets its own (`forCall`).
    public init(
        requestID: String, caller: CallerIdentity, logger: Logger, allowance: CallAllowance, arrived: ContinuousClock.Instant = .now,
        headerTimeout: Result<Int?, GatewayError> = .success(nil), client: any ClientPresence = AlwaysPresent(), defaultTimeoutMs: Int,
        trace: TraceContext = TraceContext(traceparent: nil)
    ) {
        self.requestID = requestID
        self.trace = trace
        self.caller = caller
        baseLogger = logger
        self.allowance = allowance
        self.arrived = arrived
        self.headerTimeout = headerTimeout
        self.client = client
        fixedDeadline = arrived + .milliseconds((try? headerTimeout.get()) ?? defaultTimeoutMs)
        sharedDeadline = nil
        sharedPriority = nil
    }

    /// The context of background work (a job, a refresh) for `caller`, due by `deadline`, which may plan `allowance`.
    public init(
        backgroundFor caller: CallerIdentity, requestID: String, logger: Logger, allowance: CallAllowance, deadline: ContinuousClock.Instant
    ) {
        self.init(requestID: requestID, caller: caller, logger: logger, allowance: allowance, defaultTimeoutMs: 0)
        fixedDeadline = deadline
        fixedPriority = .background
    }

    /// This context for one call: its deadline is `paramMs` (`timeout_ms`) when given, else
    /// `Connect-Timeout-Ms`, else `defaultMs`, counted from the request's arrival; -32602 when the
    /// header is unreadable.
    public func forCall(paramMs: Int?, defaultMs: Int) throws(GatewayError) -> CallContext {
        let headerMs = try headerTimeout.get()
        var call = self
        call.fixedDeadline = arrived + .milliseconds(paramMs ?? headerMs ?? defaultMs)
        return call
    }

    /// This context for one element of a batch: its own request id (and so logger).
    public func element(_ index: Int) -> CallContext {
        var element = self
        element.requestID = "\(requestID)-\(index)"
        return element
    }

    /// A logger carrying the request id and trace id; made when something is logged, as setting
    /// metadata costs a log handler's re-rendering, which a request that logs nothing should not pay.
    public var logger: Logger { baseLogger.carrying(requestID: requestID, traceID: trace.traceID) }

    /// Whether `logger` writes messages of `level` (checked before making it).
    public func logs(_ level: Logger.Level) -> Bool { baseLogger.logLevel <= level }

    private init(
        _ context: CallContext, sharedDeadline: @escaping @Sendable () -> ContinuousClock.Instant,
        sharedPriority: @escaping @Sendable () -> BudgetPriority, allowance: CallAllowance
    ) {
        requestID = context.requestID
        trace = context.trace
        caller = context.caller
        baseLogger = context.baseLogger
        self.allowance = allowance
        arrived = context.arrived
        headerTimeout = context.headerTimeout
        client = context.client
        admission = context.admission
        callsMade = context.callsMade
        fixedDeadline = context.fixedDeadline
        self.sharedDeadline = sharedDeadline
        self.sharedPriority = sharedPriority
    }

    /// When the call must be answered by: the request's deadline, or for a shared upstream call the
    /// latest deadline among the requests waiting on it now.
    public var deadline: ContinuousClock.Instant { sharedDeadline?() ?? fixedDeadline }

    /// The class of its upstream calls in the rate budget: background for a job or a refresh,
    /// and for a shared upstream call interactive while any interactive request waits on it.
    public var priority: BudgetPriority { sharedPriority?() ?? fixedPriority }

    /// This context for a shared upstream call: its deadline is the latest of its waiters' (read
    /// when needed), and calls past its plan are paid by the longest-waiting waiter that can.
    func sharing(_ call: SharedCall) -> CallContext {
        CallContext(
            self, sharedDeadline: { call.latestDeadline }, sharedPriority: { call.priority },
            allowance: CallAllowance(sharedBy: { call.payers }, limit: allowance.limit))
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
    /// Whether it may use the admin endpoints.
    public var isAdmin: Bool

    /// Creates an identity.
    public init(name: String, workspaces: [String], methods: [String], isAdmin: Bool = false) {
        self.name = name
        self.workspaces = workspaces
        self.methods = methods
        self.isAdmin = isAdmin
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

extension Logger {
    /// This logger with a request's `request_id` and `trace_id` metadata.
    public func carrying(requestID: String, traceID: String) -> Logger {
        var logger = self
        logger[metadataKey: "request_id"] = "\(requestID)"
        logger[metadataKey: "trace_id"] = "\(traceID)"
        return logger
    }
}

/// How many upstream calls some work made, counted as they are made (a job's progress), and how
/// many are still in flight, so that a run that stops can wait for its calls to settle before it
/// records the count (a shared call may outlive the request that started it by a moment).
public final class CallCounter: Sendable {
    private struct Counts {
        var made: Int
        var inFlight = 0
    }
    private let counts: Locked<Counts>

    /// A counter at `initial`.
    public init(_ initial: Int = 0) {
        counts = Locked(Counts(made: initial))
    }

    /// The calls counted so far.
    public var value: Int { counts.withLock { $0.made } }

    /// A call was granted and is about to be sent.
    public func began() {
        counts.withLock { $0.inFlight += 1 }
    }

    /// A call begun has ended; it counts when the budget counts it as sent (it may have reached the upstream).
    public func ended(reached: Bool) {
        counts.withLock {
            $0.inFlight -= 1
            if reached { $0.made += 1 }
        }
    }

    /// Waits until no call is in flight, `limit` has passed or the task is cancelled; the calls counted then.
    public func settled(within limit: Duration) async -> Int {
        let end = ContinuousClock.now + limit
        while counts.withLock({ $0.inFlight }) > 0, ContinuousClock.now < end {
            do { try await Task.sleep(for: .milliseconds(10)) } catch { break }
        }
        return value
    }
}
