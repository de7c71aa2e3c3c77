import LockedState

/// The upstream calls one inbound HTTP request may plan in all (`max_upstream_calls_per_request`),
/// shared by every element of a JSON-RPC batch so a batch cannot spend past the cap.
///
/// A shared upstream call's allowance is its waiters': calls it makes past its plan are paid by the
/// longest-waiting request that still can, so one request's spent cap does not fail the others.
public final class CallAllowance: Sendable {
    /// The cap for the whole request.
    public let limit: Int
    private let planned = Locked(0)
    private let payers: (@Sendable () -> [CallAllowance])?

    /// An allowance of `limit` calls.
    public init(limit: Int) {
        self.limit = limit
        self.payers = nil
    }

    /// The allowance of a shared call: the first of `payers()` (evaluated at each reservation) that can pay.
    init(sharedBy payers: @escaping @Sendable () -> [CallAllowance], limit: Int) {
        self.limit = limit
        self.payers = payers
    }

    /// Counts `calls` more planned calls; throws -32013 (nothing counted) when they would pass the cap.
    public func reserve(_ calls: Int, reason: String? = nil) throws(GatewayError) {
        if let payers {
            var refusal = GatewayError.planTooLarge(estimatedCalls: calls, limit: limit, reason: reason)
            for payer in payers() {
                do { return try payer.reserve(calls, reason: reason) } catch { refusal = error }
            }
            throw refusal
        }
        let refused = planned.withLock { planned -> Int? in
            let total = Self.total(planned, calls)
            guard total <= limit else { return total }
            planned = total
            return nil
        }
        if let refused { throw .planTooLarge(estimatedCalls: refused, limit: limit, reason: reason) }
    }

    /// Throws -32013 when `calls` more planned calls would pass the cap; counts nothing (dry runs).
    public func check(_ calls: Int) throws(GatewayError) {
        let total = Self.total(planned.withLock { $0 }, calls)
        if total > limit { throw .planTooLarge(estimatedCalls: total, limit: limit) }
    }

    /// `planned + calls`, saturating at `Int.max`.
    private static func total(_ planned: Int, _ calls: Int) -> Int {
        let (sum, overflow) = planned.addingReportingOverflow(calls)
        return overflow ? Int.max : sum
    }
}
