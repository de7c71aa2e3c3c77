import LockedState
import NIOCore
import NIOSSL

/// Where and how to reach Redis.
public struct RedisEndpoint: Sendable, Hashable {
    /// Host name or address.
    public var host: String
    /// TCP port.
    public var port: Int
    /// Database index (`SELECT`).
    public var database: Int
    /// ACL user name (with `password`), or nil for the default user.
    public var username: String?
    /// Password for `AUTH`, or nil for none.
    public var password: String?
    /// TLS (`rediss://`), or nil for plain TCP.
    public var tls: RedisTLS?

    /// An endpoint.
    public init(host: String, port: Int = 6379, database: Int = 0, username: String? = nil, password: String? = nil, tls: RedisTLS? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.username = username
        self.password = password
        self.tls = tls
    }
}

/// TLS to Redis: the server's certificate is always verified, against the system's trust store
/// or the given CA file.
public struct RedisTLS: Sendable, Hashable {
    /// A PEM file of the CA(s) to trust instead of the system store.
    public var caFile: String?

    /// TLS trusting `caFile` (or the system store).
    public init(caFile: String? = nil) {
        self.caFile = caFile
    }

    /// The TLS context for connections; throws when the CA file cannot be read.
    func context() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        if let caFile { configuration.trustRoots = .file(caFile) }
        return try NIOSSLContext(configuration: configuration)
    }
}

/// Timeouts and pool size of a `RedisClient`.
public struct RedisClientOptions: Sendable, Hashable {
    /// Longest wait for a connection to open.
    public var connectTimeout: Duration = .milliseconds(500)
    /// Longest wait for a command's reply.
    public var commandTimeout: Duration = .milliseconds(250)
    /// Connections kept open (commands are spread over them and pipelined on each).
    public var poolSize: Int = 2
    /// Largest value (bulk string) a reply may carry; a larger one closes the connection.
    public var maxValueBytes: Int = 64 << 20
    /// First wait after a failed connection attempt; it doubles with each further failure.
    public var initialBackoff: Duration = .milliseconds(100)
    /// Longest wait between connection attempts.
    public var maxBackoff: Duration = .seconds(5)

    /// The defaults.
    public init() {}
}

/// A small Redis client: a pool of pipelined connections, opened lazily, reopened after failures
/// with exponential backoff. While backing off, commands fail at once with `unavailable` instead
/// of each waiting for a connect timeout.
public final class RedisClient: Sendable {
    private enum Slot {
        case idle
        case connecting(Task<RedisConnection, any Error>)
        case connected(RedisConnection)
    }

    private struct State {
        var slots: [Slot]
        /// Slots that were connected before: their next connection is a reconnection.
        var everConnected: Set<Int> = []
        var next = 0
        var failures = 0
        var retryAt: ContinuousClock.Instant?
        var runID: String?
        var serverChanges = 0
    }

    /// Where it connects.
    public let endpoint: RedisEndpoint
    /// Its timeouts and pool size.
    public let options: RedisClientOptions
    private let state: Locked<State>

    /// A client for `endpoint`; no connection is opened until the first command.
    public init(endpoint: RedisEndpoint, options: RedisClientOptions = RedisClientOptions()) {
        self.endpoint = endpoint
        self.options = options
        state = Locked(State(slots: Array(repeating: .idle, count: max(1, options.poolSize))))
    }

    /// How many times a connection found a different server than the one before (a new `run_id`:
    /// restarted, or failed over), so that state kept in Redis may be older or gone. Where `INFO`
    /// is refused, every reconnection counts.
    public var serverChanges: Int { state.withLock(\.serverChanges) }

    /// Sends one command and returns its reply; an error reply is thrown as `RedisError.server`.
    /// With a `deadline`, stops waiting then (`deadlineReached`; see `pipeline`).
    @discardableResult
    public func command(_ arguments: [RESPArgument], deadline: ContinuousClock.Instant? = nil) async throws(RedisError) -> RESPValue {
        let reply = try await pipeline([arguments], deadline: deadline)[0]
        if case .error(let message) = reply { throw .server(message) }
        return reply
    }

    /// Sends commands in one write on one connection; their replies in order, error replies as
    /// values. With a `deadline` (the caller's), the wait ends then with `deadlineReached`
    /// while the connection stays open (its late replies are read and dropped); the command
    /// timeout still applies, and closes the connection.
    public func pipeline(_ commands: [[RESPArgument]], deadline: ContinuousClock.Instant? = nil) async throws(RedisError) -> [RESPValue] {
        if let deadline, deadline <= .now { throw .deadlineReached }
        let connection = try await connection(by: deadline)
        return try await connection.send(commands, timeout: .nanoseconds(options.commandTimeout.nanoseconds), deadline: deadline)
    }

    /// Closes every open connection (commands in flight fail); later commands open new ones.
    public func close() {
        let slots = state.withLock { state -> [Slot] in
            defer { state.slots = Array(repeating: .idle, count: state.slots.count) }
            return state.slots
        }
        for slot in slots {
            switch slot {
            case .connected(let connection): connection.close()
            case .connecting(let task): task.cancel()
            case .idle: break
            }
        }
    }

    private enum Pick {
        case ready(RedisConnection)
        case wait(Task<RedisConnection, any Error>)
        case backingOff
    }

    /// A connection of the pool, opened when needed; with a `deadline`, stops waiting for one being opened then (it goes on for later commands).
    private func connection(by deadline: ContinuousClock.Instant?) async throws(RedisError) -> RedisConnection {
        let pick = state.withLock { state -> Pick in
            let index = state.next
            state.next = (state.next + 1) % state.slots.count
            switch state.slots[index] {
            case .connected(let connection) where connection.isActive:
                return .ready(connection)
            case .connecting(let task):
                return .wait(task)
            case .connected, .idle:
                if let retryAt = state.retryAt, ContinuousClock.now < retryAt { return .backingOff }
                let task = Task { try await self.open(slot: index) }
                state.slots[index] = .connecting(task)
                return .wait(task)
            }
        }
        switch pick {
        case .ready(let connection): return connection
        case .backingOff: throw .unavailable("backing off after a failed connection")
        case .wait(let task):
            do {
                guard let deadline else { return try await task.value }
                return try await Self.value(of: task, by: deadline)
            } catch {
                throw error as? RedisError ?? .unavailable("connection attempt cancelled")
            }
        }
    }

    /// `task`'s value, or `deadlineReached` at `deadline`, whichever comes first; `task` itself is not cancelled.
    private static func value<Value: Sendable>(of task: Task<Value, any Error>, by deadline: ContinuousClock.Instant) async throws -> Value {
        let waiting = Locked<CheckedContinuation<Value, any Error>?>(nil)
        let finish: @Sendable (Result<Value, any Error>) -> Void = { result in waiting.withLock { $0.take() }?.resume(with: result) }
        return try await withCheckedThrowingContinuation { continuation in
            waiting.withLock { $0 = continuation }
            let timer = Task {
                try await Task.sleep(until: deadline)
                finish(.failure(RedisError.deadlineReached))
            }
            Task {
                let result = await task.result
                timer.cancel()
                finish(result)
            }
        }
    }

    private func open(slot: Int) async throws -> RedisConnection {
        do {
            let tls: NIOSSLContext?
            do {
                tls = try endpoint.tls?.context()
            } catch {
                throw RedisError.unavailable("cannot set up TLS (\(type(of: error)))")
            }
            let connection = try await RedisConnection.connect(
                host: endpoint.host, port: endpoint.port, tls: tls, timeout: .nanoseconds(options.connectTimeout.nanoseconds),
                commandTimeout: .nanoseconds(options.commandTimeout.nanoseconds), maxValueBytes: options.maxValueBytes,
                password: endpoint.password, username: endpoint.username, database: endpoint.database)
            state.withLock { state in
                state.slots[slot] = .connected(connection)
                state.failures = 0
                state.retryAt = nil
                let reconnected = !state.everConnected.insert(slot).inserted
                if let runID = connection.serverRunID {
                    if let known = state.runID, known != runID { state.serverChanges += 1 }
                    state.runID = runID
                } else if reconnected {
                    state.serverChanges += 1
                }
            }
            return connection
        } catch {
            state.withLock { state in
                state.slots[slot] = .idle
                state.failures += 1
                let backoff = options.initialBackoff * (1 << min(state.failures - 1, 16))
                state.retryAt = .now + min(backoff, options.maxBackoff)
            }
            throw error
        }
    }
}

extension Duration {
    /// Whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : scaled + attoseconds / 1_000_000_000
    }
}
