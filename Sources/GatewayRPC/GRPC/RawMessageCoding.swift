import GRPCCore

/// Passes a gRPC message's bytes through as they are: the gateway decodes requests itself (one
/// decoder for every transport) and writes answers it may have cached as bytes.
struct RawMessageSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }
}

/// The bytes of a gRPC message, undecoded.
struct RawMessageDeserializer: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}

extension RPCRouter {
    /// Registers a unary handler of raw message bytes for `method`.
    mutating func registerUnary(
        _ method: MethodDescriptor,
        handler: @escaping @Sendable (_ request: ServerRequest<[UInt8]>, _ context: ServerContext) async -> ServerResponse<[UInt8]>
    ) {
        registerHandler(forMethod: method, deserializer: RawMessageDeserializer(), serializer: RawMessageSerializer()) { request, context in
            StreamingServerResponse(single: await handler(try await ServerRequest(stream: request), context))
        }
    }
}
