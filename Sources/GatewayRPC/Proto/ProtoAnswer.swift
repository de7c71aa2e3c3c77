import DynamicJSON
import GatewayCore
import Logging
import SwiftProtobuf

/// Turns a method's JSON answer into its declared response message, so binary transports carry
/// what JSON carries; an answer that does not fit its message is an internal error.
enum ProtoAnswer {
    /// The largest integer a `google.protobuf.Value` number (a double) holds exactly.
    static let exactIntegerLimit = 1 << 53
    /// Nesting read when converting: an answer wraps the upstream's figures a few levels deeper than the JSON reader accepts them,
    /// and each JSON object level inside a Struct is two message levels (Struct, Value).
    static let answerDepth = JSON.defaultMaxDepth + 16

    /// The answer as its response message.
    static func message(_ document: JSONDocument, of method: RPCMethod, logger: Logger) throws(GatewayError) -> any SwiftProtobuf.Message {
        let bytes = document.encodedBytes()
        try refuseInexactNumbers(bytes)
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = false
        options.messageDepthLimit = 2 * answerDepth
        do {
            return try method.responseType.init(jsonUTF8Bytes: bytes, extensions: nil, options: options)
        } catch {
            logger.error("answer does not fit its response message", metadata: ["method": "\(method.name)", "error": "\(error)"])
            throw .internalError
        }
    }

    /// The answer as binary protobuf, maps in a fixed order (equal answers are equal bytes).
    static func binary(_ document: JSONDocument, of method: RPCMethod, logger: Logger) throws(GatewayError) -> [UInt8] {
        let message = try message(document, of: method, logger: logger)
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        do {
            return try message.serializedBytes(partial: false, options: options)
        } catch {
            logger.error("answer does not encode", metadata: ["method": "\(method.name)"])
            throw .internalError
        }
    }

    private static let inexact = GatewayError.upstreamFailed(
        status: 200, reason: "a figure past 2^53 cannot be carried exactly in a protobuf answer (JSON-RPC and Connect JSON carry it)")

    /// Refuses (-32050, as the contract treats figures past the exact integer range) an answer
    /// holding a number that a `google.protobuf.Value` would round: binary never carries a figure
    /// other than the one JSON carries.
    private static func refuseInexactNumbers(_ bytes: [UInt8]) throws(GatewayError) {
        guard let json = try? JSON.parse(bytes, maxDepth: answerDepth) else { throw .internalError }
        var pending = [json]
        while let value = pending.popLast() {
            switch value {
            case .int(let number) where number.magnitude > exactIntegerLimit: throw inexact
            case .double(let number) where number.magnitude > Double(exactIntegerLimit): throw inexact
            case .array(let elements): pending.append(contentsOf: elements)
            case .object(let members): pending.append(contentsOf: members.values)
            default: break
            }
        }
    }
}
