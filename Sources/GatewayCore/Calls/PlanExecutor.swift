import DynamicJSON

/// Item-wise work a service declares: the items of one scope, how many one upstream call takes,
/// how long each answer stays fresh, and the call.
public struct ItemWork: Sendable {
    /// The family of answers the items belong to (workspace and operation with its parameters).
    public var scope: CallScope
    /// The items, in request order.
    public var items: [String]
    /// Most items in one upstream call.
    public var chunkSize: Int
    /// Upstream calls one chunk takes (1, or e.g. the pages of a listing walk).
    public var callsPerChunk: Int
    /// How long an item's answer stays fresh.
    public var ttl: @Sendable (String) -> Duration
    /// One upstream call for some of the items.
    public var call: @Sendable ([String], CallContext) async throws -> ItemsAnswer

    /// Work of `items` in `scope`, `chunkSize` per `call` of `callsPerChunk` upstream calls, fresh for `ttl`.
    public init(
        scope: CallScope, items: [String], chunkSize: Int, callsPerChunk: Int = 1, ttl: @escaping @Sendable (String) -> Duration,
        call: @escaping @Sendable ([String], CallContext) async throws -> ItemsAnswer
    ) {
        self.scope = scope
        self.items = items
        self.chunkSize = chunkSize
        self.callsPerChunk = callsPerChunk
        self.ttl = ttl
        self.call = call
    }
}

/// A dry run's plan, as every method answers it under `plan`: nothing is spent.
public struct DryRunPlan: Sendable {
    /// Upstream calls a real run would make now (after the cache).
    public var estimatedCalls: Int
    /// Items the cache answers.
    public var cacheHits: Int
    /// The per-request call limit.
    public var limit: Int
    /// Milliseconds until the budget could have granted the calls.
    public var earliestCompletionMs: Int

    /// `{estimated_calls, cache_hits, limit, earliest_completion_ms}` plus the method's own `extra` members.
    public func json(_ extra: [String: JSON] = [:]) -> JSON {
        .object(
            extra.merging([
                "estimated_calls": .int(estimatedCalls), "cache_hits": .int(cacheHits), "limit": .int(limit),
                "earliest_completion_ms": .int(earliestCompletionMs),
            ]) { _, fixed in fixed })
    }
}

/// The values of a real run, per declared work in order, and what they cost.
public struct ItemResults: Sendable {
    /// Encoded values by item, one dictionary per work (items the upstream lacked are absent).
    public var values: [[String: EncodedJSON]]
    /// Calls made, cache hits, calls joined.
    public var usage = UpstreamUsage()
    /// Set when expired entries were served because the upstream failed.
    public var staleness: Staleness?
    /// For a run answered wholly from the cache: when the first entry it used expires.
    public var pureHitUntil: ContinuousClock.Instant?

    /// Puts `upstream`, `stale` and (when stale) `stale_age_s` in an answer.
    public func mark(_ answer: inout [String: JSONDocument]) {
        answer["upstream"] = .value(usage.json)
        Staleness.mark(&answer, staleness)
    }
}

/// What running a plan gave.
public enum ExecutedPlan: Sendable {
    /// A dry run: the plan, nothing spent.
    case planned(DryRunPlan)
    /// A real run's values.
    case done(ItemResults)
}

/// Runs every method's item-wise plans the same way: cache lookup (this process, then the
/// replicas' shared cache) → plan guard (call limit, budget projection, -32013/-32029 before
/// anything is spent) → the dry-run plan, or → the deadline → coalesced, budgeted fetches of
/// what the cache lacks → usage and stale flags. Services declare only their `ItemWork`.
public struct PlanExecutor: Sendable {
    let fetcher: CachedItemFetcher
    let planGuard: PlanGuard

    /// Runs `work` for `workspace`; a dry run only plans.
    public func run(_ work: [ItemWork], workspace: String, context: CallContext, dryRun: Bool) async throws -> ExecutedPlan {
        var lookups: [CachedItemFetcher.Lookup] = []
        for entry in work { lookups.append(await fetcher.lookup(entry.items, scope: entry.scope, deadline: context.deadline, countingReads: !dryRun)) }
        let estimated = zip(work, lookups).reduce(0) { total, pair in
            total + (pair.1.needed.count + pair.0.chunkSize - 1) / pair.0.chunkSize * pair.0.callsPerChunk
        }
        try planGuard.check(estimated, context: context, dryRun: dryRun)
        let hits = lookups.reduce(0) { $0 + $1.hits }
        if dryRun {
            let planned = await plan(estimated, cacheHits: hits, workspace: workspace)
            return .planned(planned)
        }
        fetcher.count(lookups)
        if lookups.allSatisfy(\.needed.isEmpty) {
            // A pure hit: no task group, no deadline, no coalescer, no budget.
            return .done(
                ItemResults(
                    values: lookups.map(\.values), usage: UpstreamUsage(cacheHits: hits), pureHitUntil: lookups.compactMap(\.freshUntil).min() ?? .now
                ))
        }
        // Claimed before the budget is asked: calls joined from identical requests cost nothing, and
        // identical requests arriving from now on join this one's calls.
        let fetches = zip(work, lookups).map { entry, lookup in
            fetcher.claim(
                lookup, scope: entry.scope, chunkSize: entry.chunkSize, callsPerChunk: entry.callsPerChunk, ttl: entry.ttl, context: context,
                call: entry.call)
        }
        let admitted: CallContext
        do {
            admitted = try await planGuard.admit(
                estimated, starting: fetches.reduce(0) { $0 + $1.startingCalls }, joinedAnswerBy: fetches.compactMap(\.joinedAnswerBy).max(),
                workspace: workspace, context: context)
        } catch {
            for fetch in fetches { fetcher.abandon(fetch, context: context) }
            throw error
        }
        for fetch in fetches { fetcher.start(fetch, context: admitted) }
        let fetched = try await withThrowingTaskGroup(of: (Int, CachedItemFetcher.Fetched).self) { [fetcher] group in
            for (index, fetch) in fetches.enumerated() {
                group.addTask {
                    let fetched = try await fetcher.finish(fetch, context: admitted)
                    return (index, fetched)
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        var results = ItemResults(values: Array(repeating: [:], count: work.count))
        for (index, fetch) in fetched {
            results.values[index] = fetch.values
            results.usage.absorb(fetch.usage)
            results.staleness = Staleness.oldest(results.staleness, fetch.staleness)
        }
        return .done(results)
    }

    /// The dry-run plan of `estimated` calls with `cacheHits` items from the cache (for work the
    /// service plans itself, like walking a listing).
    public func plan(_ estimated: Int, cacheHits: Int, workspace: String) async -> DryRunPlan {
        DryRunPlan(
            estimatedCalls: estimated, cacheHits: cacheHits, limit: planGuard.callLimit,
            earliestCompletionMs: await planGuard.earliestCompletionMs(estimated, workspace: workspace))
    }
}
