import LockedState

/// Meets a transfer and a cancellation that may arrive in either order.
///
/// `register` returns true when the cancellation came first, so the transfer starts cancelled;
/// `cancel` returns the transfer when it is already registered.
final class TransferBox: Sendable {
    private struct State {
        var transfer: CurlTransfer?
        var cancelled = false
    }

    private let state = Locked(State())

    /// Stores the transfer; true when the task was already cancelled.
    func register(_ transfer: CurlTransfer) -> Bool {
        state.withLock { state in
            state.transfer = transfer
            return state.cancelled
        }
    }

    /// Records the cancellation; returns the transfer to cancel when there is one.
    func cancel() -> CurlTransfer? {
        state.withLock { state in
            state.cancelled = true
            return state.transfer
        }
    }
}
