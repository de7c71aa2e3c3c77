import DynamicJSON
import GatewayCore
import Hummingbird
import Logging
import NIOCore

/// Serves `POST /rpc` (JSON-RPC 2.0) and the Connect unary paths (JSON and binary), all through one dispatcher.
struct RPCController: Sendable {
    let dispatcher: RPCDispatcher
    let registry: MethodRegistry
    let authenticator: CallerAuthenticator
    let maxBodyBytes: Int
    /// The per-request upstream call cap (`limits.max_upstream_calls_per_request`), shared by a batch.
    let callLimit: Int
    /// The deadline of a request that gives none (`limits.request_timeout_ms`).
    let defaultTimeoutMs: Int
    let disconnects: ClientDisconnects
    /// Whole answers to repeated answer-cache hits.
    let replay: AnswerReplay
    /// Each caller's requests in flight.
    let inFlight: CallerInFlightLimit
    let logger: Logger

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.post("/rpc") { request, context in
            await serveJSONRPC(request, channel: context.channel)
        }
        for method in registry.rpcMethods {
            let path = RouterPath(method.rpc!.path)
            router.post(path) { request, context in await serveConnect(request, method: method, channel: context.channel) }
            if method.rpc!.hasSideEffects {
                // Connect serves GET only for RPCs without side effects: a GET could be repeated by any cache or crawler.
                router.get(path) { _, _ in
                    HTTPJSON.response(
                        .methodNotAllowed, ["code": "invalid_argument", "message": .string("\(method.rpc!.path) changes state: use POST")],
                        headers: [.allow: "POST"])
                }
            } else {
                router.get(path) { request, context in await serveConnect(request, method: method, channel: context.channel) }
            }
        }
        for service in ProtoCatalog.generated.serviceNames where service.hasPrefix("gateway.") {
            router.post(RouterPath("/\(service)/{method}")) { _, context in
                let method = context.parameters.get("method") ?? ""
                return HTTPJSON.error(.methodNotFound("\(service)/\(method)"), headers: [:])
            }
        }
    }

    /// The stored answer to a repeat of a request the answer cache answered whole, if any.
    private func replayed(
        _ key: AnswerReplay.Key, context: CallContext, headers: HTTPFields, contentType: String = "application/json"
    ) -> Response? {
        replay.replayed(key, context: context, dispatcher: dispatcher).map {
            HTTPJSON.response(.ok, bytes: $0, headers: headers, contentType: contentType)
        }
    }

    /// The context of an authenticated request on `channel`.
    private func context(
        _ request: Request, caller: CallerIdentity, identity: RequestIdentity, arrived: ContinuousClock.Instant,
        channel: any Channel
    ) -> CallContext {
        RequestHeaders.context(
            request, caller: caller, identity: identity, arrived: arrived, connection: disconnects.connection(channel), callLimit: callLimit,
            defaultTimeoutMs: defaultTimeoutMs)
    }

    /// The `200` for an answer, remembered for replay when the answer cache gave it whole.
    private func answered(_ answer: MethodAnswer, method: String?, key: AnswerReplay.Key, headers: HTTPFields) -> Response {
        let body = ByteBuffer(bytes: answer.document.encodedBytes())
        replay.remember(body, answering: key, answer: answer, method: method)
        return HTTPJSON.response(.ok, bytes: body, headers: headers)
    }

    /// Serves one `POST /rpc`.
    func serveJSONRPC(_ request: Request, channel: any Channel) async -> Response {
        let arrived = ContinuousClock.now
        let identity = RequestHeaders.identify(request, logger: logger)
        let idHeader = identity.responseHeaders
        guard let caller = authenticator.authenticate(authorization: request.headers.value(.authorization)) else {
            identity.logger.info("rpc unauthenticated")
            dispatcher.recordUnauthenticated()
            return HTTPJSON.response(.unauthorized, RPCDispatcher.errorResponse(id: .null, .unauthenticated), headers: idHeader)
        }
        switch await inFlight.run(
            caller: caller.name, { await serveJSONRPC(request, caller: caller, identity: identity, arrived: arrived, channel: channel) })
        {
        case .success(let response):
            return response
        case .failure(let busy):
            let headers = HTTPJSON.retryAfter(of: busy, adding: idHeader)
            return HTTPJSON.response(.tooManyRequests, RPCDispatcher.errorResponse(id: .null, busy), headers: headers)
        }
    }

    /// Serves one `POST /rpc` of an authenticated caller.
    private func serveJSONRPC(
        _ request: Request, caller: CallerIdentity, identity: RequestIdentity, arrived: ContinuousClock.Instant, channel: any Channel
    ) async -> Response {
        let idHeader = identity.responseHeaders
        guard let body = await HTTPJSON.body(of: request, upTo: maxBodyBytes) else {
            return HTTPJSON.response(
                .contentTooLarge, RPCDispatcher.errorResponse(id: .null, .invalidRequest("the body is over \(maxBodyBytes) bytes")), headers: idHeader
            )
        }
        let context = self.context(request, caller: caller, identity: identity, arrived: arrived, channel: channel)
        let key = AnswerReplay.Key(route: "/rpc", caller: caller.name, body: body)
        if let replayed = replayed(key, context: context, headers: idHeader) { return replayed }
        guard let answer = await dispatcher.serveJSONRPC(body: body.readableBytesView, context: context) else {
            return Response(status: .noContent, headers: idHeader)
        }
        return answered(answer, method: nil, key: key, headers: idHeader)
    }

    /// Serves one Connect unary call (POST, or GET with the message in the query), JSON or binary.
    private func serveConnect(_ request: Request, method: RPCMethod, channel: any Channel) async -> Response {
        let arrived = ContinuousClock.now
        let identity = RequestHeaders.identify(request, logger: logger)
        let idHeader = identity.responseHeaders
        guard let caller = authenticator.authenticate(authorization: request.headers.value(.authorization)) else {
            dispatcher.recordUnauthenticated()
            return HTTPJSON.error(.unauthenticated, headers: idHeader)
        }
        let served = await inFlight.run(caller: caller.name) {
            await serveConnect(request, method: method, caller: caller, identity: identity, arrived: arrived, channel: channel)
        }
        switch served {
        case .success(let response): return response
        case .failure(let busy): return HTTPJSON.error(busy, headers: idHeader)
        }
    }

    /// Serves one Connect unary call of an authenticated caller.
    private func serveConnect(
        _ request: Request, method: RPCMethod, caller: CallerIdentity, identity: RequestIdentity, arrived: ContinuousClock.Instant,
        channel: any Channel
    ) async -> Response {
        let idHeader = identity.responseHeaders
        let unary: ConnectUnary
        switch await ConnectUnary.read(request, maxBodyBytes: maxBodyBytes) {
        case .success(let read): unary = read
        case .failure(let refusal): return refusal.response(headers: idHeader)
        }
        let context = self.context(request, caller: caller, identity: identity, arrived: arrived, channel: channel)
        let key = AnswerReplay.Key(route: method.rpc!.path + unary.codec.replaySuffix, caller: caller.name, body: unary.body)
        if let replayed = replayed(key, context: context, headers: idHeader, contentType: unary.codec.contentType) { return replayed }
        let body: RequestBody
        switch unary.codec {
        case .json:
            do {
                body = .json(unary.body.readableBytes == 0 ? nil : try JSON.parse(unary.body.readableBytesView), .protoJSON)
            } catch {
                return HTTPJSON.error(.parseError(error), headers: idHeader)
            }
        case .proto:
            body = .binary(Array(unary.body.readableBytesView))
        }
        switch await dispatcher.invoke(methodName: method.name, body: body, context: context) {
        case .success(let answer) where unary.codec == .json:
            return answered(answer, method: method.name, key: key, headers: idHeader)
        case .success(let answer):
            do throws(GatewayError) {
                let bytes = try replay.binary(answer, of: method, answering: key, logger: context.logger)
                return HTTPJSON.response(.ok, bytes: bytes, headers: idHeader, contentType: ConnectUnary.Codec.proto.contentType)
            } catch {
                return HTTPJSON.error(error, headers: idHeader)
            }
        case .failure(let error):
            return HTTPJSON.error(error, headers: idHeader)
        }
    }
}
