import LockedState

/// The upstream calls one inbound HTTP request may plan in all (`max_upstream_calls_per_request`),
/// shared by every element of a JSON-RPC batch so a batch cannot spend past the cap.
public final class CallAllowance: Sendable {
    /// The cap for the whole request.
    public let limit: Int
    private let planned = Locked(0)

    /// An allowance of `limit` calls.
    public init(limit: Int) {
        self.limit = limit
    }

    /// Counts `calls` more planned calls; throws -32013 (nothing counted) when they would pass the cap.
    public func reserve(_ calls: Int) throws(GatewayError) {
        let refusedTotal = planned.withLock { planned -> Int? in
            let (total, overflow) = planned.addingReportingOverflow(calls)
            guard !overflow, total <= limit else { return overflow ? Int.max : total }
            planned = total
            return nil
        }
        if let refusedTotal { throw .planTooLarge(estimatedCalls: refusedTotal, limit: limit) }
    }

    /// Throws -32013 when `calls` more planned calls would pass the cap; counts nothing (dry runs).
    public func check(_ calls: Int) throws(GatewayError) {
        let (total, overflow) = planned.withLock { $0 }.addingReportingOverflow(calls)
        if overflow || total > limit { throw .planTooLarge(estimatedCalls: overflow ? Int.max : total, limit: limit) }
    }
}
