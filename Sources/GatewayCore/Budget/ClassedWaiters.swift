/// One account's waiters in their two classes, and which of them the next grant goes to.
///
/// Interactive waiters go first. Background waiters take a slot only when no interactive one
/// waits, paced at the limits' even spacing (`SlidingWindowSchedule.evenSpacing`) so that slots
/// free up one grant interval apart and an interactive call arriving while background work
/// saturates the budget waits at most about one interval; or, while interactive ones wait too,
/// when background work has had less than `reservedShare` of the recent grants. Within a class, grants go
/// round-robin across callers (`FairQueue`). Pure value type.
struct ClassedWaiters: Sendable {
    private var interactive = FairQueue<Int>()
    private var background = FairQueue<Int>()
    private var classOf: [Int: BudgetPriority] = [:]
    /// Recent grants, oldest first, within `horizon`: whether each was background.
    private var recent: [(at: ContinuousClock.Instant, background: Bool)] = []
    private var lastBackgroundGrant: ContinuousClock.Instant?
    /// The fraction of grants kept for background work while both classes wait.
    var reservedShare: Double
    /// How far back `recent` reaches (the longest window).
    var horizon: Duration
    /// The interval between background grants.
    var spacing: Duration

    /// No waiters, for limits with `horizon` and `spacing`, keeping `reservedShare` for background work.
    init(reservedShare: Double, horizon: Duration, spacing: Duration) {
        self.reservedShare = reservedShare
        self.horizon = horizon
        self.spacing = spacing
    }

    /// Whether nothing waits.
    var isEmpty: Bool { classOf.isEmpty }

    /// Waiters of `priority`, or of every class when nil.
    func count(_ priority: BudgetPriority? = nil) -> Int {
        switch priority {
        case .interactive?: return interactive.count
        case .background?: return background.count
        case nil: return classOf.count
        }
    }

    /// Waiters that go before a new one of `priority`: the interactive ones, and for background work the background ones too.
    func ahead(of priority: BudgetPriority) -> Int {
        priority == .interactive ? interactive.count : classOf.count
    }

    /// Queues waiter `id`.
    mutating func enqueue(_ id: Int, caller: String, since: ContinuousClock.Instant, priority: BudgetPriority) {
        classOf[id] = priority
        switch priority {
        case .interactive: interactive.enqueue(id, id: id, caller: caller, since: since)
        case .background: background.enqueue(id, id: id, caller: caller, since: since)
        }
    }

    /// Removes waiter `id` if it still waits; whether it did.
    @discardableResult
    mutating func remove(_ id: Int) -> Bool {
        guard let priority = classOf.removeValue(forKey: id) else { return false }
        switch priority {
        case .interactive: _ = interactive.remove(id: id)
        case .background: _ = background.remove(id: id)
        }
        return true
    }

    /// The class the next slot goes to at `now`, or nil when only background work waits and its
    /// pacing holds it until `backgroundDue(now)`. Background work owed its reserved share takes
    /// the slot whatever its pacing (the share is of the grants, however they bunch).
    func nextClass(at now: ContinuousClock.Instant) -> BudgetPriority? {
        if interactive.isEmpty { return !background.isEmpty && backgroundDue(at: now) <= now ? .background : nil }
        return !background.isEmpty && owesBackground(at: now) ? .background : .interactive
    }

    /// When pacing lets the next background grant be made.
    func backgroundDue(at now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        lastBackgroundGrant.map { max(now, $0 + spacing) } ?? now
    }

    /// When `calls` more background calls, behind the background waiters, could be granted at their
    /// pace from `start` on and answered `callDuration` later.
    func pacedCompletion(of calls: Int, after start: ContinuousClock.Instant, callDuration: Duration) -> ContinuousClock.Instant {
        backgroundDue(at: start) + spacing * (background.count + calls - 1) + callDuration
    }

    /// Whether background work has had less than its reserved share of the recent grants.
    func owesBackground(at now: ContinuousClock.Instant) -> Bool {
        guard reservedShare > 0 else { return false }
        let kept = recent.filter { $0.at > now - horizon }
        let backgroundGrants = kept.filter(\.background).count
        return Double(backgroundGrants) < reservedShare * Double(kept.count + 1)
    }

    /// Takes the next waiter of `priority` (the other class's when none waits there) and records its grant at `now`.
    mutating func take(_ priority: BudgetPriority, at now: ContinuousClock.Instant) -> Int? {
        let id: Int?
        switch priority {
        case .interactive: id = interactive.next() ?? background.next()
        case .background: id = background.next() ?? interactive.next()
        }
        guard let id, let taken = classOf.removeValue(forKey: id) else { return nil }
        record(taken, at: now)
        return id
    }

    /// Records a grant of `priority` at `now` (for the reserved share and the pacing).
    private mutating func record(_ priority: BudgetPriority, at now: ContinuousClock.Instant) {
        if priority == .background { lastBackgroundGrant = now }
        recent.removeAll { $0.at <= now - horizon }
        recent.append((now, priority == .background))
    }
}
