import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose client is too slow, as a hardened proxy does: no request head within
/// `head` of connecting (408), a request not read whole within `body` of its head (408 when it is
/// not answered yet), or no new request within `idle` of the last answer (closed quietly; this
/// also bounds a later request's slow head). No timeout runs while requests are being answered.
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
    /// When the wait in progress times out; nil while requests are being answered.
    private var deadline: NIODeadline?
    /// The one scheduled check and when it fires; it is not moved for every request (that would
    /// cost a scheduling per request part): when it fires early it looks again at `deadline`.
    private var check: (task: Scheduled<Void>, at: NIODeadline)?

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
        deadline = nil
        check?.task.cancel()
        check = nil
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
        let due = NIODeadline.now() + limit
        deadline = due
        if let check, check.at <= due { return }
        check?.task.cancel()
        schedule(at: due, context: context)
    }

    private func disarm() {
        deadline = nil
    }

    private func schedule(at due: NIODeadline, context: ChannelHandlerContext) {
        let task = context.eventLoop.assumeIsolated().scheduleTask(deadline: due) { [self] in
            fired(context: context)
        }
        check = (task, due)
    }

    private func fired(context: ChannelHandlerContext) {
        check = nil
        guard let deadline else { return }
        guard NIODeadline.now() >= deadline else {
            schedule(at: deadline, context: context)
            return
        }
        timedOut(context: context)
    }

    private func timedOut(context: ChannelHandlerContext) {
        deadline = nil
        // A 408 answers only a request being read that nothing answered or is answering yet.
        if fresh || (reading && unanswered == 1 && !responding) {
            let response = HTTPResponse(status: .requestTimeout, headerFields: [.connection: "close", .contentLength: "0"])
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.close(promise: nil)
    }
}
