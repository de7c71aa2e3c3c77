import GRPCNIOTransportHTTP2
import GatewayConfig
import NIOCore
import NIOHTTP2

/// The `listen.*` limits on the gRPC port: at most `max_connections` connections (one more is
/// closed at once), a connection with no stream open for `idle_timeout_ms` is sent a GOAWAY
/// (also a client that never sends the HTTP/2 preface or a whole HEADERS frame), a connection sent
/// a GOAWAY (idle, or the gateway shutting down) is closed a grace later whatever its client does,
/// a connection past `grpc.max_connection_age_ms` is sent a GOAWAY (by the transport's own
/// `maxAge`, which lets its calls run on) and closed its own grace later whatever its client does
/// (so a stream held open, a health `Watch` or an answer held back, cannot keep a slot for ever),
/// and a request stream not read to its end within `body_timeout_ms` of opening is reset.
struct GRPCConnectionLimits: Sendable {
    let connections: ConnectionCount
    let idle: TimeAmount
    let body: TimeAmount
    let age: TimeAmount
    let ageGrace: TimeAmount

    /// The limits of `listen` and `grpc`, counting connections in `connections`.
    init(listen: ListenConfiguration, grpc: GRPCConfiguration, connections: ConnectionCount) {
        self.connections = connections
        idle = .milliseconds(Int64(listen.idleTimeoutMs))
        body = .milliseconds(Int64(listen.bodyTimeoutMs))
        age = .milliseconds(Int64(grpc.maxConnectionAgeMs))
        ageGrace = .milliseconds(Int64(grpc.maxConnectionAgeGraceMs))
    }

    /// The transport callbacks that apply these limits to each connection and stream.
    var callbacks: HTTP2ServerTransport.Config.ChannelDebuggingCallbacks {
        .init(
            onBindTCPListener: nil,
            onAcceptTCPConnection: { [self] channel in admit(channel) },
            onAcceptHTTP2Stream: { [self] stream in watch(stream) })
    }

    private func admit(_ channel: any Channel) -> EventLoopFuture<Void> {
        guard connections.open() else {
            channel.close(promise: nil)
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        channel.closeFuture.whenComplete { [connections] _ in connections.closed() }
        return channel.eventLoop.makeCompletedFuture {
            let closer = HTTP2ConnectionCloser(
                idle: idle, grace: min(idle, HTTP2ConnectionCloser.longestGrace), age: age, ageGrace: ageGrace)
            try channel.pipeline.syncOperations.addHandler(closer, position: .first)
        }
    }

    private func watch(_ stream: any Channel) -> EventLoopFuture<Void> {
        stream.eventLoop.makeCompletedFuture {
            try stream.pipeline.syncOperations.addHandler(RequestStreamReadTimeout(limit: body), position: .first)
            guard let connection = stream.parent,
                let closer = try? connection.pipeline.syncOperations.handler(type: HTTP2ConnectionCloser.self)
            else { return }
            closer.streamOpened()
            let bound = NIOLoopBound(closer, eventLoop: stream.eventLoop)
            stream.closeFuture.whenComplete { _ in bound.value.streamClosed() }
        }
    }
}

/// Sends a GOAWAY (the gRPC server's own graceful one) on an HTTP/2 connection left with no stream
/// open for `idle`, and closes any connection `grace` after its GOAWAY, idle or at shutdown: a
/// client that ignores the GOAWAY's PING, or holds a stream open (a window of 0 for the answer),
/// can delay neither. A connection `age` old (sent its GOAWAY by the transport's `maxAge`) is closed
/// `ageGrace` later.
final class HTTP2ConnectionCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Any

    /// The longest grace: shorter than systemd's stop timeout in `deploy/` (45 s).
    static let longestGrace = TimeAmount.seconds(30)

    private let idle: TimeAmount
    private let grace: TimeAmount
    private let age: TimeAmount
    private let ageGrace: TimeAmount
    private var openStreams = 0
    private var timer: Scheduled<Void>?
    private var ageTimer: Scheduled<Void>?
    /// Set once a GOAWAY was sent: the socket's close, and when it is due.
    private var closing: (task: Scheduled<Void>, at: NIODeadline)?
    private var context: ChannelHandlerContext?

    /// Sends a GOAWAY after `idle` without a stream, closes `grace` after a GOAWAY seen in the
    /// pipeline, and `ageGrace` after `age` (unless a GOAWAY brings it forward).
    init(idle: TimeAmount, grace: TimeAmount, age: TimeAmount, ageGrace: TimeAmount) {
        self.idle = idle
        self.grace = grace
        self.age = age
        self.ageGrace = ageGrace
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { started() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        started()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { close(in: grace) }
        context.fireUserInboundEventTriggered(event)
    }

    private func started() {
        arm()
        guard let context, ageTimer == nil else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        ageTimer = context.eventLoop.scheduleTask(in: age) { loopBound.value.aged() }
    }

    /// The transport's own `maxAge` timer sends this connection's GOAWAY without touching its
    /// calls (a quiesce event here would cancel them); this only bounds what follows.
    private func aged() {
        close(in: ageGrace)
    }

    /// Closes the socket `delay` from now, or sooner if already due sooner.
    private func close(in delay: TimeAmount) {
        guard let context else { return }
        let due = NIODeadline.now() + delay
        if let closing, closing.at <= due { return }
        closing?.task.cancel()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        closing = (context.eventLoop.scheduleTask(deadline: due) { bound.value.close(promise: nil) }, due)
    }

    private func cancelTimers() {
        timer?.cancel()
        ageTimer?.cancel()
        closing?.task.cancel()
    }

    /// A request stream opened: the connection is not idle.
    func streamOpened() {
        openStreams += 1
        timer?.cancel()
        timer = nil
    }

    /// A request stream closed: with none left, the idle time starts.
    func streamClosed() {
        openStreams -= 1
        if openStreams == 0 { arm() }
    }

    private func arm() {
        guard let context, openStreams == 0 else { return }
        timer?.cancel()
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: idle) { loopBound.value.expired() }
    }

    private func expired() {
        // Past a GOAWAY already, the transport closes it gracefully once its client acknowledges, or `closing` does.
        guard let context, openStreams == 0, closing == nil else { return }
        context.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    }
}

/// Resets a request stream whose request (HEADERS to END_STREAM) is not read whole within `limit`
/// of the stream opening: a client sending its message a byte at a time cannot hold a stream.
final class RequestStreamReadTimeout: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload

    private let limit: TimeAmount
    private var timer: Scheduled<Void>?

    /// Resets the stream when its request takes longer than `limit` to arrive.
    init(limit: TimeAmount) {
        self.limit = limit
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: limit) { bound.value.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let ended: Bool
        switch unwrapInboundIn(data) {
        case .headers(let headers): ended = headers.endStream
        case .data(let data): ended = data.endStream
        default: ended = false
        }
        context.fireChannelRead(data)
        if ended {
            timer?.cancel()
            timer = nil
        }
    }
}
