import CurlHTTP
import Foundation
import GatewayConfig
import GatewayCore
import Hummingbird
import Logging
import NIOCore
import RedisClient
import ServiceLifecycle

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
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in },
        onGRPCListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let upstream = configuration.upstream
        let http = try CurlHTTPClient(
            configuration: .init(
                maxConnectionsPerHost: upstream.maxConnectionsPerHost, maxTotalConnections: upstream.maxConnectionsPerHost * 2,
                maxResponseBytes: upstream.maxResponseBytes, caBundlePath: upstream.caBundle))
        let client = UpstreamClient(http: http, upstream: upstream, metrics: UpstreamMetrics(factory: metrics.factory))
        let workspaces = WorkspaceDirectory(configuration: configuration, secrets: secrets)
        let shared = configuration.redis.map {
            SharedStore(
                configuration: $0, workspaces: workspaces.all, maxValueBytes: upstream.maxResponseBytes + 4_096, secrets: secrets, metrics: metrics,
                logger: logger)
        }
        let sharedBudget = shared?.budget(upstream: upstream, listenPort: configuration.listen.port)
        let budget: any RateBudget =
            sharedBudget
            ?? InProcessRateBudget(workspaces: workspaces.all, safetyMargin: .milliseconds(upstream.safetyMarginMs))
        let cacheConfiguration = configuration.cache
        let retrying = RetryingUpstream(client: client, budget: budget)
        let ttlCeiling = Duration.seconds(max(cacheConfiguration.freshTTLSeconds, cacheConfiguration.settledTTLSeconds))
        let tier = shared?.cacheTier(maxTTL: ttlCeiling)
        let fetcher = CachedItemFetcher(
            cache: InMemoryResponseCache(maxBytes: cacheConfiguration.maxBytes, metrics: metrics.factory), shared: tier, leases: tier.flatMap { shared?.leases(through: $0) })
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
        let replay = AnswerReplay(maxBytes: cacheConfiguration.replayMaxBytes, metrics: metrics.factory)
        let rpc = RPCController(
            dispatcher: dispatcher, registry: registry, authenticator: authenticator, maxBodyBytes: limits.maxBodyBytes,
            callLimit: limits.maxUpstreamCallsPerRequest, defaultTimeoutMs: limits.requestTimeoutMs, disconnects: disconnects,
            replay: replay, logger: logger)
        rpc.addRoutes(to: router)
        DailyZipController(
            reports: services.reports, workspaces: workspaces, authenticator: authenticator, defaultTimeoutMs: limits.requestTimeoutMs,
            callLimit: limits.maxUpstreamCallsPerRequest, disconnects: disconnects, logger: logger
        ).addRoutes(to: router)
        OpsController(readinessProblems: secrets.problems, metrics: metrics, redis: shared?.health).addRoutes(to: router)
        return Application(
            responder: GatewayResponder(rpc: rpc, routes: router.buildResponder()),
            server: .http1(configuration: .init(additionalChannelHandlers: [disconnects.makeHandler()])),
            configuration: .init(address: .hostname(configuration.listen.host, port: configuration.listen.port), serverName: "campaign-gateway"),
            services: [CurlClientService(client: http), AllocatorTrimService(metrics: metrics.factory)]
                + (shared.map { [RedisHealthMonitor(redis: $0.client, health: $0.health, budget: sharedBudget, logger: logger)] } ?? [])
                + (configuration.grpc.map { grpc -> [any Service] in
                    let api = GatewayGRPCService(
                        dispatcher: dispatcher, registry: registry, authenticator: authenticator, callLimit: limits.maxUpstreamCallsPerRequest,
                        defaultTimeoutMs: limits.requestTimeoutMs, replay: replay, logger: logger)
                    let apiServices = Array(Set(registry.rpcMethods.compactMap(\.rpc?.service))).sorted()
                    let served = apiServices + ["grpc.health.v1.Health"] + ReflectionService.serviceNames
                    let health = HealthService(
                        readinessProblems: secrets.problems, workspaces: workspaces.all.map(\.name), services: served, authenticator: authenticator)
                    // Reflection lists what its descriptors describe: v1alpha is the same protocol, served for older tools.
                    let reflection = ReflectionService(catalog: .generated, services: served.filter { !$0.hasPrefix("grpc.reflection.v1alpha.") })
                    return [
                        GRPCServerService(
                            configuration: grpc, services: [api, health, reflection], maxRequestBytes: limits.maxBodyBytes,
                            onListening: onGRPCListening, logger: logger)
                    ]
                } ?? []),
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

/// The Redis the replicas share: its client, its health, and the components built on it for `workspaces`.
struct SharedStore {
    let client: RedisClient
    let health: SharedStoreHealth
    let configuration: RedisConfiguration
    let workspaces: [UpstreamWorkspace]
    /// The names of the cache's and the leases' keys.
    let names: SharedKeyNames

    /// A store for `configuration` and `workspaces`, reading values of at most `maxValueBytes` (the largest a cache entry can be).
    init(
        configuration: RedisConfiguration, workspaces: [UpstreamWorkspace], maxValueBytes: Int, secrets: ResolvedSecrets, metrics: GatewayMetrics,
        logger: Logger
    ) {
        var options = RedisClientOptions()
        options.maxValueBytes = maxValueBytes
        options.connectTimeout = .milliseconds(configuration.connectTimeoutMs)
        options.commandTimeout = .milliseconds(configuration.commandTimeoutMs)
        options.poolSize = configuration.poolSize
        client = RedisClient(
            endpoint: RedisEndpoint(
                host: configuration.host, port: configuration.port, database: configuration.database, username: configuration.username,
                password: secrets.redisPassword?.value, tls: configuration.tls ? RedisTLS(caFile: configuration.caFile) : nil),
            options: options)
        health = SharedStoreHealth(metrics: metrics.factory, logger: logger)
        self.configuration = configuration
        self.workspaces = workspaces
        names = SharedKeyNames(prefix: configuration.keyPrefix, workspaces: workspaces)
    }

    /// The cache every replica shares, behind this process's.
    func cacheTier(maxTTL: Duration) -> RedisCacheTier {
        RedisCacheTier(redis: client, names: names, maxTTL: maxTTL, health: health)
    }

    /// Leases that make calls identical across replicas once, their results travelling through `tier`.
    func leases(through tier: RedisCacheTier) -> ReplicaCallLeases {
        ReplicaCallLeases(redis: client, tier: tier, names: names, health: health)
    }

    /// The budget every replica shares; a grant's lease is the longest an upstream call can take, plus slack.
    /// Known to Redis by host name and port (a restarted process takes its previous one's place),
    /// or by a random id when the port is chosen by the kernel.
    func budget(upstream: UpstreamConfiguration, listenPort: Int) -> RedisRateBudget {
        var settings = RedisRateBudget.Settings(
            keyPrefix: configuration.keyPrefix, replicasHint: configuration.replicasHint, safetyMargin: .milliseconds(upstream.safetyMarginMs),
            callLease: .milliseconds(upstream.timeoutMs + upstream.connectTimeoutMs) + .seconds(5))
        if listenPort != 0 { settings.replicaID = "\(ProcessInfo.processInfo.hostName):\(listenPort)" }
        return RedisRateBudget(workspaces: workspaces, redis: client, settings: settings, health: health)
    }
}
