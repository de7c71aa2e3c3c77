import DynamicJSON

/// Serves `campaigns.list`: walks every campaign-meta page, or asks per id, whichever costs fewer
/// calls, through the same budget, retries, cache and coalescing as every other method.
public struct CampaignListService: Sendable {
    private let path: UpstreamPath
    private var upstream: RetryingUpstream { path.upstream }
    private var fetcher: CachedItemFetcher { path.fetcher }
    /// Metadata changes (reachability refreshes daily): listings stay fresh for the fresh TTL.
    private var ttl: Duration { path.ttlPolicy.fresh }

    /// Creates the service over the shared upstream path.
    public init(path: UpstreamPath) {
        self.path = path
    }

    /// How a request is served.
    enum Strategy: String {
        case listAndFilter = "list_and_filter"
        case idFilter = "id_filter"
    }

    /// Answers one validated request for one workspace.
    public func list(_ params: ListCampaignsParams, workspace: UpstreamWorkspace, context: CallContext) async throws -> JSON {
        _ = try MoEngageAdapter.workspaceID(of: workspace, for: "campaigns.list is")
        let filters = params.campaignFields
        let listingScope = CallScope(
            workspace: workspace.name, operation: "meta \(JSON.object(filters).encodedString()) children=\(params.includeChildren)")
        let listing = await fetcher.lookup(["listing"], scope: listingScope, deadline: context.deadline, countingReads: false)
        let idScope = CallScope(
            workspace: workspace.name, operation: "meta-id \(JSON.object(filters).encodedString()) children=\(params.includeChildren)")
        let perID = params.campaignIDs.isEmpty ? nil : await fetcher.lookup(params.campaignIDs, scope: idScope, deadline: context.deadline, countingReads: false)
        let walkCost = listing.needed.isEmpty ? 0 : Self.walkCost(remembered: listing.expired["listing"]?.value)
        let strategy = Self.strategy(idsNeeded: perID?.needed.count, walkCost: walkCost)
        let work: ItemWork
        switch strategy {
        case .listAndFilter:
            let planned = walkCost ?? 1
            work = ItemWork(scope: listingScope, items: ["listing"], chunkSize: 1, callsPerChunk: planned, ttl: { [ttl] _ in ttl }) {
                [self] _, context in
                let walked = try await walk(
                    filters: filters, includeChildren: params.includeChildren, workspace: workspace, context: context, planned: planned)
                return ItemsAnswer(values: ["listing": .array(walked.campaigns)], calls: walked.calls)
            }
        case .idFilter:
            work = ItemWork(scope: idScope, items: params.campaignIDs, chunkSize: 1, ttl: { [ttl] _ in ttl }) { [self] ids, context in
                var byID = filters
                byID["id"] = .string(ids[0])
                let page = try await fetchPage(1, filters: byID, includeChildren: params.includeChildren, workspace: workspace, context: context)
                let match = page.campaigns.first { $0["campaign_id"]?.stringValue == ids[0] }
                return ItemsAnswer(values: match.map { [ids[0]: $0] } ?? [:], calls: page.calls)
            }
        }
        let results: ItemResults
        switch try await path.executor.run([work], workspace: workspace.name, context: context, dryRun: params.dryRun) {
        case .planned(let plan):
            return ["workspace": .string(workspace.name), "dry_run": true, "plan": plan.json(["strategy": .string(strategy.rawValue)])]
        case .done(let done):
            results = done
        }
        let campaigns: [JSON]
        switch strategy {
        case .listAndFilter:
            let all = try results.values[0]["listing"]?.decoded().arrayValue ?? []
            let wanted = Set(params.campaignIDs)
            campaigns = wanted.isEmpty ? all : all.filter { wanted.contains($0["campaign_id"]?.stringValue ?? "") }
        case .idFilter:
            campaigns = try params.campaignIDs.compactMap { try results.values[0][$0]?.decoded() }
        }
        let usage = results.usage
        context.logger.info("campaign listing", metadata: ["strategy": "\(strategy.rawValue)", "calls": "\(usage.calls)"])
        return ["workspace": .string(workspace.name), "campaigns": .array(CampaignListing.groupingChildren(campaigns)), "upstream": usage.json]
    }

    /// What walking the listing again would cost, from its expired copy (nil when none is cached:
    /// the cache's byte bound bounds what is remembered).
    static func walkCost(remembered: CachedValue?) -> Int? {
        guard case .present(let listing)? = remembered, let campaigns = try? listing.decoded().arrayValue else { return nil }
        return campaigns.count / CampaignListing.pageSize + 1
    }

    /// The cheaper way to serve a request: no ids → walk the listing; a cached listing, or a known
    /// listing that costs fewer calls than asking per id → list and filter; otherwise one call per
    /// uncached id (its cost is known, a walk of unknown length is not).
    static func strategy(idsNeeded: Int?, walkCost: Int?) -> Strategy {
        guard let idsNeeded else { return .listAndFilter }
        if let walkCost, walkCost < idsNeeded || walkCost == 0 { return .listAndFilter }
        return .idFilter
    }

    /// Walks pages 1, 2, … until one is shorter than the page size (an exact multiple needs the empty page after it).
    /// Walks the listing; pages past the `planned` ones are counted against the request's allowance
    /// one by one, so a longer listing than planned stops at the cap (-32013) before the next call.
    private func walk(filters: [String: JSON], includeChildren: Bool, workspace: UpstreamWorkspace, context: CallContext, planned: Int)
        async throws -> (campaigns: [JSON], calls: Int)
    {
        var campaigns: [JSON] = []
        var calls = 0
        for number in 1... {
            if number > planned {
                try context.allowance.reserve(1, reason: "the listing has more pages than one request may walk")
            }
            let page = try await fetchPage(number, filters: filters, includeChildren: includeChildren, workspace: workspace, context: context)
            campaigns += page.campaigns
            calls += page.calls
            if page.campaigns.count < CampaignListing.pageSize { break }
        }
        return (campaigns, calls)
    }

    private func fetchPage(_ number: Int, filters: [String: JSON], includeChildren: Bool, workspace: UpstreamWorkspace, context: CallContext)
        async throws -> (campaigns: [JSON], calls: Int)
    {
        var body: [String: JSON] = [
            "request_id": .string(context.requestID), "page": .int(number), "limit": .int(CampaignListing.pageSize),
            "include_child_campaigns": .bool(includeChildren),
        ]
        if !filters.isEmpty { body["campaign_fields"] = .object(filters) }
        let outcome = try await upstream.call(
            UpstreamRequest(method: "POST", path: MoEngageAdapter.metaPath, body: .object(body)), workspace: workspace, context: context
        ) { response in
            guard let campaigns = CampaignListing.campaigns(in: try UpstreamClient.json(response)) else {
                throw UpstreamCallError(
                    gatewayError: .upstreamFailed(status: 200, reason: "the campaign-meta answer holds no campaign list"), status: 0, retryAfter: nil)
            }
            return campaigns
        }
        return (outcome.value, outcome.calls)
    }
}
