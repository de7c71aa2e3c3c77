/// Calls a request was admitted for (`RateBudget.admit`): they count in the budget's projections,
/// so that requests admitted at the same instant cannot all count on the same slots, until the
/// request's own acquires take them up one by one (`BudgetClaim.admission`) or it ends.
public final class BudgetAdmission: Sendable {
    /// The admission's id in its account's `AdmittedCalls`.
    let id: Int
    /// When the calls were projected to be answered.
    public let completion: ContinuousClock.Instant
    private let letGo: @Sendable (_ id: Int) -> Void

    /// An admission of calls projected to be answered at `completion`, whose remaining calls `letGo` lets go of when it ends.
    init(id: Int, completion: ContinuousClock.Instant, letGo: @escaping @Sendable (_ id: Int) -> Void) {
        self.id = id
        self.completion = completion
        self.letGo = letGo
    }

    deinit {
        // The request is over: what it never acquired no longer counts.
        letGo(id)
    }
}

/// What `RateBudget.admit` decided.
public enum AdmissionOutcome: Sendable {
    /// The calls fit before the deadline and count from now on.
    case admitted(BudgetAdmission)
    /// The calls could all have been answered only at `completion`, past the deadline; granted at
    /// once they would have been answered at `atOnce` (past the deadline too when the upstream's
    /// typical latency alone is longer than the time left).
    case refused(completion: ContinuousClock.Instant, atOnce: ContinuousClock.Instant)
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
        guard let id, let left = remaining[id] else { return }
        total -= 1
        remaining[id] = left == 1 ? nil : left - 1
    }

    /// Admission `id` ended: its calls left count no more.
    mutating func release(_ id: Int) {
        total -= remaining.removeValue(forKey: id) ?? 0
    }
}

/// How long one account's upstream calls typically take from grant to completion: the median of
/// the last 15 within a minute (one hung or instant call moves it little, and a slow spell is
/// forgotten once it is over, though refused plans make no calls to show it), zero with fewer
/// than 3. Projections count it for every call, so that a plan admitted is answered, not just
/// granted, by its deadline.
struct TypicalCallDuration: Sendable {
    private static let kept = 15
    private static let fewest = 3
    private static let memory: Duration = .seconds(60)
    private var recent: [(at: ContinuousClock.Instant, took: Duration)] = []

    /// Counts a call that took `duration`, completed at `now`.
    mutating func record(_ duration: Duration, at now: ContinuousClock.Instant) {
        recent.append((now, duration))
        if recent.count > Self.kept { recent.removeFirst() }
    }

    /// How much earlier than its deadline a plan must be projected answered to be admitted: calls
    /// vary around the typical duration (a quarter of it), and answers take a moment to send (25 ms).
    func margin(at now: ContinuousClock.Instant) -> Duration {
        value(at: now) / 4 + .milliseconds(25)
    }

    /// The typical duration as of `now`.
    func value(at now: ContinuousClock.Instant) -> Duration {
        let current = recent.filter { now - $0.at < Self.memory }.map(\.took).sorted()
        return current.count < Self.fewest ? .zero : current[current.count / 2]
    }
}
