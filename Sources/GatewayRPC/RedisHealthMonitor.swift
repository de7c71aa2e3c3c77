import GatewayCore
import RedisClient
import ServiceLifecycle

/// Asks Redis once a second whether it answers, so that `/readyz` and `gateway_redis_degraded`
/// tell the truth even when no request uses Redis, and the budget falls back and returns with
/// or without traffic (see `RedisRateBudget`).
struct RedisHealthMonitor: Service {
    let redis: RedisClient
    let health: SharedStoreHealth
    let budget: RedisRateBudget?

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await redis.command(["PING"])
                    health.storeAnswered()
                    await budget?.storeReachable()
                } catch {
                    health.storeFailed("\(error)")
                    budget?.storeUnreachable(because: "\(error)")
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        redis.close()
    }
}
