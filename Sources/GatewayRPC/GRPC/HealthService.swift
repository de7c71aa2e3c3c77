import GRPCCore
import GatewayCore
import GatewayProto

/// The standard `grpc.health.v1.Health` service. `""` and the services this server answers are
/// SERVING when the gateway is ready (as `/readyz`): load balancers and probes need no token. A
/// workspace's name is SERVING when its credentials are present, and answered only to a caller
/// whose `authorization` metadata allows that workspace (to anyone else it is unknown, so that no
/// one can probe which workspaces exist). Unknown: NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch).
struct HealthService: Grpc_Health_V1_Health.ServiceProtocol {
    private let services: [String: Grpc_Health_V1_HealthCheckResponse.ServingStatus]
    private let workspaces: [String: Grpc_Health_V1_HealthCheckResponse.ServingStatus]
    private let authenticator: CallerAuthenticator

    /// Statuses from the readiness problems (`workspace NAME: …` names its workspace).
    init(readinessProblems: [String], workspaces: [String], services: [String], authenticator: CallerAuthenticator) {
        let ready: Grpc_Health_V1_HealthCheckResponse.ServingStatus = readinessProblems.isEmpty ? .serving : .notServing
        self.services = Dictionary(uniqueKeysWithValues: ([""] + services).map { ($0, ready) })
        self.workspaces = Dictionary(
            uniqueKeysWithValues: workspaces.map { name in
                (name, readinessProblems.contains { $0.hasPrefix("workspace \(name):") } ? .notServing : .serving)
            })
        self.authenticator = authenticator
    }

    /// What `request`'s caller may see: the services, and the workspaces its token allows.
    private func statuses(for metadata: Metadata) -> [String: Grpc_Health_V1_HealthCheckResponse.ServingStatus] {
        guard let caller = authenticator.authenticate(authorization: metadata.firstString("authorization")) else { return services }
        return services.merging(workspaces.filter { caller.mayUse(workspace: $0.key) }) { service, _ in service }
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

    /// Sends the status, then holds the stream until the caller leaves (statuses are fixed once the process started).
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
