import DynamicJSON
import GatewayCore
import Logging
import SwiftProtobuf

/// Turns a method's JSON answer into its declared response message, so binary transports carry
/// exactly what JSON carries; an answer that does not fit its message is an internal error.
enum ProtoAnswer {
    /// The answer as its response message.
    static func message(_ document: JSONDocument, of method: RPCMethod, logger: Logger) throws(GatewayError) -> any SwiftProtobuf.Message {
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = false
        do {
            return try method.responseType.init(jsonUTF8Bytes: document.encodedBytes(), extensions: nil, options: options)
        } catch {
            logger.error("answer does not fit its response message", metadata: ["method": "\(method.name)", "error": "\(error)"])
            throw .internalError
        }
    }

    /// The answer as binary protobuf.
    static func binary(_ document: JSONDocument, of method: RPCMethod, logger: Logger) throws(GatewayError) -> [UInt8] {
        do {
            return try message(document, of: method, logger: logger).serializedBytes()
        } catch let error as GatewayError {
            throw error
        } catch {
            logger.error("answer does not encode", metadata: ["method": "\(method.name)"])
            throw .internalError
        }
    }
}
