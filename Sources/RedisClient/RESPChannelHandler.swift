import NIOCore

/// Commands written to a connection at once (a pipeline): their bytes, the promises of their
/// replies in order, and how long the replies may take.
struct RESPWrite: Sendable {
    var bytes: ByteBuffer
    var replies: [EventLoopPromise<RESPValue>]
    var timeout: TimeAmount
}

/// Pairs replies with commands in order on one connection. A reply that does not come in time,
/// bytes that are not RESP, or the connection closing fail every command still waiting, and the
/// connection is closed: after any of them its replies could no longer be matched.
final class RESPChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RESPWrite
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        var promise: EventLoopPromise<RESPValue>
        var timeout: Scheduled<Void>
    }

    private var reader: RESPReader
    private var received: ByteBuffer?
    private var waiting = CircularBuffer<Waiting>()
    private var failure: RedisError?

    /// A handler reading bulk strings of at most `maxValueBytes`, arrays nested at most 8 deep,
    /// replies of at most one such value and 1 MiB more.
    init(maxValueBytes: Int) {
        reader = RESPReader(maxBulkLength: maxValueBytes, maxDepth: 8, maxReplyBytes: maxValueBytes + (1 << 20))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let write = unwrapOutboundIn(data)
        if let failure {
            for reply in write.replies { reply.fail(failure) }
            promise?.fail(failure)
            return
        }
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        for reply in write.replies {
            let timeout = context.eventLoop.scheduleTask(in: write.timeout) {
                let bound = loopBound.value
                bound.handler.failAll(.timedOut, context: bound.context)
            }
            waiting.append(Waiting(promise: reply, timeout: timeout))
        }
        context.write(wrapOutboundOut(write.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if received == nil {
            received = incoming
        } else {
            received!.writeBuffer(&incoming)
        }
        do {
            while var buffer = received, let value = try reader.read(from: &buffer) {
                received = buffer
                guard let next = waiting.popFirst() else {
                    failAll(.protocolViolation("a reply no command asked for"), context: context)
                    return
                }
                next.timeout.cancel()
                next.promise.succeed(value)
            }
        } catch {
            failAll(.protocolViolation(error.description), context: context)
            return
        }
        if received?.readableBytes == 0 {
            received = nil
        } else if let buffer = received, buffer.readerIndex > 64 << 10 {
            received!.discardReadBytes()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(.connectionClosed, context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(.connectionClosed, context: context)
    }

    /// Fails every waiting command and every later one with `error`, and closes the connection.
    private func failAll(_ error: RedisError, context: ChannelHandlerContext) {
        if failure == nil { failure = error }
        let failed = waiting
        waiting.removeAll()
        for entry in failed {
            entry.timeout.cancel()
            entry.promise.fail(error)
        }
        received = nil
        context.close(promise: nil)
    }
}
