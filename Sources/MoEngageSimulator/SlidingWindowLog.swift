/// An exact rolling-window rate limiter: the timestamps of accepted calls, checked against every limit.
///
/// A call is accepted only when, for every limit, fewer than `calls` accepted calls fall in the
/// last `perSeconds` seconds. Rejected calls are not recorded. Not thread-safe on its own.
struct SlidingWindowLog {
    private let limits: [RollingLimit]
    private var accepted: [Double] = []

    init(limits: [RollingLimit]) {
        self.limits = limits
    }

    /// Records a call at `now` (seconds) if every limit allows it; returns the first limit broken otherwise.
    mutating func admit(at now: Double) -> RollingLimit? {
        let longest = limits.map(\.perSeconds).max() ?? 0
        if let firstKept = accepted.firstIndex(where: { $0 > now - longest }) {
            accepted.removeFirst(firstKept)
        } else {
            accepted.removeAll()
        }
        for limit in limits {
            let inWindow = accepted.reversed().prefix { $0 > now - limit.perSeconds }.count
            if inWindow >= limit.calls { return limit }
        }
        accepted.append(now)
        return nil
    }
}
