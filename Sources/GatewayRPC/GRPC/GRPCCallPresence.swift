import GRPCCore
import GatewayCore
import Logging

/// A gRPC caller's presence: gRPC tells of a reset stream, a closed connection or a passed
/// `grpc-timeout` through the RPC's cancellation handle, not by cancelling the handler's task.
struct GRPCCallPresence: ClientPresence {
    let cancellation: ServerContext.RPCCancellationHandle

    func whileConnected<Value: Sendable>(logger: Logger, _ work: @escaping @Sendable () async -> Value) async -> Value {
        let cancellation = self.cancellation
        return await ClientDeparture.race(work, against: { try? await cancellation.cancelled }, logger: logger)
    }
}
