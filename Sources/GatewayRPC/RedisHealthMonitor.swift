import GatewayCore
import Logging
import RedisClient
import ServiceLifecycle

/// Asks Redis once a second whether it answers, so that `/readyz` and `campaign_gateway_redis_degraded`
/// tell the truth even when no request uses Redis, and the budget falls back and returns with
/// or without traffic (see `RedisRateBudget`). Warns once when Redis may evict the budget's keys.
struct RedisHealthMonitor: Service {
    let redis: RedisClient
    let health: SharedStoreHealth
    let budget: RedisRateBudget?
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var policyChecked = false
            while !Task.isCancelled {
                do {
                    try await redis.command(["PING"])
                    health.storeAnswered()
                    if !policyChecked {
                        policyChecked = true
                        await warnOfAnEvictingPolicy()
                    }
                    await budget?.storeReachable()
                } catch {
                    health.storeFailed("\(error)")
                    budget?.storeUnreachable(because: "\(error)")
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        // Stopped after the server has answered its last request: nothing of this replica's is unseen.
        await budget?.leave()
        redis.close()
    }

    /// An `allkeys-*` policy may evict the budget's keys (which have no TTL): a lost state, blocking every replica.
    private func warnOfAnEvictingPolicy() async {
        guard let info = try? await redis.command(["INFO", "memory"]).string,
            let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("maxmemory_policy:") })
        else { return }
        let policy = line.dropFirst("maxmemory_policy:".count)
        guard policy.hasPrefix("allkeys") else { return }
        logger.warning(
            "redis maxmemory-policy may evict the budget's keys: use volatile-lru (cache entries have a TTL, budget keys none)",
            metadata: ["policy": "\(policy)"])
    }
}
