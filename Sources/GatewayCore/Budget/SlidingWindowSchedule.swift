/// The grant log of one workspace against its rolling limits: exact sliding windows, no buckets.
///
/// A grant at instant `t` is allowed when, for every limit, fewer than `calls` grants lie in
/// `(t - window, t]`, where `window` is the limit's period plus the safety margin. Pure value
/// type: the caller supplies every instant, so it is table-tested without clocks.
public struct SlidingWindowSchedule: Sendable {
    /// One rolling limit with its effective window (period + safety margin).
    public struct Limit: Sendable, Hashable {
        /// Grants allowed per window.
        public var calls: Int
        /// The effective window length.
        public var window: Duration

        /// Creates a limit.
        public init(calls: Int, window: Duration) {
            self.calls = calls
            self.window = window
        }
    }

    private let limits: [Limit]
    private let longestWindow: Duration
    /// Grant instants, oldest first, trimmed to the longest window.
    private var grants: [ContinuousClock.Instant] = []

    /// A schedule enforcing every limit.
    public init(limits: [Limit]) {
        self.limits = limits
        self.longestWindow = limits.map(\.window).max() ?? .zero
    }

    /// The earliest instant at or after `now` when one more grant is allowed.
    public func nextAllowed(after now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        Self.nextAllowed(after: now, grants: grants, limits: limits)
    }

    /// Records a grant at `instant` (not before the last one) and forgets grants no window can see.
    public mutating func record(_ instant: ContinuousClock.Instant) {
        grants.append(instant)
        let horizon = instant - longestWindow
        if let firstKept = grants.firstIndex(where: { $0 > horizon }), firstKept > 0 {
            grants.removeFirst(firstKept)
        }
    }

    /// When the last of `count` more grants could happen if each were taken as early as allowed.
    public func projectedCompletion(of count: Int, after now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        var simulated = grants
        var last = now
        for _ in 0..<count {
            last = Self.nextAllowed(after: now, grants: simulated, limits: limits)
            simulated.append(last)
        }
        return last
    }

    private static func nextAllowed(after now: ContinuousClock.Instant, grants: [ContinuousClock.Instant], limits: [Limit])
        -> ContinuousClock.Instant
    {
        var earliest = max(now, grants.last ?? now)
        for limit in limits where grants.count >= limit.calls {
            // The grant `calls` positions back must have left the window.
            earliest = max(earliest, grants[grants.count - limit.calls] + limit.window)
        }
        return earliest
    }
}
