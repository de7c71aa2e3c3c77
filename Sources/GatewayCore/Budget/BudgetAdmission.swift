/// Calls a request was admitted for (`RateBudget.admit`): they count in the budget's projections,
/// so that requests admitted at the same instant cannot all count on the same slots, until the
/// request's own acquires take them up one by one (`BudgetClaim.admission`), it lets go of calls
/// it will not make (`release`), or it ends.
public final class BudgetAdmission: Sendable {
    /// The admission's id in its account's `AdmittedCalls`.
    let id: Int
    private let letGo: @Sendable (_ id: Int, _ calls: Int?) -> Void

    /// An admission whose calls `letGo` lets go of (some, or all when nil).
    init(id: Int, letGo: @escaping @Sendable (_ id: Int, _ calls: Int?) -> Void) {
        self.id = id
        self.letGo = letGo
    }

    /// Lets go of `calls` calls the request will not make itself (e.g. calls of other requests it joined).
    public func release(_ calls: Int) {
        if calls > 0 { letGo(id, calls) }
    }

    deinit {
        // The request is over: what it never acquired no longer counts.
        letGo(id, nil)
    }
}

/// What `RateBudget.admit` decided.
public enum AdmissionOutcome: Sendable {
    /// The calls fit before the deadline and count from now on.
    case admitted(BudgetAdmission)
    /// The calls could all have been granted only at `completion`, past the deadline.
    case refused(completion: ContinuousClock.Instant)
}

/// One account's admitted calls that are not waiting for a grant yet, by admission.
struct AdmittedCalls: Sendable {
    private var remaining: [Int: Int] = [:]
    private var nextID = 0
    /// How many, all admissions together.
    private(set) var total = 0

    /// Records an admission of `calls` calls; its id.
    mutating func add(_ calls: Int) -> Int {
        nextID += 1
        remaining[nextID] = calls
        total += calls
        return nextID
    }

    /// One call of admission `id` (if any, and if it has calls left) begins to wait.
    mutating func take(_ id: Int?) {
        release(id, calls: 1)
    }

    /// Admission `id` lets go of `calls` of its calls (all when nil).
    mutating func release(_ id: Int?, calls: Int?) {
        guard let id, let left = remaining[id] else { return }
        let gone = min(left, calls ?? left)
        total -= gone
        remaining[id] = left - gone == 0 ? nil : left - gone
    }
}
