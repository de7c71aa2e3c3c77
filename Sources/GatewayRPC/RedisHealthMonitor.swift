import GatewayCore
import RedisClient
import ServiceLifecycle

/// Asks Redis once a second whether it answers, so that `/readyz` and `gateway_redis_degraded`
/// tell the truth even when no request uses Redis; the budget and the cache switch on their own.
struct RedisHealthMonitor: Service {
    let redis: RedisClient
    let health: SharedStoreHealth

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await redis.command(["PING"])
                    health.recovered()
                } catch {
                    health.failed("\(error)")
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        redis.close()
    }
}
