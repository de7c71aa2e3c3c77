import DynamicJSON
import Foundation
import GatewayCore
import Logging
import SwiftProtobuf

/// What a call answered, and until when it is the answer cache's whole answer (nil: it is not).
public struct MethodAnswer: Sendable {
    /// The answer to write.
    public var document: JSONDocument
    /// When the answer-cache entry it came from expires; set only for an answer taken whole from it.
    public var cachedUntil: ContinuousClock.Instant?
    /// Counts a replay of it as a read of its answer-cache entry (refresh-ahead).
    public var read: AnswerRead?
    /// The method that answered from the answer cache (set with `cachedUntil` for a JSON-RPC answer).
    public var method: String?

    /// An answer the answer cache did not give.
    public init(_ document: JSONDocument) {
        self.init(document: document, cachedUntil: nil)
    }

    /// An answer, possibly taken whole from the answer cache until `cachedUntil`.
    public init(document: JSONDocument, cachedUntil: ContinuousClock.Instant?, method: String? = nil, read: AnswerRead? = nil) {
        self.document = document
        self.cachedUntil = cachedUntil
        self.read = read
        self.method = method
    }
}

/// A request message as its transport carries it.
enum RequestBody: Sendable {
    /// JSON (JSON-RPC params or a Connect JSON body), nil when absent.
    case json(JSON?, JSONRequestDialect)
    /// Binary protobuf (Connect `application/proto`, gRPC).
    case binary([UInt8])
}

/// Runs method calls for both transports: JSON-RPC 2.0 (single, batch, notifications) and Connect.
///
/// It checks method scopes, sets the deadline, runs the handler, and turns every failure into
/// a `GatewayError`; it records a metric and a log line per call. A batch is bounded in size and
/// runs at most `batchConcurrency` elements at once.
public struct RPCDispatcher: Sendable {
    private let registry: MethodRegistry
    private let metrics: CallMetrics
    private let defaultTimeoutMs: Int
    private let maxBatch: Int
    /// Batch elements run at once: enough to overlap upstream waits, few enough that one batch cannot take every worker.
    static let batchConcurrency = 8

    /// Creates a dispatcher.
    public init(registry: MethodRegistry, metrics: GatewayMetrics, callers: [String], defaultTimeoutMs: Int, maxBatch: Int) {
        self.registry = registry
        self.metrics = CallMetrics(methods: registry.names, callers: callers, factory: metrics.factory)
        self.defaultTimeoutMs = defaultTimeoutMs
        self.maxBatch = maxBatch
    }

    /// Runs one call of `methodName` for the request's (authenticated) caller.
    func invoke(methodName: String, body: RequestBody, context: CallContext) async -> Result<MethodAnswer, GatewayError> {
        let started = ContinuousClock.now
        let result = await metrics.inFlight { await run(methodName: methodName, body: body, context: context) }
        let code: String
        switch result {
        case .success: code = "ok"
        case .failure(let error): code = error.kind
        }
        record(method: registry.method(named: methodName) == nil ? "unknown" : methodName, code: code, context: context, since: started)
        return result
    }

    /// Counts a request refused because it did not authenticate.
    func recordUnauthenticated() {
        metrics.recordUnauthenticated()
    }

    /// Counts and logs one answered call of `method` (a registered name or `unknown`), as every call is.
    func record(method: String, code: String, context: CallContext, since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        metrics.record(method: method, caller: context.caller.name, code: code, duration: elapsed)
        guard context.logs(.info) else { return }
        context.logger.info(
            "rpc call",
            metadata: ["method": "\(method)", "caller": "\(context.caller.name)", "code": "\(code)", "duration_ms": "\(elapsed.wholeMilliseconds)"])
    }

    private func run(methodName: String, body: RequestBody, context request: CallContext) async -> Result<MethodAnswer, GatewayError> {
        guard let method = registry.method(named: methodName) else { return .failure(.methodNotFound(methodName)) }
        guard method.isPublic || request.caller.mayCall(method: methodName) else { return .failure(.forbiddenMethod(methodName)) }
        let message: any SwiftProtobuf.Message
        let context: CallContext
        do throws(GatewayError) {
            switch body {
            case .json(let json, let dialect): message = try method.request.decode(json: json, dialect: dialect)
            case .binary(let bytes): message = try method.request.decode(binary: bytes)
            }
            context = try request.forCall(paramMs: method.requestedTimeoutMs(message), defaultMs: defaultTimeoutMs)
        } catch {
            return .failure(error)
        }
        do {
            // An answer the cache holds whole is given at once: no task, no watch on the connection.
            if let cached = try method.cachedAnswer?(message, context) {
                metrics.answerCacheHits.increment()
                cached.read?.count()
                return .success(MethodAnswer(document: .encoded(cached.answer), cachedUntil: cached.expires, read: cached.read))
            }
            let outcome = await context.client.whileConnected(logger: context.logger) { () async -> Result<JSONDocument, any Error> in
                do {
                    let answer = try await method.handler(message, context)
                    return .success(answer)
                } catch {
                    return .failure(error)
                }
            }
            return .success(MethodAnswer(try outcome.get()))
        } catch {
            return .failure(GatewayError.answering(error, logger: context.logger, site: methodName))
        }
    }

    /// The answer refusing a request before any method runs, counted and logged as method `unknown`.
    private func refusal(_ error: GatewayError, id: JSON, context: CallContext) -> MethodAnswer {
        record(method: "unknown", code: error.kind, context: context, since: context.arrived)
        return MethodAnswer(Self.errorResponse(id: id, error))
    }

    /// Serves a JSON-RPC body; nil when every request was a notification (nothing to answer).
    public func serveJSONRPC(body: some Sequence<UInt8>, context: CallContext) async -> MethodAnswer? {
        let parsed: JSON
        do {
            parsed = try JSON.parse(body)
        } catch {
            return refusal(.parseError(error), id: .null, context: context)
        }
        guard case .array(let batch) = parsed else {
            return await serveOne(parsed, context: context)
        }
        guard !batch.isEmpty else { return refusal(.invalidRequest("an empty batch"), id: .null, context: context) }
        guard batch.count <= maxBatch else {
            return refusal(.invalidRequest("a batch of \(batch.count) requests; at most \(maxBatch) (limits.max_batch)"), id: .null, context: context)
        }
        let answers = await withTaskGroup(of: (Int, JSONDocument?).self) { group in
            var collected: [(Int, JSONDocument?)] = []
            for (index, element) in batch.enumerated() {
                if index >= Self.batchConcurrency, let answer = await group.next() { collected.append(answer) }
                let elementContext = context.element(index)
                group.addTask {
                    let answer = await serveOne(element, context: elementContext)?.document
                    return (index, answer)
                }
            }
            for await answer in group { collected.append(answer) }
            return collected.sorted { $0.0 < $1.0 }.compactMap(\.1)
        }
        return answers.isEmpty ? nil : MethodAnswer(.array(answers))
    }

    private func serveOne(_ request: JSON, context: CallContext) async -> MethodAnswer? {
        guard case .object(let members) = request else {
            return refusal(.invalidRequest("a request must be an object"), id: .null, context: context)
        }
        let id = members["id"]
        let validID: JSON
        switch id {
        case nil, .null?, .string?, .int?, .double?: validID = id ?? .null
        default: return refusal(.invalidRequest("id must be a string, a number or null"), id: .null, context: context)
        }
        guard members["jsonrpc"] == "2.0" else { return refusal(.invalidRequest("jsonrpc must be \"2.0\""), id: validID, context: context) }
        guard let method = members["method"]?.stringValue else {
            return refusal(.invalidRequest("method must be a string"), id: validID, context: context)
        }
        let params = members["params"]
        switch params {
        case nil, .object?: break
        case .array?: return refusal(.invalidParams(field: "params", reason: "must be an object (by-name)"), id: validID, context: context)
        default: return refusal(.invalidRequest("params must be an object"), id: validID, context: context)
        }
        let result = await invoke(methodName: method, body: .json(params, .jsonRPC), context: context)
        guard id != nil else { return nil }
        switch result {
        case .success(let answer):
            return MethodAnswer(
                document: .object(["jsonrpc": .value("2.0"), "id": .value(validID), "result": answer.document]), cachedUntil: answer.cachedUntil,
                method: method, read: answer.read)
        case .failure(let error): return MethodAnswer(Self.errorResponse(id: validID, error))
        }
    }

    /// A JSON-RPC error response object.
    public static func errorResponse(id: JSON, _ error: GatewayError) -> JSONDocument {
        var body: [String: JSON] = ["code": .int(error.jsonRPCCode), "message": .string(error.message)]
        if let data = error.data { body["data"] = data }
        return .value(["jsonrpc": "2.0", "id": id, "error": .object(body)])
    }
}

extension GatewayError {
    /// The error to answer for anything a handler threw: a `GatewayError` as it is; a bare
    /// cancellation means the client left (deadlines answer -32004 through `withDeadline`);
    /// anything else is -32603, its type logged (never returned) with the `site` it came from.
    static func answering(_ error: any Error, logger: Logger, site: String) -> GatewayError {
        switch error {
        case let error as GatewayError: return error
        case is CancellationError: return .cancelled
        default:
            logger.error("internal error", metadata: ["site": "\(site)", "error": "\(type(of: error))"])
            return .internalError
        }
    }
}
