import GRPCCore
import GatewayCore
import GatewayProto

/// The standard `grpc.health.v1.Health` service. `""` and the services this server answers are
/// SERVING when the gateway is ready (as `/readyz`): load balancers and probes need no token. A
/// workspace's name is SERVING when its credentials are present, and answered only to a caller
/// whose `authorization` metadata allows that workspace (to anyone else it is unknown, so that no
/// one can probe which workspaces exist). Unknown: NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch).
struct HealthService: Grpc_Health_V1_Health.ServiceProtocol {
    /// What the statuses come from, as of a call (the configuration in effect then).
    struct Readiness: Sendable {
        /// Why the gateway is not ready (`workspace NAME: …` names its workspace).
        var problems: [String]
        /// The configured workspaces.
        var workspaces: [String]
        /// Who calls.
        var authenticator: CallerAuthenticator
    }

    private let services: [String]
    private let readiness: @Sendable () -> Readiness

    /// Statuses of `services` and the workspaces, from `readiness` at each call.
    init(services: [String], readiness: @escaping @Sendable () -> Readiness) {
        self.services = services
        self.readiness = readiness
    }

    /// What `request`'s caller may see: the services, and the workspaces its token allows.
    private func statuses(for metadata: Metadata) -> [String: Grpc_Health_V1_HealthCheckResponse.ServingStatus] {
        let now = readiness()
        let ready: Grpc_Health_V1_HealthCheckResponse.ServingStatus = now.problems.isEmpty ? .serving : .notServing
        let services = Dictionary(uniqueKeysWithValues: ([""] + self.services).map { ($0, ready) })
        guard let caller = now.authenticator.authenticate(authorization: metadata.firstString("authorization")) else { return services }
        let workspaces = Dictionary(
            uniqueKeysWithValues: now.workspaces.filter(caller.mayUse(workspace:)).map { name in
                (
                    name,
                    now.problems.contains { $0.hasPrefix("workspace \(name):") }
                        ? .notServing : Grpc_Health_V1_HealthCheckResponse.ServingStatus.serving
                )
            })
        return services.merging(workspaces) { service, _ in service }
    }

    func check(request: ServerRequest<Grpc_Health_V1_HealthCheckRequest>, context: ServerContext) async throws
        -> ServerResponse<Grpc_Health_V1_HealthCheckResponse>
    {
        guard let status = statuses(for: request.metadata)[request.message.service] else {
            throw RPCError(code: .notFound, message: "unknown service \(request.message.service.prefix(100))")
        }
        return ServerResponse(message: .with { $0.status = status })
    }

    func list(request: ServerRequest<Grpc_Health_V1_HealthListRequest>, context: ServerContext) async throws
        -> ServerResponse<Grpc_Health_V1_HealthListResponse>
    {
        let statuses = statuses(for: request.metadata)
        return ServerResponse(message: .with { $0.statuses = statuses.mapValues { status in .with { $0.status = status } } })
    }

    /// Sends the status as of the call, then holds the stream until the caller leaves.
    func watch(request: ServerRequest<Grpc_Health_V1_HealthCheckRequest>, context: ServerContext) async throws
        -> StreamingServerResponse<Grpc_Health_V1_HealthCheckResponse>
    {
        let status = statuses(for: request.metadata)[request.message.service] ?? .serviceUnknown
        return StreamingServerResponse { writer in
            try await writer.write(.with { $0.status = status })
            try? await context.cancellation.cancelled
            return [:]
        }
    }
}
