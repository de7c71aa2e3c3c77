import DynamicJSON
import GRPCCore
import GRPCNIOTransportHTTP2
import GatewayCore
import Logging
import NIOCore

/// Serves every RPC of the .proto files over native gRPC through the one dispatcher: the same
/// callers (`authorization` metadata), deadlines from `grpc-timeout`, errors as gRPC statuses with
/// the `google.rpc` details of `ErrorStatus` in `grpc-status-details-bin`, and repeated cache
/// hits replayed as their encoded bytes.
struct GatewayGRPCService: RegistrableRPCService {
    /// The methods registered (the same in every configuration).
    let registry: MethodRegistry
    /// What answers, as of a call (the configuration in effect then).
    let handlers: @Sendable () -> RequestHandlers
    let replay: AnswerReplay
    /// Each caller's requests in flight (shared with the HTTP transports).
    let inFlight: CallerInFlightLimit
    let logger: Logger

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        for method in registry.rpcMethods {
            let rpc = method.rpc!
            router.registerUnary(MethodDescriptor(fullyQualifiedService: rpc.service, method: rpc.name, type: .unary)) { request, context in
                await serve(request, method: method.name, context: context)
            }
        }
    }

    /// Serves one call; the answer's metadata carries the request id (`x-request-id`), as HTTP answers do.
    private func serve(_ request: ServerRequest<[UInt8]>, method name: String, context server: ServerContext) async -> ServerResponse<[UInt8]> {
        let arrived = ContinuousClock.now
        let current = handlers()
        let (dispatcher, authenticator) = (current.dispatcher, current.authenticator)
        let method = current.registry.method(named: name)!
        let metadata = request.metadata
        let identity = RequestHeaders.identify(
            givenID: metadata.firstString("x-request-id"), traceparent: metadata.firstString("traceparent"), logger: logger)
        let echoed: Metadata = ["x-request-id": .string(identity.requestID), "traceresponse": .string(identity.trace.traceparent)]
        guard let caller = authenticator.authenticate(authorization: metadata.firstString("authorization")) else {
            dispatcher.recordUnauthenticated()
            return ServerResponse(error: Self.status(.unauthenticated, echoing: echoed))
        }
        let served = await inFlight.run(caller: caller.name) {
            await serve(
                request, method: method, handlers: current, caller: caller, identity: identity, arrived: arrived, echoed: echoed, context: server)
        }
        switch served {
        case .success(let response): return response
        case .failure(let busy): return ServerResponse(error: Self.status(busy, echoing: echoed))
        }
    }

    /// Serves one call of an authenticated caller.
    private func serve(
        _ request: ServerRequest<[UInt8]>, method: RPCMethod, handlers current: RequestHandlers, caller: CallerIdentity, identity: RequestIdentity,
        arrived: ContinuousClock.Instant, echoed: Metadata, context server: ServerContext
    ) async -> ServerResponse<[UInt8]> {
        let metadata = request.metadata
        let dispatcher = current.dispatcher
        let (callLimit, defaultTimeoutMs) = (current.limits.maxUpstreamCallsPerRequest, current.limits.requestTimeoutMs)
        let timeout =
            metadata.firstString(TimeoutScreeningTransport<HTTP2ServerTransport.Posix>.malformedTimeoutKey) == nil
            ? GRPCTimeout.milliseconds(metadata.firstString("grpc-timeout")) : .failure(GRPCTimeout.malformed)
        let context = identity.context(
            caller: caller, arrived: arrived, headerTimeout: timeout, client: GRPCCallPresence(cancellation: server.cancellation),
            callLimit: callLimit, defaultTimeoutMs: defaultTimeoutMs)
        let key = AnswerReplay.Key(route: "grpc:" + method.rpc!.path, caller: caller.name, body: ByteBuffer(bytes: request.message))
        if let replayed = replay.replayed(key, context: context, dispatcher: dispatcher) {
            return ServerResponse(message: Array(replayed.readableBytesView), metadata: echoed)
        }
        switch await dispatcher.invoke(methodName: method.name, body: .binary(request.message), context: context) {
        case .success(let answer):
            do throws(GatewayError) {
                let bytes = try replay.binary(answer, of: method, answering: key, logger: context.logger)
                return ServerResponse(message: Array(bytes.readableBytesView), metadata: echoed)
            } catch {
                return ServerResponse(error: Self.status(error, echoing: echoed))
            }
        case .failure(let error):
            return ServerResponse(error: Self.status(error, echoing: echoed))
        }
    }

    /// The gRPC status of a gateway error, its details in `grpc-status-details-bin`, with `echoing` in its trailers.
    static func status(_ error: GatewayError, echoing: Metadata = [:]) -> RPCError {
        let status = ErrorStatus(error: error)
        var metadata = echoing
        metadata.addBinary(status.statusBytes, forKey: "grpc-status-details-bin")
        let code = Status.Code(rawValue: status.grpcCode).flatMap(RPCError.Code.init) ?? .unknown
        return RPCError(code: code, message: error.message, metadata: metadata)
    }
}

extension Metadata {
    /// The first string value of `key`, if any.
    func firstString(_ key: String) -> String? {
        self[stringValues: key].first { _ in true }
    }
}

/// gRPC's `grpc-timeout` header: 1 to 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`).
enum GRPCTimeout {
    /// The refusal of a malformed value.
    static let malformed = GatewayError.invalidParams(field: "grpc-timeout", reason: "must be 1 to 8 digits and a unit (H, M, S, m, u, n)")

    /// The timeout in whole milliseconds (rounded up, capped like `timeout_ms`), nil when absent;
    /// a malformed value is -32602 naming the header.
    static func milliseconds(_ text: String?) -> Result<Int?, GatewayError> {
        guard let text else { return .success(nil) }
        guard TimeoutScreeningTransport<HTTP2ServerTransport.Posix>.isWellFormed(text), let value = Int(text.dropLast()), let unit = text.last else {
            return .failure(malformed)
        }
        let nanosecondsPerUnit: Int
        switch unit {
        case "H": nanosecondsPerUnit = 3_600_000_000_000
        case "M": nanosecondsPerUnit = 60_000_000_000
        case "S": nanosecondsPerUnit = 1_000_000_000
        case "m": nanosecondsPerUnit = 1_000_000
        case "u": nanosecondsPerUnit = 1_000
        case "n": nanosecondsPerUnit = 1
        default: return .failure(malformed)
        }
        let (nanoseconds, overflow) = value.multipliedReportingOverflow(by: nanosecondsPerUnit)
        let milliseconds = overflow ? CallContext.maxTimeoutMs : (nanoseconds + 999_999) / 1_000_000
        return .success(min(max(milliseconds, 1), CallContext.maxTimeoutMs))
    }
}
