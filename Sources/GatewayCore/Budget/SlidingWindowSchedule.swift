/// One workspace's upstream calls against its rolling limits: exact sliding windows, no buckets.
///
/// A call is counted from the moment it is granted until a full window after it *completed*:
/// the upstream saw it somewhere in between, so counting it at completion is the safe bound
/// whatever the network and queueing delays were. A new grant at `t` is allowed when, for every
/// limit, in-flight calls plus calls completed within `(t - window, t]` are fewer than `calls`,
/// where `window` is the limit's period plus the safety margin. Pure value type: the caller
/// supplies every instant, so it is table-tested without clocks.
public struct SlidingWindowSchedule: Sendable {
    /// One rolling limit with its effective window (period + safety margin).
    public struct Limit: Sendable, Hashable {
        /// Calls allowed per window.
        public var calls: Int
        /// The effective window length.
        public var window: Duration

        /// Creates a limit.
        public init(calls: Int, window: Duration) {
            self.calls = calls
            self.window = window
        }
    }

    private var limits: [Limit]
    private var longestWindow: Duration
    /// Calls granted and not yet completed.
    public private(set) var inFlight = 0
    /// Completion instants, oldest first, trimmed to the longest window.
    private var completions: [ContinuousClock.Instant] = []

    /// A schedule enforcing every limit.
    public init(limits: [Limit]) {
        self.limits = limits
        self.longestWindow = limits.map(\.window).max() ?? .zero
    }

    /// A schedule in a known state (e.g. the shared one read from Redis): `inFlight` calls granted
    /// and not completed, and the instants of recent completions.
    public init(limits: [Limit], inFlight: Int, completions: [ContinuousClock.Instant]) {
        self.init(limits: limits)
        self.inFlight = inFlight
        self.completions = completions.sorted()
    }

    /// Enforces `limits` from now on, keeping the calls in flight and the completions remembered
    /// (a window longer than any before knows only the completions the longest one kept).
    public mutating func relimit(_ newLimits: [Limit]) {
        limits = newLimits
        longestWindow = newLimits.map(\.window).max() ?? .zero
    }

    /// The longest window of its limits: completions older than this no longer count.
    public var horizon: Duration { longestWindow }

    /// The interval between grants that spreads each limit's calls evenly over its window (the
    /// largest `window / calls`): background work is paced by it.
    public var evenSpacing: Duration { Self.evenSpacing(of: limits) }

    /// `evenSpacing` of `limits`.
    public static func evenSpacing(of limits: [Limit]) -> Duration {
        limits.filter { $0.calls > 0 }.map { $0.window / $0.calls }.max() ?? .zero
    }

    /// The earliest instant at or after `now` when one more call may be granted, or nil while
    /// in-flight calls alone fill a limit (a completion must come first).
    public func nextAllowed(after now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        Self.nextAllowed(after: now, inFlight: inFlight, completions: completions, limits: limits)
    }

    /// The calls in flight or completed within `period` before `now` (completions older than the
    /// longest window are forgotten, so a longer period counts no more).
    public func calls(within period: Duration, at now: ContinuousClock.Instant) -> Int {
        inFlight + completions.reversed().prefix { $0 > now - period }.count
    }

    /// Counts a granted call as in flight.
    public mutating func grant() {
        inFlight += 1
    }

    /// Takes back one in-flight call that never reached the upstream: it counts in no window.
    public mutating func withdraw() {
        inFlight = max(0, inFlight - 1)
    }

    /// Moves one in-flight call to completed at `instant`, and forgets completions no window can see.
    public mutating func complete(at instant: ContinuousClock.Instant) {
        inFlight = max(0, inFlight - 1)
        let position = completions.lastIndex { $0 <= instant }.map { $0 + 1 } ?? 0
        completions.insert(instant, at: position)
        let horizon = instant - longestWindow
        if let firstKept = completions.firstIndex(where: { $0 > horizon }), firstKept > 0 {
            completions.removeFirst(firstKept)
        }
    }

    /// When the last of `count` more calls could be answered if every call, in flight or new, took
    /// `callDuration` from now or from its grant (a call frees its slot a window after it completes).
    public func projectedCompletion(of count: Int, after now: ContinuousClock.Instant, callDuration: Duration = .zero) -> ContinuousClock.Instant {
        var simulated = completions + Array(repeating: now + callDuration, count: inFlight)
        var last = now
        for _ in 0..<count {
            last = Self.nextAllowed(after: now, inFlight: 0, completions: simulated, limits: limits) ?? now
            simulated.append(last + callDuration)
        }
        return count > 0 ? last + callDuration : last
    }

    private static func nextAllowed(
        after now: ContinuousClock.Instant, inFlight: Int, completions: [ContinuousClock.Instant], limits: [Limit]
    ) -> ContinuousClock.Instant? {
        var earliest = now
        for limit in limits {
            let room = limit.calls - inFlight
            guard room > 0 else { return nil }
            // At most `room - 1` completions may remain in the window: the one `room` places back must leave it.
            if completions.count >= room {
                earliest = max(earliest, completions[completions.count - room] + limit.window)
            }
        }
        return earliest
    }
}

extension SlidingWindowSchedule {
    /// Each account's limits: every limit any of its workspace names configures, each window
    /// widened by `safetyMargin`.
    static func limitsByAccount(of workspaces: [UpstreamWorkspace], safetyMargin: Duration) -> [String: [Limit]] {
        var limitsByAccount: [String: [Limit]] = [:]
        for workspace in workspaces {
            for limit in workspace.configuration.rateLimits {
                let window = Duration.milliseconds(Int64((limit.perSeconds * 1_000).rounded(.up))) + safetyMargin
                let scheduled = Limit(calls: limit.calls, window: window)
                if !limitsByAccount[workspace.account, default: []].contains(scheduled) {
                    limitsByAccount[workspace.account, default: []].append(scheduled)
                }
            }
        }
        return limitsByAccount
    }
}
