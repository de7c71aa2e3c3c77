import Dates
import Foundation

/// The one path every method's upstream calls take: the plan guard (-32013/-32029 before
/// spending), the cache and coalescing fetcher, and the retrying client paid from the rate
/// budget; with the TTL policy and the clock that decides which days are settled.
public struct UpstreamPath: Sendable {
    /// Budgeted, retried upstream calls.
    public let upstream: RetryingUpstream
    /// Cache lookups, coalesced shared calls, stale-if-error.
    public let fetcher: CachedItemFetcher
    /// Refuses plans that cannot be served.
    public let planGuard: PlanGuard
    /// How long answers stay fresh.
    public let ttlPolicy: CacheTTLPolicy
    /// Today, for settled-window TTLs.
    public let today: @Sendable () -> CalendarDay

    /// Runs item-wise plans through the guard and the fetcher.
    public var executor: PlanExecutor { PlanExecutor(fetcher: fetcher, planGuard: planGuard) }

    /// Assembles the path; `today` defaults to the UTC day of the system clock.
    public init(
        upstream: RetryingUpstream, fetcher: CachedItemFetcher, planGuard: PlanGuard, ttlPolicy: CacheTTLPolicy,
        today: @escaping @Sendable () -> CalendarDay = { CalendarDay(containing: Date()) }
    ) {
        self.upstream = upstream
        self.fetcher = fetcher
        self.planGuard = planGuard
        self.ttlPolicy = ttlPolicy
        self.today = today
    }
}
