import NIOCore
import NIOPosix
import NIOSSL

/// One TCP connection to Redis; commands sent on it are pipelined and answered in order.
public struct RedisConnection: Sendable {
    let channel: any Channel

    /// Connects to `host:port` within `timeout` (over TLS when `tls` is given, the server's
    /// certificate verified against `host`), then authenticates and selects the database.
    public static func connect(
        host: String, port: Int, tls: NIOSSLContext? = nil, timeout: TimeAmount, commandTimeout: TimeAmount, password: String?, username: String?,
        database: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
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
                        try channel.pipeline.syncOperations.addHandler(RESPChannelHandler())
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw .unavailable("cannot connect to \(host):\(port) (\(type(of: error)))")
        }
        let connection = RedisConnection(channel: channel)
        var setup: [[RESPArgument]] = []
        if let password { setup.append(username.map { ["AUTH", .string($0), .string(password)] } ?? ["AUTH", .string(password)]) }
        if database != 0 { setup.append(["SELECT", .int(database)]) }
        guard !setup.isEmpty else { return connection }
        do {
            for reply in try await connection.send(setup, timeout: commandTimeout) {
                // The server's text says which step failed, never the password.
                if case .error(let message) = reply { throw RedisError.unavailable("setup refused: \(message)") }
            }
        } catch {
            connection.close()
            throw error as? RedisError ?? .connectionClosed
        }
        return connection
    }

    /// Whether the connection is still open.
    public var isActive: Bool { channel.isActive }

    /// Sends `commands` in one write and returns their replies in order (error replies included, as values).
    public func send(_ commands: [[RESPArgument]], timeout: TimeAmount) async throws(RedisError) -> [RESPValue] {
        var bytes = channel.allocator.buffer(capacity: 128 * commands.count)
        for command in commands { RESPWriter.write(command, into: &bytes) }
        let replies = commands.map { _ in channel.eventLoop.makePromise(of: RESPValue.self) }
        channel.writeAndFlush(RESPWrite(bytes: bytes, replies: replies, timeout: timeout)).whenFailure { _ in
            // Never reached the handler (the channel had closed): nothing else will complete them.
            for reply in replies { reply.fail(RedisError.connectionClosed) }
        }
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
