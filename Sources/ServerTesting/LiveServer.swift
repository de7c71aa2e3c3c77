import Hummingbird
import Logging
import NIOCore

/// Runs a Hummingbird application on an ephemeral loopback port for the length of a closure.
///
/// Used by tests and benchmarks to talk real HTTP to in-process servers. The application is
/// cancelled (and so shut down) when the closure returns or throws.
public enum LiveServer {
    /// A logger that only reports critical problems, to keep test output readable.
    public static var quietLogger: Logger {
        var logger = Logger(label: "test-server")
        logger.logLevel = .critical
        return logger
    }

    /// Builds the application with a port reporter, waits until it listens, then runs `body(port)`.
    public static func withRunning<App: ApplicationProtocol, Result: Sendable>(
        _ makeApplication: (@escaping @Sendable (any Channel) async -> Void) async throws -> App,
        body: (Int) async throws -> Result
    ) async throws -> Result {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = try await makeApplication { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { portContinuation.finish() }
                try await app.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                // The server stopped before listening: surface its error.
                try await group.next()
                throw CancellationError()
            }
            do {
                let result = try await body(port)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}
