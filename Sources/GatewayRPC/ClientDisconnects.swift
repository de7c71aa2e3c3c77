import GatewayCore
import Hummingbird
import LockedState
import Logging
import NIOCore

/// The request context of every gateway route: Hummingbird's core context and the connection the
/// request came on, so a handler can tell when its client has gone.
struct GatewayRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    var coreContext: CoreRequestContextStorage
    /// The connection of the request.
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Knows, per open connection, when its client closed it, and runs request work only while the
/// client is there: work whose client left is cancelled (its queued budget grants are given back).
final class ClientDisconnects: Sendable {
    private let signals = Locked<[ObjectIdentifier: DisconnectSignal]>([:])

    /// A new watcher for each accepted connection, for `HTTP1Channel`'s additional handlers.
    func makeHandler() -> any RemovableChannelHandler {
        ConnectionCloseHandler(registry: self)
    }

    /// The client connection a request came on.
    func connection(_ channel: any Channel) -> ClientConnection {
        ClientConnection(signal: signals.withLock { $0[ObjectIdentifier(channel)] })
    }

    fileprivate func register(_ signal: DisconnectSignal, for channel: any Channel) {
        signals.withLock { $0[ObjectIdentifier(channel)] = signal }
    }

    fileprivate func forget(_ channel: any Channel) {
        signals.withLock { $0[ObjectIdentifier(channel)] = nil }
    }
}

/// The connection of one request, to run work only while its client is there.
struct ClientConnection: ClientPresence {
    fileprivate let signal: DisconnectSignal?

    /// Runs `work`. If the client goes away first (it closed the connection or its sending side,
    /// which nginx also takes as an abort), the work is cancelled and its own answer to that
    /// returned: work that did not need to wait still answers normally.
    func whileConnected<Value: Sendable>(logger: Logger, _ work: @escaping @Sendable () async -> Value) async -> Value {
        guard let signal else { return await work() }
        return await ClientDeparture.race(work, against: { await signal.wait() }, logger: logger)
    }
}

/// Runs work until the client departs, whatever transport tells of the departure.
enum ClientDeparture {
    /// Runs `work`; if `departed` returns first, the work is cancelled and its own answer to that
    /// returned (work that did not need to wait still answers normally).
    static func race<Value: Sendable>(
        _ work: @escaping @Sendable () async -> Value, against departed: @escaping @Sendable () async -> Void, logger: Logger
    ) async -> Value {
        await withTaskGroup(of: Value?.self) { group in
            group.addTask { await work() }
            group.addTask {
                await departed()
                return nil
            }
            while let next = await group.next() {
                if let value = next {
                    group.cancelAll()
                    return value
                }
                if !Task.isCancelled { logger.info("client disconnected; cancelling its request") }
                group.cancelAll()
            }
            preconditionFailure("the work always answers")
        }
    }
}

/// Fires once, when a connection's client has gone; waiters wake then (or when cancelled).
private final class DisconnectSignal: Sendable {
    private struct State {
        var fired = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state = Locked(State())

    func fire() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.fired else { return [] }
            state.fired = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when the client has gone, or when the waiting task is cancelled.
    func wait() async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Bool in
                    if state.fired || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// Watches one connection: the client closing its side (FIN, seen as `inputClosed` since
/// half-closure is allowed) or the connection closing fires its signal.
private final class ConnectionCloseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let registry: ClientDisconnects
    private let signal = DisconnectSignal()

    init(registry: ClientDisconnects) {
        self.registry = registry
    }

    func handlerAdded(context: ChannelHandlerContext) {
        registry.register(signal, for: context.channel)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        registry.forget(context.channel)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { signal.fire() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        signal.fire()
        registry.forget(context.channel)
        context.fireChannelInactive()
    }
}
