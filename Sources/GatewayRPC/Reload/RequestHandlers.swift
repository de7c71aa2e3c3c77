import GatewayConfig
import GatewayCore
import Hummingbird

/// What answers requests under one configuration and its secrets: callers, workspaces, limits,
/// methods and routes. Made at start and again by each reload; a request keeps the handlers it
/// started with, so in-flight requests finish as they began.
final class RequestHandlers: Sendable {
    /// The configuration they were made from.
    let configuration: GatewayConfiguration
    /// Why the gateway is not ready under it (missing credentials, by reference).
    let problems: [String]
    let workspaces: WorkspaceDirectory
    let authenticator: CallerAuthenticator
    /// Each configured caller's identity, by name (who a job runs for).
    let callers: [String: CallerIdentity]
    let registry: MethodRegistry
    let dispatcher: RPCDispatcher
    /// `POST /rpc` and the Connect paths.
    let rpc: RPCController
    /// Every other route.
    let routes: RouterResponder<GatewayRequestContext>

    /// The per-request limits.
    var limits: LimitsConfiguration { configuration.limits }

    /// The handlers of `configuration` over the long-lived `parts`; `live` serves the ops and admin routes.
    init(configuration: GatewayConfiguration, secrets: ResolvedSecrets, parts: GatewayParts, live: LiveConfiguration) {
        self.configuration = configuration
        problems = secrets.problems
        let limits = configuration.limits
        let cache = configuration.cache
        workspaces = WorkspaceDirectory(configuration: configuration, secrets: secrets)
        let planGuard = PlanGuard(budget: parts.budget, limits: limits, metrics: parts.budgetMetrics)
        let ttlPolicy = CacheTTLPolicy(
            fresh: .seconds(cache.freshTTLSeconds), settled: .seconds(cache.settledTTLSeconds), settledAfterDays: cache.settledAfterDays)
        let path = UpstreamPath(upstream: parts.retrying, fetcher: parts.fetcher, planGuard: planGuard, ttlPolicy: ttlPolicy)
        let services = GatewayMethods.Services(
            stats: StatsService(path: path), campaigns: CampaignListService(path: path), reports: DailyReportService(path: path))
        let methods = GatewayMethods.all(services, workspaces: workspaces, limits: limits)
        let jobMethods = JobMethods.all(
            jobs: parts.jobs, methods: Dictionary(uniqueKeysWithValues: methods.map { ($0.name, $0) }), budget: parts.budget,
            configuration: configuration.jobs)
        registry = MethodRegistry(methods: methods + jobMethods, version: GatewayApplication.version)
        dispatcher = RPCDispatcher(
            registry: registry, metrics: parts.metrics, callers: configuration.callers.map(\.name), defaultTimeoutMs: limits.requestTimeoutMs,
            maxBatch: limits.maxBatch)
        authenticator = CallerAuthenticator(callers: configuration.callers, digests: secrets.tokenDigests)
        callers = Dictionary(configuration.callers.map { ($0.name, CallerIdentity(configuration: $0)) }) { first, _ in first }
        rpc = RPCController(
            dispatcher: dispatcher, registry: registry, authenticator: authenticator, maxBodyBytes: limits.maxBodyBytes,
            callLimit: limits.maxUpstreamCallsPerRequest, defaultTimeoutMs: limits.requestTimeoutMs, disconnects: parts.disconnects,
            replay: parts.replay, inFlight: parts.inFlight, logger: parts.logger)
        let router = Router(context: GatewayRequestContext.self)
        rpc.addRoutes(to: router)
        DailyZipController(
            reports: services.reports, workspaces: workspaces, authenticator: authenticator, defaultTimeoutMs: limits.requestTimeoutMs,
            callLimit: limits.maxUpstreamCallsPerRequest, disconnects: parts.disconnects, inFlight: parts.inFlight, logger: parts.logger
        ).addRoutes(to: router)
        OpsController(readinessProblems: secrets.problems, metrics: parts.metrics, redis: parts.shared?.health, live: live).addRoutes(to: router)
        AdminController(authenticator: authenticator, live: live).addRoutes(to: router)
        routes = router.buildResponder()
    }
}
