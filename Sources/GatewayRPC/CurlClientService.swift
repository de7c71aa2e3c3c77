import CurlHTTP
import ServiceLifecycle

/// Owns the upstream curl client's lifetime: shuts it down after the HTTP server has drained.
struct CurlClientService: Service {
    let client: CurlHTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        client.shutdown()
    }
}
