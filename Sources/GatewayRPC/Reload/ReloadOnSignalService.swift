import ServiceLifecycle
import UnixSignals

/// Reloads the configuration on each `SIGHUP`, as nginx does, until the gateway shuts down.
struct ReloadOnSignalService: Service {
    let live: LiveConfiguration

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        try await withGracefulShutdownHandler {
            for await _ in hangups { live.reload() }
        } onGracefulShutdown: {
        }
    }
}
