import Dates
import DynamicJSON

/// What one campaign-window key identifies: the figures of one campaign in one window.
public struct StatsCacheKey: Hashable, Sendable {
    /// Workspace name.
    public var workspace: String
    /// Campaign id.
    public var campaignID: String
    /// The window, both ends included.
    public var window: DayRange
    /// Attribution type.
    public var attribution: String
    /// Metric type.
    public var metric: String

    /// Creates a key.
    public init(workspace: String, campaignID: String, window: DayRange, attribution: String, metric: String) {
        self.workspace = workspace
        self.campaignID = campaignID
        self.window = window
        self.attribution = attribution
        self.metric = metric
    }
}

/// A cached answer: the campaign's folded figures, or the upstream's "nothing for it".
public enum CachedStats: Sendable, Hashable {
    case present(JSON)
    case absent
}

/// The outcome of a lookup.
public enum CacheLookup: Sendable, Hashable {
    /// Within its TTL.
    case fresh(CachedStats)
    /// Past its TTL; `age` is the time since it was stored (kept for stale-if-error).
    case expired(CachedStats, age: Duration)
    /// Not held.
    case miss
}

/// The per-campaign stats cache; in memory today, shareable across replicas behind this protocol.
public protocol StatsCache: Sendable {
    /// Looks a key up at `now`.
    func lookup(_ key: StatsCacheKey, now: ContinuousClock.Instant) -> CacheLookup
    /// Stores a value that stays fresh for `ttl` from `now`.
    func store(_ key: StatsCacheKey, _ value: CachedStats, ttl: Duration, now: ContinuousClock.Instant)
}

/// How long an answer stays fresh: long for windows that ended long ago, short for recent ones.
public struct CacheTTLPolicy: Sendable {
    /// TTL of a window touching recent days.
    public var fresh: Duration
    /// TTL of a settled window.
    public var settled: Duration
    /// A window is settled once it ended more than this many days before today.
    public var settledAfterDays: Int

    /// Creates a policy.
    public init(fresh: Duration, settled: Duration, settledAfterDays: Int) {
        self.fresh = fresh
        self.settled = settled
        self.settledAfterDays = settledAfterDays
    }

    /// The TTL for a window seen on `today`.
    public func ttl(for window: DayRange, today: CalendarDay) -> Duration {
        window.end.days(to: today) > settledAfterDays ? settled : fresh
    }
}
