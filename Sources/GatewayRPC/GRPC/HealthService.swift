import GRPCCore
import GatewayProto

/// The standard `grpc.health.v1.Health` service: `""` and the API's services are SERVING when
/// the gateway is ready (as `/readyz`), a workspace's name is SERVING when its credentials are
/// present; any other name is NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch).
struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
    private let statuses: [String: Grpc_Health_V1_HealthCheckResponse.ServingStatus]

    /// Statuses from the readiness problems (`workspace NAME: …` names its workspace).
    init(readinessProblems: [String], workspaces: [String], services: [String]) {
        let ready = readinessProblems.isEmpty
        var statuses: [String: Grpc_Health_V1_HealthCheckResponse.ServingStatus] = ["": ready ? .serving : .notServing]
        for service in services + ["grpc.health.v1.Health"] { statuses[service] = ready ? .serving : .notServing }
        for workspace in workspaces {
            let broken = readinessProblems.contains { $0.hasPrefix("workspace \(workspace):") }
            statuses[workspace] = broken ? .notServing : .serving
        }
        self.statuses = statuses
    }

    func check(request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext) async throws -> Grpc_Health_V1_HealthCheckResponse {
        guard let status = statuses[request.service] else { throw RPCError(code: .notFound, message: "unknown service \(request.service.prefix(100))") }
        return .with { $0.status = status }
    }

    func list(request: Grpc_Health_V1_HealthListRequest, context: ServerContext) async throws -> Grpc_Health_V1_HealthListResponse {
        .with { $0.statuses = statuses.mapValues { status in .with { $0.status = status } } }
    }

    /// Sends the status, then holds the stream until the caller leaves (statuses are fixed once the process started).
    func watch(
        request: Grpc_Health_V1_HealthCheckRequest, response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>, context: ServerContext
    ) async throws {
        try await response.write(.with { $0.status = statuses[request.service] ?? .serviceUnknown })
        try? await context.cancellation.cancelled
    }
}
