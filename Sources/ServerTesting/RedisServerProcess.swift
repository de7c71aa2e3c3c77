import Foundation
import LockedState

/// A real `redis-server` (Debian's package; `make deps` installs it) on a free loopback port, for
/// tests and benchmarks: no persistence, stopped with SIGKILL (children of Foundation's `Process`
/// inherit a blocked signal mask, so a polite signal may never arrive).
public final class RedisServerProcess: Sendable {
    /// Its TCP port on 127.0.0.1 (its TLS port when started with TLS).
    public let port: Int
    private let password: String?
    private let tls: TestCertificates?
    private let options: [String]
    private let process = Locked<Process?>(nil)

    /// Where `redis-server` is, or nil when it is not installed.
    public static var executable: String? {
        ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private init(port: Int, password: String?, tls: TestCertificates?, options: [String]) {
        self.port = port
        self.password = password
        self.tls = tls
        self.options = options
    }

    /// Starts a server (requiring `password` when given; speaking only TLS with `tls`'s server
    /// certificate when given; with further `options`, e.g. `--rename-command`) and waits until
    /// it accepts connections.
    /// A port found free may be taken (e.g. as a client's ephemeral port) before the server binds
    /// it: then another is tried, a few times.
    public static func start(password: String? = nil, tls: TestCertificates? = nil, options: [String] = []) async throws -> RedisServerProcess {
        var attempt = 1
        while true {
            guard let port = LoopbackPort.free() else { throw RedisServerFailure("no free loopback port") }
            let server = RedisServerProcess(port: port, password: password, tls: tls, options: options)
            do {
                try await server.startAgain()
                return server
            } catch let failure as RedisServerFailure where failure.portTaken && attempt < 5 {
                attempt += 1
            }
        }
    }

    /// Runs `body` with a fresh server, stopped afterwards whatever happens.
    public static func with<T: Sendable>(
        password: String? = nil, tls: TestCertificates? = nil, options: [String] = [], _ body: (RedisServerProcess) async throws -> T
    ) async throws -> T {
        let server = try await start(password: password, tls: tls, options: options)
        do {
            let result = try await body(server)
            server.stop()
            return result
        } catch {
            server.stop()
            throw error
        }
    }

    /// Starts the server again on the same port, empty (after `stop`).
    public func startAgain() async throws {
        guard let executable = Self.executable else {
            throw RedisServerFailure("redis-server is not installed (make deps, or apt-get install redis-server)")
        }
        let started = Process()
        started.executableURL = URL(fileURLWithPath: executable)
        let listening =
            tls.map {
                [
                    "--port", "0", "--tls-port", "\(port)", "--tls-cert-file", $0.serverCertificate, "--tls-key-file", $0.serverKey,
                    "--tls-ca-cert-file", $0.authority, "--tls-auth-clients", "no",
                ]
            } ?? ["--port", "\(port)"]
        started.arguments =
            listening + ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning"]
            + (password.map { ["--requirepass", $0] } ?? []) + options
        started.standardOutput = FileHandle.nullDevice
        started.standardError = FileHandle.nullDevice
        try started.run()
        process.withLock { $0 = started }
        let deadline = ContinuousClock.now + .seconds(10)
        while !LoopbackPort.accepts(port) {
            guard started.isRunning, ContinuousClock.now < deadline else {
                let exited = !started.isRunning
                stop()
                throw RedisServerFailure("redis-server did not start on port \(port)", portTaken: exited)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Kills the server at once (its data is gone) and waits until the port is closed.
    public func stop() {
        guard
            let running = process.withLock({ current -> Process? in
                defer { current = nil }
                return current
            })
        else { return }
        kill(running.processIdentifier, SIGKILL)
        running.waitUntilExit()
    }

    deinit {
        stop()
    }
}

/// A test Redis that could not be started.
public struct RedisServerFailure: Error, CustomStringConvertible {
    /// Why.
    public let description: String
    /// Whether the server exited at start (as it does when its port is taken).
    let portTaken: Bool
    init(_ description: String, portTaken: Bool = false) {
        self.description = description
        self.portTaken = portTaken
    }
}
