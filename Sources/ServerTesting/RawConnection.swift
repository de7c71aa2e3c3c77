import LockedState
import NIOCore
import NIOPosix

/// A plain TCP connection to a loopback port, for tests that speak HTTP byte by byte: what it
/// sends goes out as given, what arrives is kept, and whether the server closed it is known.
public final class RawConnection: Sendable {
    private let channel: any Channel
    private let inbox: Inbox

    private init(channel: any Channel, inbox: Inbox) {
        self.channel = channel
        self.inbox = inbox
    }

    /// Connects to `port` on 127.0.0.1.
    public static func open(port: Int) async throws -> RawConnection {
        let inbox = Inbox()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(inbox: inbox)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawConnection(channel: channel, inbox: inbox)
    }

    /// Sends `text` as it is; throws when the connection is closed.
    public func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text)).get()
    }

    /// Sends `bytes` as they are; throws when the connection is closed.
    public func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    /// Everything received so far.
    public var receivedBytes: [UInt8] { inbox.state.withLock { $0.bytes } }

    /// Everything received so far, as text.
    public var received: String { inbox.state.withLock { String(decoding: $0.bytes, as: UTF8.self) } }

    /// Whether the server has closed the connection.
    public var isClosed: Bool { inbox.state.withLock { $0.closed } }

    /// Waits until the server closes the connection, `limit` at most; whether it did.
    public func waitUntilClosed(atMost limit: Duration) async throws -> Bool {
        let end = ContinuousClock.now + limit
        while !isClosed, ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(20)) }
        return isClosed
    }

    /// Waits until `text` has arrived `times` times in all, `limit` at most; whether it did.
    public func waitFor(_ text: String, times: Int = 1, atMost limit: Duration) async throws -> Bool {
        let end = ContinuousClock.now + limit
        func arrived() -> Bool { received.components(separatedBy: text).count - 1 >= times }
        while !arrived(), !isClosed, ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(20)) }
        return arrived()
    }

    /// Closes it from this side.
    public func close() {
        channel.close(promise: nil)
    }

    /// The bytes received and whether the connection closed.
    fileprivate final class Inbox: Sendable {
        let state = Locked<(bytes: [UInt8], closed: Bool)>(([], false))
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let inbox: Inbox

        init(inbox: Inbox) { self.inbox = inbox }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            inbox.state.withLock { $0.bytes += buffer.readableBytesView }
        }

        func channelInactive(context: ChannelHandlerContext) {
            inbox.state.withLock { $0.closed = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
