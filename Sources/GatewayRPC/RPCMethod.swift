import DynamicJSON
import Foundation
import GatewayCore
import SwiftProtobuf

/// A request message that may carry its own deadline (`timeout_ms`).
protocol DeadlineCarrying {
    var hasTimeoutMs: Bool { get }
    var timeoutMs: Int64 { get }
}

/// One RPC method: its JSON-RPC name, the .proto RPC it serves, its request decoding and handler.
public struct RPCMethod: Sendable {
    /// JSON-RPC method name, e.g. `campaigns.getStats`.
    public let name: String
    /// The RPC of the .proto files it serves (nil: JSON-RPC only, e.g. `rpc.discover`).
    public let rpc: ProtoCatalog.Method?
    /// JSON-RPC error codes it may answer.
    public let errorCodes: [Int]
    /// Whether every authenticated caller may call it, whatever its method scopes.
    public let isPublic: Bool
    /// Decodes its request message from any transport.
    let request: RequestDecoder
    /// Its response message, the shape every answer must parse into.
    let responseType: any SwiftProtobuf.Message.Type
    /// The .proto description of the response message.
    let response: ProtoCatalog.Message
    /// The first paragraph of its .proto comment (or the given summary when it has no RPC).
    let summary: String
    /// Serves one call; parts of the answer may come already encoded (cache hits).
    let handler: @Sendable (any SwiftProtobuf.Message, CallContext) async throws -> JSONDocument
    /// The whole answer and its expiry when the answer cache holds it (nil: call `handler`), without waiting on anything.
    let cachedAnswer: (@Sendable (any SwiftProtobuf.Message, CallContext) throws -> CachedAnswer?)?

    /// A method taking `Request` and answering JSON that parses into `Response`; `rpcPath` names its RPC in `catalog`.
    init<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        name: String, rpcPath: String?, catalog: ProtoCatalog = .generated, summary: String = "", request: Request.Type,
        response: Response.Type, errorCodes: [Int], isPublic: Bool,
        handler: @escaping @Sendable (Request, CallContext) async throws -> JSONDocument,
        cachedAnswer: (@Sendable (Request, CallContext) throws -> CachedAnswer?)? = nil
    ) {
        self.name = name
        if let rpcPath {
            let rpc = catalog.method(path: rpcPath)
            precondition(
                rpc?.input == Request.protoMessageName && rpc?.output == Response.protoMessageName,
                "\(rpcPath) is not an RPC of \(Request.protoMessageName) in the .proto files")
            self.rpc = rpc
        } else {
            rpc = nil
        }
        self.errorCodes = errorCodes
        self.isPublic = isPublic
        self.request = RequestDecoder(
            message: catalog.message(Request.protoMessageName) ?? .init(fullName: Request.protoMessageName, fields: [], comment: ""),
            type: Request.self)
        responseType = Response.self
        self.response = catalog.message(Response.protoMessageName) ?? .init(fullName: Response.protoMessageName, fields: [], comment: "")
        self.summary = self.rpc.map(Self.summary) ?? summary
        self.handler = { message, context in try await handler(message as! Request, context) }
        if let cachedAnswer {
            self.cachedAnswer = { @Sendable message, context throws -> CachedAnswer? in try cachedAnswer(message as! Request, context) }
        } else {
            self.cachedAnswer = nil
        }
    }

    /// The first paragraph of an RPC's comment that is not the line naming its paths.
    private static func summary(_ rpc: ProtoCatalog.Method) -> String {
        let paragraphs = rpc.comment.components(separatedBy: "\n\n").map { $0.replacingOccurrences(of: "\n", with: " ") }
        return paragraphs.first { !$0.hasPrefix("JSON-RPC `") } ?? ""
    }

    /// The deadline the request message asks for, when it is one a request may ask for (else the params check refuses it).
    func requestedTimeoutMs(_ message: any SwiftProtobuf.Message) -> Int? {
        guard let carrying = message as? any DeadlineCarrying, carrying.hasTimeoutMs,
            let ms = Int(exactly: carrying.timeoutMs), (1...CallContext.maxTimeoutMs).contains(ms)
        else { return nil }
        return ms
    }
}
