import CurlHTTP
import Foundation
import GatewayConfig
import GatewayCore
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import RedisClient
import ServiceLifecycle

/// Builds the gateway: curl client, services, dispatcher, routes, and the Hummingbird application.
public enum GatewayApplication {
    /// The version reported by `rpc.discover`.
    public static let version = "0.1.0"

    /// The application for a loaded configuration and its resolved secrets; with `reloading`, it
    /// re-reads that file on `SIGHUP` and `POST /admin/reload`, setting `logLevel` among the rest.
    public static func make(
        configuration: GatewayConfiguration,
        secrets: ResolvedSecrets,
        logger: Logger,
        metrics: GatewayMetrics = GatewayMetrics(),
        reloading: LiveConfiguration.Source? = nil,
        logLevel: LogLevelControl? = nil,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in },
        onGRPCListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let parts = try GatewayParts(configuration: configuration, secrets: secrets, metrics: metrics, logLevel: logLevel, logger: logger)
        let live = LiveConfiguration(configuration: configuration, secrets: secrets, parts: parts, source: reloading)
        metrics.recordBuild(version: version)
        metrics.observeReadiness { live.handlers.problems }
        let connections = ConnectionCount(maximum: configuration.listen.maxConnections, listener: "http", metrics: metrics)
        let disconnects = parts.disconnects
        return Application(
            responder: GatewayResponder(live: live),
            server: HTTPServerBuilder { responder in
                GuardedHTTP1Channel(
                    responder: responder, listen: configuration.listen, connections: connections, handlers: { [disconnects.makeHandler()] })
            },
            configuration: .init(address: .hostname(configuration.listen.host, port: configuration.listen.port), serverName: "campaign-gateway"),
            services: [
                CurlClientService(client: parts.http), AllocatorTrimService(metrics: metrics.factory),
                JobRunnerService(jobs: parts.jobs, live: live, logger: logger), RefreshAheadService(refresh: parts.refresh, live: live),
            ]
                + (reloading == nil ? [] : [ReloadOnSignalService(live: live)])
                + (parts.shared.map { [RedisHealthMonitor(redis: $0.client, health: $0.health, budget: parts.sharedBudget, logger: logger)] } ?? [])
                + (configuration.grpc.map { grpc -> [any Service] in
                    let registry = live.handlers.registry
                    let api = GatewayGRPCService(
                        registry: registry, handlers: { live.handlers }, replay: parts.replay, inFlight: parts.inFlight, logger: logger)
                    let apiServices = Array(Set(registry.rpcMethods.compactMap(\.rpc?.service))).sorted()
                    let served = apiServices + ["grpc.health.v1.Health"] + ReflectionService.serviceNames
                    let health = HealthService(services: served) {
                        let current = live.handlers
                        return HealthService.Readiness(
                            problems: current.problems, workspaces: current.workspaces.all.map(\.name), authenticator: current.authenticator)
                    }
                    // Reflection lists what its descriptors describe: v1alpha is the same protocol, served for older tools.
                    let reflection = ReflectionService(catalog: .generated, services: served.filter { !$0.hasPrefix("grpc.reflection.v1alpha.") })
                    return [
                        GRPCServerService(
                            configuration: grpc, services: [api, health, reflection], maxRequestBytes: configuration.limits.maxBodyBytes,
                            limits: GRPCConnectionLimits(
                                listen: configuration.listen, grpc: grpc,
                                connections: ConnectionCount(maximum: configuration.listen.maxConnections, listener: "grpc", metrics: metrics)),
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
/// Each request is answered by the handlers in effect when it arrived.
struct GatewayResponder: HTTPResponder {
    let live: LiveConfiguration

    func respond(to request: Request, context: GatewayRequestContext) async throws -> Response {
        let handlers = live.handlers
        if request.method == .post, request.head.path == "/rpc" { return await handlers.rpc.serveJSONRPC(request, channel: context.channel) }
        return try await handlers.routes.respond(to: request, context: context)
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
    func budget(upstream: UpstreamConfiguration, listenPort: Int, reservedBackgroundShare: Double) -> RedisRateBudget {
        var settings = RedisRateBudget.Settings(
            keyPrefix: configuration.keyPrefix, replicasHint: configuration.replicasHint, safetyMargin: .milliseconds(upstream.safetyMarginMs),
            callLease: .milliseconds(upstream.timeoutMs + upstream.connectTimeoutMs) + .seconds(5))
        if listenPort != 0 { settings.replicaID = "\(ProcessInfo.processInfo.hostName):\(listenPort)" }
        settings.reservedBackgroundShare = reservedBackgroundShare
        return RedisRateBudget(workspaces: workspaces, redis: client, settings: settings, health: health)
    }
}
