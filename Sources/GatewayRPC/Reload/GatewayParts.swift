import CurlHTTP
import Foundation
import GatewayConfig
import GatewayCore
import Logging

/// What lives as long as the process, whatever configuration is in effect: the upstream client,
/// the shared store, the rate budget, the caches and the metrics. A reload reconfigures it in
/// place (`adopt`): nothing is emptied or reset.
struct GatewayParts: Sendable {
    let http: CurlHTTPClient
    let metrics: GatewayMetrics
    let upstreamMetrics: UpstreamMetrics
    let retrying: RetryingUpstream
    let shared: SharedStore?
    /// The shared budget's own type, for the Redis health monitor; nil without Redis.
    let sharedBudget: RedisRateBudget?
    let budget: MeteredRateBudget
    let budgetMetrics: BudgetMetrics
    let fetcher: CachedItemFetcher
    let replay: AnswerReplay
    let disconnects: ClientDisconnects
    let inFlight: CallerInFlightLimit
    /// Jobs: their store (Redis when configured) and runner's state.
    let jobs: Jobs
    /// Refresh-ahead of popular cache entries (on while the configuration has `refresh:`).
    let refresh: RefreshAhead
    let logLevel: LogLevelControl?
    let logger: Logger

    /// The parts for the configuration the process starts with.
    init(configuration: GatewayConfiguration, secrets: ResolvedSecrets, metrics: GatewayMetrics, logLevel: LogLevelControl?, logger: Logger) throws {
        let upstream = configuration.upstream
        http = try CurlHTTPClient(
            configuration: .init(
                maxConnectionsPerHost: upstream.maxConnectionsPerHost, maxTotalConnections: upstream.maxConnectionsPerHost * 2,
                maxResponseBytes: upstream.maxResponseBytes, caBundlePath: upstream.caBundle))
        let workspaces = WorkspaceDirectory(configuration: configuration, secrets: secrets)
        upstreamMetrics = UpstreamMetrics(factory: metrics.factory)
        let client = UpstreamClient(http: http, upstream: upstream, metrics: upstreamMetrics)
        shared = configuration.redis.map {
            SharedStore(
                configuration: $0, workspaces: workspaces.all, maxValueBytes: upstream.maxResponseBytes + 4_096, secrets: secrets, metrics: metrics,
                logger: logger)
        }
        sharedBudget = shared?.budget(
            upstream: upstream, listenPort: configuration.listen.port, reservedBackgroundShare: configuration.background.reservedShare)
        budgetMetrics = BudgetMetrics(factory: metrics.factory)
        budget = MeteredRateBudget(
            sharedBudget
                ?? InProcessRateBudget(
                    workspaces: workspaces.all, safetyMargin: .milliseconds(upstream.safetyMarginMs),
                    reservedBackgroundShare: configuration.background.reservedShare),
            metrics: budgetMetrics)
        retrying = RetryingUpstream(client: client, budget: budget)
        let cacheConfiguration = configuration.cache
        let ttlCeiling = Duration.seconds(max(cacheConfiguration.freshTTLSeconds, cacheConfiguration.settledTTLSeconds))
        let tier = shared?.cacheTier(maxTTL: ttlCeiling)
        let cacheMetrics = CacheMetrics(factory: metrics.factory)
        let backgroundMetrics = BackgroundMetrics(factory: metrics.factory)
        refresh = RefreshAhead(metrics: backgroundMetrics, logger: logger)
        let cache = InMemoryResponseCache(maxBytes: cacheConfiguration.maxBytes, metrics: cacheMetrics)
        fetcher = CachedItemFetcher(
            cache: cache, shared: tier, leases: tier.flatMap { [shared] in shared?.leases(through: $0) }, metrics: cacheMetrics,
            // Without `refresh:` at start, reads are not counted at all (the cache-hit path stays as it was).
            refresh: configuration.refresh == nil ? nil : refresh)
        replay = AnswerReplay(maxBytes: cacheConfiguration.replayMaxBytes, metrics: metrics.factory)
        disconnects = ClientDisconnects()
        inFlight = CallerInFlightLimit(maximum: configuration.limits.maxInFlightPerCaller, metrics: metrics)
        jobs = Jobs(
            store: shared.map { RedisJobStore(redis: $0.client, keyPrefix: $0.configuration.keyPrefix) } ?? InProcessJobStore(),
            metrics: backgroundMetrics)
        self.metrics = metrics
        self.logLevel = logLevel
        self.logger = logger
        let (budget, budgetMetrics) = (budget, budgetMetrics)
        metrics.onScrape { budgetMetrics.observeWindows(of: budget) }
        metrics.onScrape { cacheMetrics.observe(cache) }
    }

    /// Takes `configuration` (its `workspaces` resolved) from now on: the budget's limits and
    /// accounts, the shared keys' accounts, the per-caller limit, the log level and the metrics'
    /// series; the replay cache is emptied (a caller's scopes may have changed).
    func adopt(_ configuration: GatewayConfiguration, workspaces: WorkspaceDirectory) {
        budget.reconfigure(workspaces: workspaces.all)
        shared?.names.update(workspaces: workspaces.all)
        upstreamMetrics.prime(workspaces.all.map { ($0.name, $0.configuration.provider.adapter.endpoints) })
        budgetMetrics.prime(workspaces: workspaces.all)
        inFlight.configure(maximum: configuration.limits.maxInFlightPerCaller, callers: configuration.callers.map(\.name))
        if let level = Logger.Level(rawValue: configuration.log.level) { logLevel?.level = level }
        refresh.configure(configuration.refresh)
        replay.clear()
    }
}
