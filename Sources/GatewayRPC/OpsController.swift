import DynamicJSON
import GatewayCore
import Hummingbird

/// Serves the operator endpoints: `/healthz` (alive), `/readyz` (ready, or 503 with reasons;
/// with Redis, 200 while degraded but saying so; under `config`, the last reload's outcome), `/metrics`.
struct OpsController: Sendable {
    /// Why the gateway is not ready (missing credentials, named by reference, never by value).
    let readinessProblems: [String]
    let metrics: GatewayMetrics
    /// The shared store's state, when Redis is configured.
    let redis: SharedStoreHealth?
    /// The configuration in effect and the last reload's outcome.
    let live: LiveConfiguration

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.get("/healthz") { _, _ in
            HTTPJSON.response(.ok, ["status": "ok"])
        }
        router.get("/readyz") { _, _ in
            var body: [String: JSON] = [
                "ready": .bool(readinessProblems.isEmpty), "problems": .array(readinessProblems.map(JSON.string)), "config": live.outcome.json,
            ]
            if let redis {
                // Degraded is still ready: the budget keeps to a per-replica share and the cache to this process.
                let reasons = redis.degradedReasons
                body["redis"] = reasons.isEmpty ? "shared" : "degraded"
                if !reasons.isEmpty { body["degraded"] = .array(reasons.map(JSON.string)) }
                let holds = redis.budgetHolds
                if !holds.isEmpty { body["held"] = .array(holds.map(JSON.string)) }
            }
            return HTTPJSON.response(readinessProblems.isEmpty ? .ok : .serviceUnavailable, .object(body))
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
    }
}
