import Dates
import DynamicJSON
import Foundation
import GatewayConfig

/// Serves `campaigns.getStats`: plans the fewest upstream calls, serves what the cache holds,
/// joins identical in-flight calls, fetches the rest within the shared rate budget, and merges.
public struct StatsService: Sendable {
    let path: UpstreamPath
    var upstream: RetryingUpstream { path.upstream }
    var fetcher: CachedItemFetcher { path.fetcher }
    var ttlPolicy: CacheTTLPolicy { path.ttlPolicy }
    private var planGuard: PlanGuard { path.planGuard }
    private var today: () -> CalendarDay { path.today }

    /// Creates the service over the shared upstream path.
    public init(path: UpstreamPath) {
        self.path = path
    }

    /// Answers one validated request for one workspace. An answer made wholly from the cache is
    /// kept in the answer cache until the first of its entries expires; `cachedAnswer` reads it
    /// (the dispatcher asks it before calling this).
    public func getStats(_ params: GetStatsParams, workspace: UpstreamWorkspace, context: CallContext) async throws -> JSONDocument {
        if workspace.configuration.provider == .migma {
            return try await migmaStats(params, workspace: workspace, context: context)
        }
        guard let range = params.range else { throw GatewayError.invalidParams(field: "start_date", reason: "required for a moengage workspace") }
        let plan = StatsPlan(range: range, ids: params.campaignIDs)
        let request = StatsRequest(params: params, workspace: workspace, plan: plan, context: context)
        switch plan.isAllCampaigns ? try await collectAllCampaigns(request) : try await collectByID(request) {
        case .planOnly(let plan):
            return .value(planOnly(request, plan))
        case .collected(let collected, let pureHitUntil):
            let answer = try StatsAnswer.render(request: request, collected: collected)
            guard let pureHitUntil, let key = Self.answerKey(params) else { return answer }
            let encoded = EncodedJSON(writtenBytes: answer.encodedBytes())
            fetcher.storeAnswer(
                encoded, key: key, scope: Self.answerScope(workspace), expires: pureHitUntil,
                madeFrom: plan.windows.flatMap { window in params.campaignIDs.map { CacheKey(scope: request.scope(window), item: $0) } })
            return .encoded(encoded)
        }
    }

    /// The whole answer when the answer cache holds it: a MoEngage question with ids, not a dry run,
    /// answered wholly from the cache before and none of its entries expired since.
    public func cachedAnswer(_ params: GetStatsParams, workspace: UpstreamWorkspace) -> CachedAnswer? {
        guard workspace.configuration.provider == .moengage, let key = Self.answerKey(params) else { return nil }
        return fetcher.answer(key: key, scope: Self.answerScope(workspace))
    }

    /// The answer cache's key of a question it may hold: every param that shapes the answer, ids in request order.
    private static func answerKey(_ params: GetStatsParams) -> String? {
        guard let range = params.range, !params.campaignIDs.isEmpty, !params.dryRun else { return nil }
        return "getStats \(params.attribution) \(params.metric) \(range) \(params.view) \(params.campaignIDs.joined(separator: ","))"
    }

    private static func answerScope(_ workspace: UpstreamWorkspace) -> CallScope {
        CallScope(workspace: workspace.name, operation: "answer")
    }

    // MARK: Ids given

    /// A dry run's plan, or the figures of a real run; for a run served wholly from the cache,
    /// when the first entry it used expires.
    private enum Collection {
        case planOnly(DryRunPlan)
        case collected(CollectedStats, pureHitUntil: ContinuousClock.Instant?)
    }

    private func collectByID(_ request: StatsRequest) async throws -> Collection {
        let windows = request.plan.windows
        let work = windows.map { window in
            let ttl = ttlPolicy.ttl(for: window, today: today())
            return ItemWork(scope: request.scope(window), items: request.params.campaignIDs, chunkSize: StatsPlan.maxIDsPerCall, ttl: { _ in ttl }) {
                [self] ids, context in
                let page = try await fetchPage(ids: ids, offset: 0, window: window, request: request, context: context)
                return ItemsAnswer(values: page.campaigns, calls: page.calls)
            }
        }
        switch try await path.executor.run(work, workspace: request.workspace.name, context: request.context, dryRun: request.params.dryRun) {
        case .planned(let plan):
            return .planOnly(plan)
        case .done(let results):
            var collected = CollectedStats(windows: windows)
            collected.windowFigures = results.values
            collected.upstream = results.usage
            collected.staleness = results.staleness
            return .collected(collected, pureHitUntil: results.pureHitUntil)
        }
    }

    /// Throws -32013 past the per-request call limit, or -32029 when the budget cannot grant `calls` before the deadline;
    /// the context to make them with.
    func admit(_ calls: Int, request: StatsRequest) async throws -> CallContext {
        try await planGuard.admit(calls, workspace: request.workspace.name, context: request.context, dryRun: request.params.dryRun)
    }

    // MARK: Every campaign of the range

    private func collectAllCampaigns(_ request: StatsRequest) async throws -> Collection {
        let windows = request.plan.windows
        let firstPagesContext = try await admit(windows.count, request: request)
        if request.params.dryRun {
            let plan = await path.executor.plan(windows.count, cacheHits: 0, workspace: request.workspace.name)
            return .planOnly(plan)
        }
        var collected = CollectedStats(windows: windows)
        let pages = try await withDeadline(request.context.deadline) { [self] in
            try await withThrowingTaskGroup(of: (Int, StatsPage).self) { group in
                for (index, window) in windows.enumerated() {
                    group.addTask {
                        let page = try await listingPage(offset: 0, window: window, request: request, context: firstPagesContext)
                        return (index, page)
                    }
                }
                var firstPages: [(Int, StatsPage)] = []
                for try await page in group { firstPages.append(page) }
                let remaining = firstPages.reduce(0) { total, page in
                    let (sum, overflow) = total.addingReportingOverflow(page.1.pageCount - 1)
                    return overflow ? Int.max : sum
                }
                let laterPagesContext = try await admit(remaining, request: request)
                for (index, first) in firstPages where first.pageCount > 1 {
                    for page in 1..<first.pageCount {
                        group.addTask {
                            let offset = page * StatsPlan.maxIDsPerCall
                            return (
                                index,
                                try await listingPage(offset: offset, window: windows[index], request: request, context: laterPagesContext)
                            )
                        }
                    }
                }
                var all = firstPages
                for try await page in group { all.append(page) }
                return all
            }
        }
        var firstPaging: [Int: ListingPaging] = [:]
        var figures = Array(repeating: [String: JSON](), count: windows.count)
        // In listing order, whatever order the pages arrived in, so the same pages give the same figures.
        for (index, page) in pages.sorted(by: { ($0.0, $0.1.offset) < ($1.0, $1.1.offset) }) {
            if let paging = page.paging {
                if let first = firstPaging[index] { try paging.checkSameListing(as: first) } else { firstPaging[index] = paging }
            }
            for (id, tree) in page.campaigns {
                // A campaign on two pages is folded like two elements of its array, unless the pages
                // repeat the same figures (the listing moved under the offsets): then it counts once.
                figures[index][id] = try figures[index][id].map { $0 == tree ? tree : try StatsFold.merge($0, tree) } ?? tree
            }
            collected.upstream.calls += page.calls
        }
        for (index, paging) in firstPaging { try paging.checkHolds(figures[index].count) }
        for (index, window) in windows.enumerated() {
            collected.windowFigures[index] = figures[index].mapValues(EncodedJSON.init)
            fetcher.store(collected.windowFigures[index], scope: request.scope(window), ttl: ttlPolicy.ttl(for: window, today: today()))
        }
        return .collected(collected, pureHitUntil: nil)
    }

    // MARK: One upstream call

    /// One page of the stats API, folded per campaign.
    private struct StatsPage: Sendable {
        var offset: Int
        var campaigns: [String: JSON] = [:]
        var calls = 0
        /// What an all-campaigns page says about its listing.
        var paging: ListingPaging?

        /// Pages of the listing this page belongs to (1 for a page of given ids).
        var pageCount: Int { paging?.pageCount ?? 1 }

        /// A listing page as the cache keeps it: its folded campaigns and its listing's totals.
        var cacheEntry: EncodedJSON {
            var entry: [String: JSON] = ["data": .object(campaigns)]
            if let total = paging?.totalCampaigns { entry["total_campaigns"] = .int(total) }
            if let pages = paging?.totalPages { entry["total_pages"] = .int(pages) }
            return EncodedJSON(.object(entry))
        }

        /// A listing page from the cache (no call made); nil when the entry is not one.
        init?(cached: EncodedJSON, offset: Int) {
            guard let entry = try? cached.decoded(), let data = entry["data"]?.objectValue,
                let paging = try? ListingPaging(answer: entry, campaignsOnPage: data.count)
            else { return nil }
            self.offset = offset
            campaigns = data
            self.paging = paging
        }

        init(offset: Int, calls: Int) {
            self.offset = offset
            self.calls = calls
        }
    }

    /// One page of an all-campaigns listing. Background work (a job) keeps each page in the cache as
    /// it arrives, under its own request id, and reads it from there, so that the job resumed by
    /// another replica does not walk again the pages walked before it stopped; any other run walks
    /// the listing afresh (pages of one walk must describe one listing).
    private func listingPage(offset: Int, window: DayRange, request: StatsRequest, context: CallContext) async throws -> StatsPage {
        guard context.priority == .background else {
            return try await fetchPage(ids: nil, offset: offset, window: window, request: request, context: context)
        }
        // Kept for this work only (a job's runs share its request id): pages of one walk describe one listing.
        let scope = CallScope(
            workspace: request.workspace.name,
            operation: "stats-page \(context.requestID) \(request.params.attribution) \(request.params.metric) \(window)")
        let item = String(offset)
        if let cached = await fetcher.lookup([item], scope: scope, deadline: context.deadline, countingReads: false).values[item],
            let page = StatsPage(cached: cached, offset: offset)
        {
            return page
        }
        let page = try await fetchPage(ids: nil, offset: offset, window: window, request: request, context: context)
        fetcher.store([item: page.cacheEntry], scope: scope, ttl: ttlPolicy.ttl(for: window, today: today()))
        return page
    }

    private func fetchPage(ids: [String]?, offset: Int, window: DayRange, request: StatsRequest, context: CallContext) async throws -> StatsPage {
        var body: [String: JSON] = [
            "request_id": .string(context.requestID), "start_date": .string(window.start.iso), "end_date": .string(window.end.iso),
            "attribution_type": .string(request.params.attribution), "metric_type": .string(request.params.metric),
            "offset": .int(offset), "limit": .int(StatsPlan.maxIDsPerCall),
        ]
        if let ids { body["campaign_ids"] = .array(ids.map(JSON.string)) }
        let outcome = try await upstream.postJSON(
            path: MoEngageAdapter.statsPath, body: .object(body), workspace: request.workspace, context: context)
        guard let data = outcome.value["data"]?.objectValue else {
            throw GatewayError.upstreamFailed(status: 200, reason: "the upstream answer has no data object")
        }
        var page = StatsPage(offset: offset, calls: outcome.calls)
        if ids == nil { page.paging = try ListingPaging(answer: outcome.value, campaignsOnPage: data.count) }
        for (id, elements) in data {
            guard let list = elements.arrayValue else {
                throw GatewayError.upstreamFailed(status: 200, reason: "the upstream data for a campaign is not a list")
            }
            page.campaigns[id] = try StatsFold.fold(list)
        }
        return page
    }

    // MARK: Plan only

    func planOnly(_ request: StatsRequest, _ plan: DryRunPlan) -> JSON {
        [
            "workspace": .string(request.workspace.name), "dry_run": true,
            "windows": .array(request.plan.windows.map(StatsAnswer.windowJSON)),
            "plan": plan.json(["all_campaigns": .bool(request.plan.isAllCampaigns), "id_chunks": .int(request.plan.idChunks.count)]),
        ]
    }
}
