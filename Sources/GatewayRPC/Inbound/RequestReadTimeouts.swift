import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose client is too slow, as a hardened proxy does: no request head within
/// `head` of connecting (408), a request body not read whole within `body` of its head (408), or
/// a kept-alive connection idle for `idle` between requests (closed quietly).
final class RequestReadTimeouts: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// What the connection waits for.
    private enum Phase {
        /// The first request's head.
        case firstHead
        /// The rest of a request whose head came.
        case body
        /// Nothing from the client: a request is being answered.
        case answering
        /// The next request on a kept-alive connection.
        case idle
    }

    private let head: TimeAmount
    private let body: TimeAmount
    private let idle: TimeAmount
    private var phase = Phase.firstHead
    /// A response's head was written and its end not yet.
    private var responding = false
    private var timer: Scheduled<Void>?

    /// Times out a connection's waits for `head`, `body` and `idle`.
    init(head: TimeAmount, body: TimeAmount, idle: TimeAmount) {
        self.head = head
        self.body = body
        self.idle = idle
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { enter(.firstHead, context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        enter(.firstHead, context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: enter(.body, context: context)
        case .body: break
        case .end: enter(.answering, context: context)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response) where response.status.kind != .informational: responding = true
        case .head, .body: break
        case .end:
            responding = false
            if phase == .answering { enter(.idle, context: context) }
        }
        context.write(data, promise: promise)
    }

    /// Moves to `next`, with its timer (none while answering).
    private func enter(_ next: Phase, context: ChannelHandlerContext) {
        phase = next
        timer?.cancel()
        timer = nil
        let limit: TimeAmount
        switch next {
        case .firstHead: limit = head
        case .body: limit = body
        case .idle: limit = idle
        case .answering: return
        }
        let loop = context.eventLoop.assumeIsolated()
        timer = loop.scheduleTask(in: limit) { [self] in
            timedOut(context: context)
        }
    }

    private func timedOut(context: ChannelHandlerContext) {
        timer = nil
        guard phase != .answering else { return }
        if phase != .idle, !responding {
            let response = HTTPResponse(status: .requestTimeout, headerFields: [.connection: "close", .contentLength: "0"])
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.close(promise: nil)
    }
}
