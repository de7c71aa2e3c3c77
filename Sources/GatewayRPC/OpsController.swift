import DynamicJSON
import Hummingbird

/// Serves the operator endpoints: `/healthz` (alive), `/readyz` (ready, or 503 with reasons), `/metrics`.
struct OpsController: Sendable {
    /// Why the gateway is not ready (missing credentials, named by reference, never by value).
    let readinessProblems: [String]
    let metrics: GatewayMetrics

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.get("/healthz") { _, _ in
            HTTPJSON.response(.ok, ["status": "ok"])
        }
        router.get("/readyz") { _, _ in
            readinessProblems.isEmpty
                ? HTTPJSON.response(.ok, ["ready": true, "problems": []])
                : HTTPJSON.response(.serviceUnavailable, ["ready": false, "problems": .array(readinessProblems.map(JSON.string))])
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
    }
}
