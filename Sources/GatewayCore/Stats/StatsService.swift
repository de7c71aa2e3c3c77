import Dates
import DynamicJSON
import Foundation
import GatewayConfig

/// Serves `campaigns.getStats`: plans the fewest upstream calls, serves what the cache holds,
/// joins identical in-flight calls, fetches the rest within the shared rate budget, and merges.
public struct StatsService: Sendable {
    /// MoEngage's stats endpoint.
    public static let statsPath = "/core-services/v1/campaign-stats"

    private let upstream: RetryingUpstream
    private let budget: any RateBudget
    private let cache: any StatsCache
    private let ttlPolicy: CacheTTLPolicy
    private let limits: LimitsConfiguration
    private let coalescer = StatsCallCoalescer()
    private let today: @Sendable () -> CalendarDay

    /// Creates the service; `today` decides which windows count as settled for the cache.
    public init(
        upstream: RetryingUpstream, budget: any RateBudget, cache: any StatsCache, ttlPolicy: CacheTTLPolicy, limits: LimitsConfiguration,
        today: @escaping @Sendable () -> CalendarDay = { CalendarDay(containing: Date()) }
    ) {
        self.upstream = upstream
        self.budget = budget
        self.cache = cache
        self.ttlPolicy = ttlPolicy
        self.limits = limits
        self.today = today
    }

    /// Answers one validated request for one workspace.
    public func getStats(_ params: GetStatsParams, workspace: UpstreamWorkspace, context: CallContext) async throws -> JSON {
        guard workspace.configuration.provider == .moengage else {
            throw GatewayError.invalidParams(field: "workspace", reason: "provider \(workspace.configuration.provider.rawValue) is not served by campaigns.getStats yet")
        }
        guard params.view == "full" else { throw GatewayError.invalidParams(field: "view", reason: "view \"summary\" is not served yet") }
        guard let range = params.range else { throw GatewayError.invalidParams(field: "start_date", reason: "required for a moengage workspace") }
        let plan = StatsPlan(range: range, ids: params.campaignIDs)
        let request = StatsRequest(params: params, workspace: workspace, plan: plan, context: context)
        switch plan.isAllCampaigns ? try await collectAllCampaigns(request) : try await collectByID(request) {
        case .planOnly(let estimatedCalls, let cacheHits):
            return planOnly(request, estimatedCalls: estimatedCalls, cacheHits: cacheHits)
        case .collected(let collected):
            return StatsAnswer.render(request: request, collected: collected)
        }
    }

    // MARK: Ids given

    /// A dry run's plan, or the figures of a real run.
    private enum Collection {
        case planOnly(estimatedCalls: Int, cacheHits: Int)
        case collected(CollectedStats)
    }

    private func collectByID(_ request: StatsRequest) async throws -> Collection {
        var collected = CollectedStats(windows: request.plan.windows)
        var needed: [[String]] = Array(repeating: [], count: request.plan.windows.count)
        var expired: [StatsCacheKey: (value: CachedStats, age: Duration)] = [:]
        let now = ContinuousClock.now
        for (index, window) in request.plan.windows.enumerated() {
            for id in request.params.campaignIDs {
                let key = request.cacheKey(id, window: window)
                switch cache.lookup(key, now: now) {
                case .fresh(let value):
                    collected.upstream.cacheHits += 1
                    if case .present(let figures) = value { collected.windowFigures[index][id] = figures }
                case .expired(let value, let age):
                    expired[key] = (value, age)
                    needed[index].append(id)
                case .miss:
                    needed[index].append(id)
                }
            }
        }
        let estimated = needed.reduce(0) { $0 + ($1.count + StatsPlan.maxIDsPerCall - 1) / StatsPlan.maxIDsPerCall }
        try checkAffordable(estimated, request: request)
        if request.params.dryRun { return .planOnly(estimatedCalls: estimated, cacheHits: collected.upstream.cacheHits) }
        let windows = request.plan.windows
        let fetched = try await withDeadline(request.context.deadline) { [self, needed, expired] in
            try await withThrowingTaskGroup(of: (Int, WindowFetch).self) { group in
                for (index, ids) in needed.enumerated() where !ids.isEmpty {
                    group.addTask { (index, try await fetchWindow(ids, window: windows[index], request: request, expired: expired)) }
                }
                var all: [(Int, WindowFetch)] = []
                for try await result in group { all.append(result) }
                return all
            }
        }
        for (index, fetch) in fetched {
            collected.windowFigures[index].merge(fetch.campaigns) { _, new in new }
            collected.upstream.absorb(fetch.usage)
            collected.staleAge = [collected.staleAge, fetch.staleAge].compactMap { $0 }.max()
        }
        return .collected(collected)
    }

    /// Throws -32013 past the per-request call limit, or -32029 when the budget cannot grant `calls` before the deadline.
    private func checkAffordable(_ calls: Int, request: StatsRequest) throws {
        guard calls <= limits.maxUpstreamCallsPerRequest else {
            throw GatewayError.planTooLarge(estimatedCalls: calls, limit: limits.maxUpstreamCallsPerRequest)
        }
        guard calls > 0, !request.params.dryRun else { return }
        let completion = budget.projectedCompletion(workspace: request.workspace.name, calls: calls)
        if completion > request.context.deadline {
            throw GatewayError.rateBudgetExhausted(retryAfterMs: max(1, (completion - request.context.deadline).wholeMilliseconds), estimatedCalls: calls)
        }
    }

    /// Fetches one window's ids: joins in-flight calls, starts the missing ones, serves stale entries if the upstream fails.
    private func fetchWindow(
        _ ids: [String], window: DayRange, request: StatsRequest, expired: [StatsCacheKey: (value: CachedStats, age: Duration)]
    ) async throws -> WindowFetch {
        let key = request.windowKey(window)
        let claim = coalescer.claim(ids, key: key, chunkSize: StatsPlan.maxIDsPerCall)
        for owned in claim.owned {
            startSharedCall(owned.ids, future: owned.future, window: window, key: key, request: request)
        }
        let waits = claim.owned.map { ($0.ids, $0.future, true) } + claim.joined.map { ($0.ids, $0.future, false) }
        return try await withThrowingTaskGroup(of: ([String], Result<ChunkAnswer, any Error>, Bool).self) { group in
            for (chunk, future, owned) in waits {
                group.addTask {
                    do { return (chunk, .success(try await future.value()), owned) } catch { return (chunk, .failure(error), owned) }
                }
            }
            var fetch = WindowFetch()
            for try await (chunk, outcome, owned) in group {
                switch outcome {
                case .success(let answer):
                    for id in chunk { if let figures = answer.campaigns[id] { fetch.campaigns[id] = figures } }
                    if owned { fetch.usage.calls += answer.calls } else { fetch.usage.coalesced += 1 }
                case .failure(let error):
                    guard error is GatewayError else { throw error }
                    for id in chunk {
                        guard let stale = expired[request.cacheKey(id, window: window)] else { throw error }
                        if case .present(let figures) = stale.value { fetch.campaigns[id] = figures }
                        fetch.staleAge = max(fetch.staleAge ?? .zero, stale.age)
                    }
                    request.context.logger.warning("serving stale stats after upstream failure", metadata: ["window": "\(window)", "ids": "\(chunk.count)"])
                }
            }
            return fetch
        }
    }

    /// Runs one upstream call for others to share: it outlives a waiter's cancellation, is bounded by
    /// the deadline of the request that started it, and caches its answer before it is released.
    private func startSharedCall(_ ids: [String], future: SharedFuture<ChunkAnswer>, window: DayRange, key: StatsWindowKey, request: StatsRequest) {
        Task { [self] in
            let outcome: Result<ChunkAnswer, any Error>
            do {
                let page = try await withDeadline(request.context.deadline) { [self] in
                    try await fetchPage(ids: ids, offset: 0, window: window, request: request)
                }
                let ttl = ttlPolicy.ttl(for: window, today: today())
                let now = ContinuousClock.now
                for id in ids {
                    cache.store(request.cacheKey(id, window: window), page.campaigns[id].map(CachedStats.present) ?? .absent, ttl: ttl, now: now)
                }
                outcome = .success(ChunkAnswer(campaigns: page.campaigns, calls: page.calls))
            } catch {
                outcome = .failure(error)
            }
            coalescer.release(ids, key: key, future: future)
            future.complete(outcome)
        }
    }

    // MARK: Every campaign of the range

    private func collectAllCampaigns(_ request: StatsRequest) async throws -> Collection {
        let windows = request.plan.windows
        try checkAffordable(windows.count, request: request)
        if request.params.dryRun { return .planOnly(estimatedCalls: windows.count, cacheHits: 0) }
        var collected = CollectedStats(windows: windows)
        let pages = try await withDeadline(request.context.deadline) { [self] in
            try await withThrowingTaskGroup(of: (Int, StatsPage).self) { group in
                for (index, window) in windows.enumerated() {
                    group.addTask { (index, try await fetchPage(ids: nil, offset: 0, window: window, request: request)) }
                }
                var firstPages: [(Int, StatsPage)] = []
                for try await page in group { firstPages.append(page) }
                let remaining = firstPages.reduce(0) { $0 + max(0, $1.1.pageCount - 1) }
                try checkAffordable(windows.count + remaining, request: request)
                for (index, first) in firstPages where first.pageCount > 1 {
                    for page in 1..<first.pageCount {
                        group.addTask {
                            (index, try await fetchPage(ids: nil, offset: page * StatsPlan.maxIDsPerCall, window: windows[index], request: request))
                        }
                    }
                }
                var all = firstPages
                for try await page in group { all.append(page) }
                return all
            }
        }
        let now = ContinuousClock.now
        for (index, page) in pages {
            collected.windowFigures[index].merge(page.campaigns) { _, new in new }
            collected.upstream.calls += page.calls
            let ttl = ttlPolicy.ttl(for: windows[index], today: today())
            for (id, figures) in page.campaigns {
                cache.store(request.cacheKey(id, window: windows[index]), .present(figures), ttl: ttl, now: now)
            }
        }
        return .collected(collected)
    }

    // MARK: One upstream call

    /// One page of the stats API, folded per campaign.
    private struct StatsPage: Sendable {
        var campaigns: [String: JSON] = [:]
        var calls = 0
        var totalCampaigns = 0

        var pageCount: Int { (totalCampaigns + StatsPlan.maxIDsPerCall - 1) / StatsPlan.maxIDsPerCall }
    }

    private func fetchPage(ids: [String]?, offset: Int, window: DayRange, request: StatsRequest) async throws -> StatsPage {
        var body: [String: JSON] = [
            "request_id": .string(request.context.requestID), "start_date": .string(window.start.iso), "end_date": .string(window.end.iso),
            "attribution_type": .string(request.params.attribution), "metric_type": .string(request.params.metric),
            "offset": .int(offset), "limit": .int(StatsPlan.maxIDsPerCall),
        ]
        if let ids { body["campaign_ids"] = .array(ids.map(JSON.string)) }
        let outcome = try await upstream.post(path: Self.statsPath, body: .object(body), workspace: request.workspace, context: request.context)
        guard let data = outcome.json["data"]?.objectValue else {
            throw GatewayError.upstreamFailed(status: 200, reason: "the upstream answer has no data object")
        }
        var page = StatsPage(calls: outcome.calls, totalCampaigns: outcome.json["total_campaigns"]?.intValue ?? 0)
        for (id, elements) in data {
            guard let list = elements.arrayValue else {
                throw GatewayError.upstreamFailed(status: 200, reason: "the upstream data for a campaign is not a list")
            }
            page.campaigns[id] = StatsFold.fold(list)
        }
        return page
    }

    // MARK: Plan only

    private func planOnly(_ request: StatsRequest, estimatedCalls: Int, cacheHits: Int) -> JSON {
        let completion = budget.projectedCompletion(workspace: request.workspace.name, calls: estimatedCalls)
        return [
            "workspace": .string(request.workspace.name), "dry_run": true,
            "windows": .array(request.plan.windows.map(StatsAnswer.windowJSON)),
            "plan": [
                "estimated_calls": .int(estimatedCalls), "cache_hits": .int(cacheHits),
                "all_campaigns": .bool(request.plan.isAllCampaigns), "id_chunks": .int(request.plan.idChunks.count),
                "limit": .int(limits.maxUpstreamCallsPerRequest),
                "earliest_completion_ms": .int(max(0, (completion - ContinuousClock.now).wholeMilliseconds)),
            ],
        ]
    }
}
