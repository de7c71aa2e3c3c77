import ServiceLifecycle
import UnixSignals

/// Reloads the configuration on each `SIGHUP`, as nginx does, until the gateway shuts down.
struct ReloadOnSignalService: Service {
    let live: LiveConfiguration

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() { live.reload() }
    }
}
