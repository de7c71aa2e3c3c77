import GRPCCore

/// A server transport that sets aside a malformed `grpc-timeout` before grpc-swift reads it.
///
/// grpc-swift-2 (2.4.3) parses `grpc-timeout` before any handler or interceptor runs, and a
/// negative value (`-5m`) fails a precondition there: one unauthenticated request would crash
/// the process. A value that is not 1 to 8 digits and a unit is moved to
/// `malformedTimeoutKey`, so the RPC reaches the gateway, which refuses it as a bad argument.
struct TimeoutScreeningTransport<Base: ServerTransport>: ServerTransport {
    typealias Bytes = Base.Bytes

    /// Where a malformed `grpc-timeout` value is put.
    static var malformedTimeoutKey: String { "gateway-malformed-grpc-timeout" }

    let base: Base

    func configure(context: GRPCServerContext) {
        base.configure(context: context)
    }

    func listen(streamHandler: @escaping @Sendable (RPCStream<Inbound, Outbound>, ServerContext) async -> Void) async throws {
        try await base.listen { stream, context in
            let screened = stream.inbound.map { part -> RPCRequestPart<Bytes> in
                guard case .metadata(var metadata) = part else { return part }
                Self.screen(&metadata)
                return .metadata(metadata)
            }
            await streamHandler(
                RPCStream(descriptor: stream.descriptor, inbound: RPCAsyncSequence(wrapping: screened), outbound: stream.outbound), context)
        }
    }

    func beginGracefulShutdown() {
        base.beginGracefulShutdown()
    }

    /// Moves every `grpc-timeout` value unless there is exactly one and it is well formed (a
    /// client's own `malformedTimeoutKey` is dropped).
    static func screen(_ metadata: inout Metadata) {
        metadata.removeAllValues(forKey: malformedTimeoutKey)
        let values = Array(metadata[stringValues: "grpc-timeout"])
        guard !values.isEmpty, values.count != 1 || !isWellFormed(values[0]) else { return }
        metadata.removeAllValues(forKey: "grpc-timeout")
        metadata.addString(values.joined(separator: ",").prefix(40).description, forKey: malformedTimeoutKey)
    }

    /// 1 to 8 ASCII digits and one of `H M S m u n`, as the gRPC protocol writes a timeout.
    static func isWellFormed(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard (2...9).contains(bytes.count), let unit = bytes.last, "HMSmun".utf8.contains(unit) else { return false }
        return bytes.dropLast().allSatisfy { (0x30...0x39).contains($0) }
    }
}
