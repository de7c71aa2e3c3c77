import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose client is too slow, as a hardened proxy does: no request head within
/// `head` of connecting (408), a request not read whole within `body` of its head (408 when it is
/// not answered yet), or no new request within `idle` of the last answer (closed quietly; this
/// also bounds a later request's slow head). No timer runs while requests are being answered.
final class RequestReadTimeouts: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let head: TimeAmount
    private let body: TimeAmount
    private let idle: TimeAmount
    /// No request head was read yet on this connection.
    private var fresh = true
    /// A request's head was read and its end not yet.
    private var reading = false
    /// Requests whose head was read and whose answer did not end yet (pipelined ones included).
    private var unanswered = 0
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
        if context.channel.isActive { arm(head, context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelActive(context: ChannelHandlerContext) {
        if fresh { arm(head, context: context) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            fresh = false
            reading = true
            unanswered += 1
            arm(body, context: context)
        case .body: break
        case .end:
            reading = false
            // Answered already (an early refusal): nothing more is awaited from this request.
            if unanswered == 0 { arm(idle, context: context) } else { disarm() }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response) where response.status.kind != .informational: responding = true
        case .head, .body: break
        case .end:
            responding = false
            unanswered = max(0, unanswered - 1)
            // While a request is still being read its body timer keeps running.
            if !reading, unanswered == 0 { arm(idle, context: context) }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ limit: TimeAmount, context: ChannelHandlerContext) {
        disarm()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: limit) { [self] in
            timedOut(context: context)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }

    private func timedOut(context: ChannelHandlerContext) {
        timer = nil
        // A 408 answers only a request being read that nothing answered or is answering yet.
        if fresh || (reading && unanswered == 1 && !responding) {
            let response = HTTPResponse(status: .requestTimeout, headerFields: [.connection: "close", .contentLength: "0"])
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.close(promise: nil)
    }
}
