import CoreMetrics
import GatewayConfig
import GatewayCore
import Hummingbird
import HummingbirdCore
import LockedState
import Logging
import NIOCore

/// Hummingbird's HTTP/1.1 channel within `listen`'s limits: at most `max_connections` open (one
/// more is closed at once), request heads up to `max_header_bytes` (431 past it), and the header,
/// body and keep-alive idle timeouts (`RequestReadTimeouts`).
struct GuardedHTTP1Channel: HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value
    private let inner: HTTP1Channel
    private let connections: ConnectionCount

    /// The channel for `responder` within `listen`'s limits, with `handlers` (made per connection) after the HTTP codec.
    init(
        responder: @escaping HTTPChannelHandler.Responder, listen: ListenConfiguration, connections: ConnectionCount,
        handlers: @escaping @Sendable () -> [any RemovableChannelHandler]
    ) {
        let timeouts = (
            head: TimeAmount.milliseconds(Int64(listen.headerTimeoutMs)), body: TimeAmount.milliseconds(Int64(listen.bodyTimeoutMs)),
            idle: TimeAmount.milliseconds(Int64(listen.idleTimeoutMs))
        )
        inner = HTTP1Channel(
            responder: responder,
            configuration: .init(
                additionalChannelHandlers: handlers() + [
                    HeadTooLargeResponder(), RequestReadTimeouts(head: timeouts.head, body: timeouts.body, idle: timeouts.idle),
                ],
                httpDecoderConfiguration: .init(maxHeaderFieldSize: listen.maxHeaderBytes, maxHeaderListSize: listen.maxHeaderBytes)))
        self.connections = connections
    }

    var responder: HTTPChannelHandler.Responder { inner.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let admitted = connections.open()
        if admitted { channel.closeFuture.whenComplete { [connections] _ in connections.closed() } }
        return inner.setup(channel: channel, logger: logger).map { value in
            if !admitted { channel.close(promise: nil) }
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// One listener's open connections, up to a maximum, counted in `campaign_gateway_connections_open`
/// and, past the maximum, `campaign_gateway_connections_refused_total` (both labelled `listener`).
final class ConnectionCount: Sendable {
    private let maximum: Int
    private let count = Locked(0)
    private let gauge: Gauge
    private let refused: Counter

    /// A count of at most `maximum` connections to `listener` (`http` or `grpc`), recorded in `metrics`.
    init(maximum: Int, listener: String, metrics: GatewayMetrics) {
        self.maximum = maximum
        let dimensions = [("listener", listener)]
        gauge = Gauge(label: MetricCatalog.connectionsOpen.name, dimensions: dimensions, factory: metrics.factory)
        refused = Counter(label: MetricCatalog.connectionsRefused.name, dimensions: dimensions, factory: metrics.factory)
        gauge.record(0)
    }

    /// Counts a new connection; false (counted as refused) when the maximum is open already.
    func open() -> Bool {
        let opened = count.withLock { count -> Int? in
            guard count < maximum else { return nil }
            count += 1
            return count
        }
        guard let opened else {
            refused.increment()
            return false
        }
        gauge.record(opened)
        return true
    }

    /// A counted connection closed.
    func closed() {
        gauge.record(
            count.withLock { count -> Int in
                count -= 1
                return count
            })
    }
}
