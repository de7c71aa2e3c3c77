import NIOCore
import NIOPosix
import NIOSSL

/// One TCP connection to Redis; commands sent on it are pipelined and answered in order.
public struct RedisConnection: Sendable {
    let channel: any Channel
    /// The server's `run_id` (new at every start), or nil where `INFO` is refused.
    public let serverRunID: String?

    /// Connects to `host:port` within `timeout` (over TLS when `tls` is given, the server's
    /// certificate verified against `host`), then authenticates, selects the database and reads
    /// the server's `run_id`.
    public static func connect(
        host: String, port: Int, tls: NIOSSLContext? = nil, timeout: TimeAmount, commandTimeout: TimeAmount, maxValueBytes: Int = 64 << 20,
        password: String?, username: String?, database: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(RedisError) -> RedisConnection {
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            // SNI takes names only; an address is verified against the certificate's IP entries.
                            let name = host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" } ? nil : host
                            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: name))
                        }
                        try channel.pipeline.syncOperations.addHandler(RESPChannelHandler(maxValueBytes: maxValueBytes))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw .unavailable("cannot connect to \(host):\(port) (\(type(of: error)))")
        }
        let connection = RedisConnection(channel: channel, serverRunID: nil)
        var setup: [[RESPArgument]] = []
        if let password { setup.append(username.map { ["AUTH", .string($0), .string(password)] } ?? ["AUTH", .string(password)]) }
        if database != 0 { setup.append(["SELECT", .int(database)]) }
        do {
            let replies = try await connection.send(setup + [["INFO", "server"]], timeout: commandTimeout)
            for reply in replies.dropLast() {
                // Only the error's code: a server may echo a refused command's arguments, the password among them.
                if case .error(let message) = reply { throw RedisError.unavailable("setup refused (\(Self.errorCode(message)))") }
            }
            return RedisConnection(channel: channel, serverRunID: replies.last?.string.flatMap(Self.runID))
        } catch {
            connection.close()
            throw error as? RedisError ?? .connectionClosed
        }
    }

    /// The leading code of an error reply (`WRONGPASS`, `NOAUTH`, `ERR`), nothing that follows it.
    static func errorCode(_ message: String) -> String {
        let code = message.prefix { $0.isLetter && $0.isUppercase }.prefix(24)
        return code.isEmpty ? "error" : String(code)
    }

    /// The `run_id` line of an `INFO server` answer.
    static func runID(_ info: String) -> String? {
        info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("run_id:") }.map { String($0.dropFirst(7)) }
    }

    /// Whether the connection is still open.
    public var isActive: Bool { channel.isActive }

    /// Sends `commands` in one write and returns their replies in order (error replies included,
    /// as values). At `deadline` the wait ends (`deadlineReached`), the connection untouched:
    /// the replies still come in order and are dropped (a promise completes once).
    public func send(_ commands: [[RESPArgument]], timeout: TimeAmount, deadline: ContinuousClock.Instant? = nil) async throws(RedisError)
        -> [RESPValue]
    {
        var bytes = channel.allocator.buffer(capacity: 128 * commands.count)
        for command in commands { RESPWriter.write(command, into: &bytes) }
        let replies = commands.map { _ in channel.eventLoop.makePromise(of: RESPValue.self) }
        channel.writeAndFlush(RESPWrite(bytes: bytes, replies: replies, timeout: timeout)).whenFailure { _ in
            // Never reached the handler (the channel had closed): nothing else will complete them.
            for reply in replies { reply.fail(RedisError.connectionClosed) }
        }
        let giveUp = deadline.map { deadline in
            channel.eventLoop.scheduleTask(in: .nanoseconds(max(0, (deadline - .now).nanoseconds))) {
                for reply in replies { reply.fail(RedisError.deadlineReached) }
            }
        }
        defer { giveUp?.cancel() }
        var values: [RESPValue] = []
        values.reserveCapacity(replies.count)
        for reply in replies {
            do {
                values.append(try await reply.futureResult.get())
            } catch {
                throw error as? RedisError ?? .connectionClosed
            }
        }
        return values
    }

    /// Closes the connection; commands still waiting fail with `connectionClosed`.
    public func close() {
        channel.close(promise: nil)
    }
}
