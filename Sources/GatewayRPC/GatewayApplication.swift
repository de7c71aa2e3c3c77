import CurlHTTP
import GatewayConfig
import GatewayCore
import Hummingbird
import Logging
import NIOCore

/// Builds the gateway: curl client, services, dispatcher, routes, and the Hummingbird application.
public enum GatewayApplication {
    /// The version reported by `rpc.discover`.
    public static let version = "0.1.0"

    /// The application for a loaded configuration and its resolved secrets.
    public static func make(
        configuration: GatewayConfiguration,
        secrets: ResolvedSecrets,
        logger: Logger,
        metrics: GatewayMetrics = GatewayMetrics(),
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let upstream = configuration.upstream
        let http = try CurlHTTPClient(
            configuration: .init(
                maxConnectionsPerHost: upstream.maxConnectionsPerHost, maxTotalConnections: upstream.maxConnectionsPerHost * 2,
                maxResponseBytes: upstream.maxResponseBytes, caBundlePath: upstream.caBundle))
        let client = UpstreamClient(http: http, upstream: upstream, metrics: UpstreamMetrics(factory: metrics.factory))
        let workspaces = WorkspaceDirectory(configuration: configuration, secrets: secrets)
        let budget = InProcessRateBudget(workspaces: workspaces.all, safetyMargin: .milliseconds(upstream.safetyMarginMs))
        let cacheConfiguration = configuration.cache
        let retrying = RetryingUpstream(client: client, budget: budget)
        let fetcher = CachedItemFetcher(cache: InMemoryResponseCache(maxBytes: cacheConfiguration.maxBytes))
        let planGuard = PlanGuard(budget: budget, limits: configuration.limits)
        let ttlPolicy = CacheTTLPolicy(
            fresh: .seconds(cacheConfiguration.freshTTLSeconds), settled: .seconds(cacheConfiguration.settledTTLSeconds),
            settledAfterDays: cacheConfiguration.settledAfterDays)
        let path = UpstreamPath(upstream: retrying, fetcher: fetcher, planGuard: planGuard, ttlPolicy: ttlPolicy)
        let services = GatewayMethods.Services(
            stats: StatsService(path: path), campaigns: CampaignListService(path: path), reports: DailyReportService(path: path))
        let registry = MethodRegistry(
            methods: GatewayMethods.all(services, workspaces: workspaces, limits: configuration.limits), version: version)
        let limits = configuration.limits
        let dispatcher = RPCDispatcher(registry: registry, metrics: metrics, defaultTimeoutMs: limits.requestTimeoutMs, maxBatch: limits.maxBatch)
        let router = Router(context: GatewayRequestContext.self)
        let disconnects = ClientDisconnects()
        let authenticator = CallerAuthenticator(callers: configuration.callers, digests: secrets.tokenDigests)
        let rpc = RPCController(
            dispatcher: dispatcher, registry: registry, authenticator: authenticator, maxBodyBytes: limits.maxBodyBytes,
            callLimit: limits.maxUpstreamCallsPerRequest, disconnects: disconnects,
            replay: AnswerReplay(maxBytes: cacheConfiguration.replayMaxBytes, metrics: metrics.factory),
            logger: logger)
        rpc.addRoutes(to: router)
        DailyZipController(
            reports: services.reports, workspaces: workspaces, authenticator: authenticator, defaultTimeoutMs: limits.requestTimeoutMs,
            callLimit: limits.maxUpstreamCallsPerRequest, disconnects: disconnects, logger: logger
        ).addRoutes(to: router)
        OpsController(readinessProblems: secrets.problems, metrics: metrics).addRoutes(to: router)
        return Application(
            responder: GatewayResponder(rpc: rpc, routes: router.buildResponder()),
            server: .http1(configuration: .init(additionalChannelHandlers: [disconnects.makeHandler()])),
            configuration: .init(address: .hostname(configuration.listen.host, port: configuration.listen.port), serverName: "campaign-gateway"),
            services: [CurlClientService(client: http)],
            onServerRunning: onServerRunning,
            logger: logger
        )
    }
}

/// Answers `POST /rpc`, the busiest route, without the router's path matching; every other
/// request (and `/rpc` with a query string) goes through the router.
struct GatewayResponder<Routes: HTTPResponder<GatewayRequestContext>>: HTTPResponder {
    let rpc: RPCController
    let routes: Routes

    func respond(to request: Request, context: GatewayRequestContext) async throws -> Response {
        if request.method == .post, request.head.path == "/rpc" { return await rpc.serveJSONRPC(request, channel: context.channel) }
        return try await routes.respond(to: request, context: context)
    }
}
