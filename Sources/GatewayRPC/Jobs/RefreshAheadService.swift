import GatewayCore
import ServiceLifecycle

/// Starts the refreshes due every `refresh.interval_ms` while refresh-ahead is configured.
struct RefreshAheadService: Service {
    let refresh: RefreshAhead
    let live: LiveConfiguration

    func run() async throws {
        // Stopped by a graceful shutdown as by cancellation; either way it returns, not throws, so the other services stop gracefully.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let interval = live.handlers.configuration.refresh?.intervalMs ?? 1_000
                try await Task.sleep(for: .milliseconds(interval))
                refresh.refreshDue()
            }
        }
    }
}
