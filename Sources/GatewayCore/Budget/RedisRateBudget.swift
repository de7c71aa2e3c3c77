import GatewayConfig
import LockedState
import RedisClient

/// The `RateBudget` every replica shares through Redis: each grant is decided by one Lua script
/// (`RedisBudgetScripts.grant`) over the account's in-flight grants and recent completions, on
/// Redis' clock, so that all replicas together keep every limit.
///
/// Within a replica, waiters are served round-robin across callers (one `FairQueue` per account,
/// one driver asking Redis for the head waiter); across replicas, each asks again when its wait
/// ends, with jitter, so none is favoured.
///
/// When Redis fails (a command fails, or the once-a-second probe does), the account falls back
/// to this replica's share of each limit (`calls / replicas_hint`, rounded down). Other replicas'
/// calls granted before the failure are unknown here and may have filled the windows, some still
/// running: the fallback grants nothing until they have all left (the longest window plus the
/// longest call, `recovery`), then keeps this replica's calls (every one it made, Redis-granted
/// ones too) within its share, so that the replicas together stay within each limit. When Redis
/// answers again (found by the probe, traffic or not), the replica tells it so (`mode` 2): for
/// `recovery` every replica keeps to its share as well as to Redis, until the calls Redis never
/// saw have left. State Redis lost (a restart, a flush, an eviction, a damaged key, a new
/// server `run_id`) blocks every replica for `recovery` (see `RedisBudgetScripts`). A replica
/// cut off from Redis while the others reach it goes silent there: the others keep to their
/// shares until it has been forgotten and its calls have left their windows, and it stops
/// granting before it is forgotten (`forgetAfter`). A replica that stops gracefully says
/// goodbye (`leave`), so a rolling update costs nothing; one restarted under the same
/// `replicaID` takes its place.
public final class RedisRateBudget: RateBudget {
    /// How the budget uses Redis.
    public struct Settings: Sendable {
        /// Prefix of every key (e.g. `campaign-gateway:`).
        public var keyPrefix: String
        /// How many replicas share the budget, for the fallback share.
        public var replicasHint: Int
        /// The safety margin added to each limit's period.
        public var safetyMargin: Duration
        /// The longest an upstream call can take; a grant whose replica vanished counts as completed after it.
        public var callLease: Duration
        /// How often a degraded account tries Redis again when asked.
        public var probeInterval: Duration = .seconds(1)
        /// How long a silent replica may call on its share, unseen (at least a `recovery`): a replica
        /// whose fallback has lasted this long less a `recovery` grants nothing more until Redis answers.
        public var forgetAfter: Duration = .seconds(3_600)
        /// How Redis knows this replica: the same for a restart of it, unique among the replicas.
        public var replicaID = "r" + String(UInt64.random(in: 1...UInt64.max), radix: 36)
        /// The share of grants kept for background work while interactive calls wait too (`background.reserved_share`).
        public var reservedBackgroundShare = 0.0

        /// Settings for a prefix, a replica count, a margin and a lease.
        public init(keyPrefix: String, replicasHint: Int, safetyMargin: Duration, callLease: Duration) {
            self.keyPrefix = keyPrefix
            self.replicasHint = replicasHint
            self.safetyMargin = safetyMargin
            self.callLease = callLease
        }
    }

    /// One account's keys and limits.
    private struct Account {
        var keys: [String]
        var limits: [SlidingWindowSchedule.Limit]
        var share: [SlidingWindowSchedule.Limit]
        /// The interval between background grants (of all replicas together).
        var spacing: Duration
        /// The longest window.
        var horizon: Duration
        /// How long until every call granted before now has left its window: the longest window plus the longest call.
        var recovery: Duration
        /// How long a replica may be silent before it may be calling unseen: shortly before its fallback's block could end.
        var silence: Duration
        /// How long the fallback grants on its share: a silent replica is forgotten a `recovery` after that.
        var fallback: Duration
    }

    /// The accounts of the configured workspaces.
    private struct Topology {
        var accounts: [String: Account] = [:]
        var accountOfWorkspace: [String: String]
        var accountNames: [String: String]

        /// The accounts of `workspaces` under `settings`.
        init(workspaces: [UpstreamWorkspace], settings: Settings) {
            let hint = max(1, settings.replicasHint)
            for (account, limits) in SlidingWindowSchedule.limitsByAccount(of: workspaces, safetyMargin: settings.safetyMargin) {
                // The hash tag keeps an account's keys in one Redis Cluster slot, as one script needs.
                let base = settings.keyPrefix + "budget:{" + account + "}"
                let horizon = limits.map(\.window).max() ?? .zero
                let recovery = horizon + settings.callLease
                accounts[account] = Account(
                    keys: [base + ":inflight", base + ":done", base + ":replicas", base + ":guard", base + ":pause", base + ":demand", base + ":background"],
                    limits: limits,
                    share: limits.map { SlidingWindowSchedule.Limit(calls: $0.calls / hint, window: $0.window) },
                    spacing: SlidingWindowSchedule.evenSpacing(of: limits),
                    horizon: horizon, recovery: recovery, silence: recovery - min(.seconds(10), recovery / 2),
                    fallback: max(settings.forgetAfter, recovery))
            }
            accountOfWorkspace = Dictionary(uniqueKeysWithValues: workspaces.map { ($0.name, $0.account) })
            accountNames = Dictionary(grouping: workspaces, by: \.account).mapValues { $0.map(\.name).sorted().joined(separator: ",") }
        }
    }

    private struct Waiter {
        var workspace: String
        var deadline: @Sendable () -> ContinuousClock.Instant
        var continuation: CheckedContinuation<BudgetGrant, any Error>
    }

    /// What this replica knows of one account.
    private struct Local {
        var queue: ClassedWaiters
        var waiters: [Int: Waiter] = [:]
        var driving = false
        /// This replica's calls, under its share of each limit.
        var own: SlidingWindowSchedule
        var degraded = false
        var nextProbe = ContinuousClock.now
        /// The server changes (`RedisClient.serverChanges`) already told to Redis (`mode` 1).
        var serverChangesTold = 0
        /// The guard's generation this replica last saw (0: none yet).
        var generation: Int64 = 0
        var pausedUntil: ContinuousClock.Instant?
        /// No grant before this (after a fallback began, or after Redis lost the state).
        var blockedUntil: ContinuousClock.Instant?
        /// Until then the own share applies in shared mode too.
        var shareAlsoUntil: ContinuousClock.Instant?
        /// While degraded: when the fallback stops granting (the others may forget this replica soon after).
        var fallbackEnds: ContinuousClock.Instant?
        /// Whether Redis has answered this process for the account.
        var answered = false
        /// When Redis last answered it (its mark among the replicas is no older, but for the answer's way back).
        var lastAnswered: ContinuousClock.Instant?
        /// Calls admitted here and not waiting yet.
        var admitted = AdmittedCalls()

        /// Calls this replica waits on or has admitted, as the others' projections count them.
        var demand: Int { queue.count() + admitted.total }
        /// The interactive part of `demand` (only interactive calls are admitted).
        var interactiveDemand: Int { queue.count(.interactive) + admitted.total }

        /// Nothing known yet of an account with `entry`'s limits, keeping `reservedShare` for background work.
        init(_ entry: Account, reservedShare: Double) {
            own = SlidingWindowSchedule(limits: entry.share)
            queue = ClassedWaiters(reservedShare: reservedShare, horizon: entry.horizon, spacing: entry.spacing)
        }
        /// How long this replica's calls take.
        var typical = TypicalCallDuration()
    }

    private struct State {
        var accounts: [String: Local]
        var nextWaiter = 0
    }

    private enum Attempt {
        case granted(UInt64)
        case wait(Duration)
    }

    /// The guard every script answers first (`now, block, share, lost, generation, unseen, orphans`), on this replica's clock.
    private struct Guard {
        /// How many values it takes at the start of every answer.
        static let count = 7
        /// No value of an answer is further from zero (about 1,100 years in µs), so differences never overflow.
        private static let magnitude: Int64 = 1 << 55
        var block: ContinuousClock.Instant
        var share: ContinuousClock.Instant
        var unseen: ContinuousClock.Instant
        var orphans: ContinuousClock.Instant
        var lost: Bool
        var generation: Int64
        private var localNow: ContinuousClock.Instant
        private var redisNow: Int64

        init(_ values: [Int64]) throws(RedisError) {
            guard values.count >= Self.count else { throw .protocolViolation("a budget answer without its guard") }
            guard values.allSatisfy({ $0 > -Self.magnitude && $0 < Self.magnitude }) else {
                throw .protocolViolation("a budget answer out of range")
            }
            lost = values[3] == 1
            generation = values[4]
            let localNow = ContinuousClock.now
            let redisNow = values[0]
            self.localNow = localNow
            self.redisNow = redisNow
            block = localNow + .microseconds(values[1] - redisNow)
            share = localNow + .microseconds(values[2] - redisNow)
            unseen = localNow + .microseconds(values[5] - redisNow)
            orphans = localNow + .microseconds(values[6] - redisNow)
        }

        /// A Redis time (µs) of the same answer, on this replica's clock.
        func instant(_ micros: Int64) -> ContinuousClock.Instant {
            localNow + .microseconds(micros - redisNow)
        }
    }

    private static let inFlightPoll: Duration = .milliseconds(20)
    private static let longestSleep: Duration = .milliseconds(500)
    private let grantScript = RedisScript(RedisBudgetScripts.grant)
    private let completeScript = RedisScript(RedisBudgetScripts.complete)
    private let withdrawScript = RedisScript(RedisBudgetScripts.withdraw)
    private let pauseScript = RedisScript(RedisBudgetScripts.pause)
    private let stateScript = RedisScript(RedisBudgetScripts.state)
    private let redis: RedisClient
    private let settings: Settings
    private let health: SharedStoreHealth
    private let topology: Locked<Topology>
    /// Each account's keys, limits and share.
    private var accounts: [String: Account] { topology.withLock { $0.accounts } }
    /// Workspace name → account.
    private var accountOfWorkspace: [String: String] { topology.withLock { $0.accountOfWorkspace } }
    /// How health reports and logs name an account: its workspace names (an account id can hold a key's digest).
    private var accountNames: [String: String] { topology.withLock { $0.accountNames } }
    /// Since when this replica knows its own calls: a younger one cannot tell what its previous process did.
    private let recordSince = ContinuousClock.now
    private let state: Locked<State>

    /// A shared budget for `workspaces` (names on one account share it) through `redis`.
    public init(workspaces: [UpstreamWorkspace], redis: RedisClient, settings: Settings, health: SharedStoreHealth) {
        let topology = Topology(workspaces: workspaces, settings: settings)
        self.topology = Locked(topology)
        state = Locked(State(accounts: topology.accounts.mapValues { Local($0, reservedShare: settings.reservedBackgroundShare) }))
        self.redis = redis
        self.settings = settings
        self.health = health
    }

    /// See `RateBudget.reconfigure`: each account's limits and share change in place (its calls,
    /// waiters and Redis state kept); new accounts start on their share like a new replica.
    public func reconfigure(workspaces: [UpstreamWorkspace]) {
        let topology = Topology(workspaces: workspaces, settings: settings)
        let merged = self.topology.withLock { current -> Topology in
            current.accounts.merge(topology.accounts) { _, new in new }
            current.accountOfWorkspace.merge(topology.accountOfWorkspace) { _, new in new }
            current.accountNames.merge(topology.accountNames) { _, new in new }
            return current
        }
        state.withLock { state in
            for (name, account) in merged.accounts {
                if state.accounts[name] == nil {
                    state.accounts[name] = Local(account, reservedShare: settings.reservedBackgroundShare)
                } else {
                    state.accounts[name]?.own.relimit(account.share)
                    state.accounts[name]?.queue.horizon = account.horizon
                    state.accounts[name]?.queue.spacing = account.spacing
                }
            }
        }
    }

    // MARK: RateBudget

    /// Waits for a grant; see `RateBudget.acquire`.
    public func acquire(workspace: String, claim: BudgetClaim) async throws -> BudgetGrant {
        try Task.checkCancellation()
        let account = accountOf(workspace)
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let startDriver = state.withLock { state -> Bool in
                    state.accounts[account]?.queue.enqueue(id, caller: claim.caller, since: claim.arrived, priority: claim.priority)
                    state.accounts[account]?.admitted.take(claim.admission?.id)
                    state.accounts[account]?.waiters[id] = Waiter(workspace: workspace, deadline: claim.deadline, continuation: continuation)
                    guard state.accounts[account]?.driving == false else { return false }
                    state.accounts[account]?.driving = true
                    return true
                }
                if Task.isCancelled { cancelWaiter(id, account: account) }
                if startDriver { Task { await drive(account) } }
            }
        } onCancel: {
            cancelWaiter(id, account: account)
        }
    }

    /// See `RateBudget.complete`.
    public func complete(_ grant: BudgetGrant, sent: Bool) {
        let account = accountOf(grant.workspace)
        let shared = state.withLock { state -> Bool in
            let now = ContinuousClock.now
            if sent {
                state.accounts[account]?.own.complete(at: now)
                state.accounts[account]?.typical.record(now - grant.granted, at: now)
            } else {
                state.accounts[account]?.own.withdraw()
            }
            return state.accounts[account]?.degraded == false
        }
        guard shared, let entry = accounts[account] else { return }
        Task {
            // On failure Redis keeps the grant in flight until its lease ends: it still counts, later.
            await run(sent ? completeScript : withdrawScript, account: entry, name: account, arguments: [.string(Self.member(grant.id, grant.priority))])
        }
    }

    /// See `RateBudget.projectedCompletion`: from Redis' schedule while shared (and this
    /// replica's share while it applies), from the share while degraded.
    public func projectedCompletion(
        workspace: String, calls: Int, priority: BudgetPriority, deadline: ContinuousClock.Instant?
    ) async -> ContinuousClock.Instant {
        await project(calls, priority: priority, workspace: workspace, deadline: deadline, admitting: false).completion
    }

    /// See `RateBudget.admit`: counting the calls the other replicas wait on or admitted, as each told Redis.
    public func admit(workspace: String, calls: Int, by deadline: ContinuousClock.Instant) async -> AdmissionOutcome {
        let projection = await project(calls, priority: .interactive, workspace: workspace, deadline: deadline, admitting: true)
        return projection.admission.map(AdmissionOutcome.admitted) ?? .refused(completion: projection.completion, atOnce: projection.atOnce)
    }

    /// A projection of calls (`project`): when they could all have been answered, when they would
    /// have been granted at once, and their admission if they were admitted.
    private struct Projection {
        var completion: ContinuousClock.Instant
        var atOnce: ContinuousClock.Instant
        var admission: BudgetAdmission?
    }

    /// When `calls` more calls of `priority`, after every replica's waiting and admitted ones that go
    /// before them, could all have been granted and answered (background ones at their pace);
    /// `admitting` (interactive calls), they are admitted in the same step when that is by `deadline`.
    private func project(
        _ calls: Int, priority: BudgetPriority, workspace: String, deadline: ContinuousClock.Instant?, admitting: Bool
    ) async -> Projection {
        let account = accountOf(workspace)
        guard let entry = accounts[account], let degraded = state.withLock({ $0.accounts[account]?.degraded }) else {
            return Projection(completion: .now, atOnce: .now, admission: admitting ? BudgetAdmission(id: 0, completion: .now) { _ in } : nil)
        }
        // Redis' schedule, the earliest it allows a grant and the other replicas' demand (this one's
        // told in the same step, with the calls to admit); none when degraded (perhaps just now: its
        // block counts) or Redis is slower than the deadline: then this replica's share decides.
        var shared: (schedule: SlidingWindowSchedule, start: ContinuousClock.Instant, othersDemand: Int)?
        let (demand, interactiveDemand) = state.withLock { state in
            (state.accounts[account]?.demand ?? 0, state.accounts[account]?.interactiveDemand ?? 0)
        }
        let admittingCalls = admitting ? calls : 0
        if !degraded,
            let (values, answerGuard) = await run(
                stateScript, account: entry, name: account,
                arguments: [.int(Int64(demand + admittingCalls)), .int(Int64(interactiveDemand + admittingCalls))], deadline: deadline),
            values.count >= Guard.count + 4
        {
            let completions = values[(Guard.count + 4)...].map(answerGuard.instant)
            shared = (
                SlidingWindowSchedule(limits: entry.limits, inFlight: Int(values[Guard.count + 1]), completions: completions),
                max(answerGuard.instant(values[Guard.count]), answerGuard.block),
                Int(values[Guard.count + (priority == .interactive ? 3 : 2)])
            )
        }
        let decided = state.withLock { state -> Projection in
            guard var local = state.accounts[account] else { return Projection(completion: .now, atOnce: .now, admission: nil) }
            let now = ContinuousClock.now
            let count = local.queue.ahead(of: priority) + local.admitted.total + calls
            let ownStart = max(now, local.degraded ? (local.pausedUntil ?? now) : now, local.blockedUntil ?? now)
            let callDuration = local.typical.value(at: now)
            var completion = Self.project(local.own, limits: entry.share, count: count, after: ownStart, callDuration: callDuration)
            // Past the fallback's end nothing is granted until Redis answers.
            if local.degraded, let ends = local.fallbackEnds, completion > ends { completion = ownStart + .seconds(86_400) }
            if let shared {
                let projection = Self.project(
                    shared.schedule, limits: entry.limits, count: count + shared.othersDemand,
                    after: max(now, shared.start, local.blockedUntil ?? now),
                    callDuration: callDuration)
                completion = (local.shareAlsoUntil ?? now) > now ? max(projection, completion) : projection
            }
            if priority == .background, calls > 0 {
                completion = max(completion, local.queue.pacedCompletion(of: calls, after: ownStart, callDuration: callDuration))
            }
            let margin = local.typical.margin(at: now)
            let atOnce = now + callDuration + margin
            guard admitting else { return Projection(completion: completion, atOnce: atOnce, admission: nil) }
            completion = completion + margin
            guard let deadline, completion <= deadline else { return Projection(completion: completion, atOnce: atOnce, admission: nil) }
            let id = local.admitted.add(calls)
            state.accounts[account] = local
            return Projection(
                completion: completion, atOnce: atOnce,
                admission: BudgetAdmission(id: id, completion: completion) { [self] id in
                    self.state.withLock { $0.accounts[account]?.admitted.release(id) }
                })
        }
        // Redis was told of the calls before they were refused: it is told again without them.
        if admitting, decided.admission == nil, shared != nil { retellDemand(account) }
        return decided
    }

    /// See `RateBudget.callsInWindow`: this replica's own calls.
    public func callsInWindow(workspace: String, period: Duration) -> Int {
        let account = accountOf(workspace)
        return state.withLock { $0.accounts[account]?.own.calls(within: period, at: .now) } ?? 0
    }

    /// See `RateBudget.pause`: in Redis for every replica, and locally for the fallback.
    public func pause(workspace: String, until instant: ContinuousClock.Instant) {
        let account = accountOf(workspace)
        let shared = state.withLock { state -> Bool in
            guard let current = state.accounts[account] else { return false }
            state.accounts[account]?.pausedUntil = max(current.pausedUntil ?? instant, instant)
            return !current.degraded
        }
        guard shared, let entry = accounts[account] else { return }
        let micros = max(1, (instant - .now).microseconds)
        Task { await run(pauseScript, account: entry, name: account, arguments: [.int(micros)]) }
    }

    // MARK: The store's health, from the probe

    /// Redis did not answer the probe: every account falls back now, not at its next call.
    public func storeUnreachable(because reason: String) {
        for account in accounts.keys { degrade(account, because: reason) }
    }

    /// Redis answered the probe: each account looks at its guard (a lost state found within a
    /// second, traffic or not), and each degraded one returns (tells Redis, see `RedisBudgetScripts`).
    public func storeReachable() async {
        for (name, entry) in accounts {
            let degraded = state.withLock { $0.accounts[name]?.degraded == true }
            await run(stateScript, account: entry, name: name, arguments: [], returning: degraded)
        }
    }

    /// Tells Redis this replica stops, after its last call (a graceful stop): the others need not keep to their shares for it.
    public func leave() async {
        for (name, entry) in accounts where state.withLock({ $0.accounts[name]?.degraded == false }) {
            _ = try? await redis.command(["ZREM", .string(entry.keys[2]), .string(settings.replicaID)])
            _ = try? await redis.command(["HDEL", .string(entry.keys[5]), .string(settings.replicaID)])
        }
    }

    // MARK: Granting

    /// Grants to this account's waiters, one at a time (interactive ones first, background ones at
    /// their pace, each class in fair order), until none is left.
    private func drive(_ account: String) async {
        while true {
            // The class of the next grant, or how long background pacing holds the only waiters back.
            let next = state.withLock { state -> (BudgetPriority?, Duration)? in
                guard let local = state.accounts[account], !local.queue.isEmpty else {
                    state.accounts[account]?.driving = false
                    return nil
                }
                let now = ContinuousClock.now
                return (local.queue.nextClass(at: now), local.queue.backgroundDue(at: now) - now)
            }
            guard let next else { return }
            guard let priority = next.0 else {
                try? await Task.sleep(for: min(next.1, Self.longestSleep))
                continue
            }
            switch await attempt(account, priority: priority) {
            case .granted(let grantID):
                let waiter = state.withLock { state -> Waiter? in
                    while let next = state.accounts[account]?.queue.take(priority, at: .now) {
                        if let waiter = state.accounts[account]?.waiters.removeValue(forKey: next) { return waiter }
                    }
                    return nil
                }
                if let waiter {
                    waiter.continuation.resume(returning: BudgetGrant(workspace: waiter.workspace, id: grantID, priority: priority))
                } else if let workspace = accountOfWorkspace.first(where: { $0.value == account })?.key {
                    // Everyone left meanwhile: no call was made with it, so it is taken back.
                    complete(BudgetGrant(workspace: workspace, id: grantID, priority: priority), sent: false)
                }
            case .wait(let delay):
                try? await Task.sleep(for: min(delay, Self.longestSleep) + .microseconds(Int64.random(in: 0...3_000)))
            }
        }
    }

    /// One try for one grant of `priority`: through Redis while shared, from the own share while degraded.
    private func attempt(_ account: String, priority: BudgetPriority) async -> Attempt {
        guard let entry = accounts[account] else { return .wait(Self.inFlightPoll) }
        let probeDue = state.withLock { $0.accounts[account].map { $0.degraded && $0.nextProbe <= .now } ?? false }
        if probeDue { await run(stateScript, account: entry, name: account, arguments: [], returning: true) }
        let grantID = UInt64.random(in: 1...UInt64.max)
        if state.withLock({ $0.accounts[account]?.degraded == false }) {
            if let wait = localWait(account, degraded: false) { return .wait(wait) }
            let (ownAllows, demand, interactiveDemand) = state.withLock { state in
                (
                    state.accounts[account].map { ($0.own.nextAllowed(after: .now) ?? .now + .seconds(1)) <= .now } ?? false,
                    state.accounts[account].map { $0.demand } ?? 0,
                    state.accounts[account].map { $0.interactiveDemand } ?? 0
                )
            }
            // The call asked for here leaves the demand when granted.
            let arguments: [RESPArgument] =
                [
                    .string(Self.member(grantID, priority)), ownAllows ? "1" : "0", .int(Int64(max(0, demand - 1))),
                    .int(Int64(max(0, interactiveDemand - (priority == .interactive ? 1 : 0)))),
                    .int(Int64((settings.reservedBackgroundShare * 1_000_000).rounded())), .int(entry.spacing.microseconds),
                ]
                + entry.limits.flatMap { [RESPArgument.int($0.calls), .int($0.window.microseconds)] }
            if let (values, _) = await run(grantScript, account: entry, name: account, arguments: arguments) {
                guard values.count >= Guard.count + 2 else { return .wait(Self.inFlightPoll) }
                switch values[Guard.count] {
                case 1:
                    state.withLock { $0.accounts[account]?.own.grant() }
                    return .granted(grantID)
                case 2:
                    // Redis asks for the share, known locally now: the next attempt waits for it.
                    return .wait(.zero)
                default:
                    let wait = values[Guard.count + 1]
                    return .wait(wait <= 0 ? Self.inFlightPoll : .microseconds(wait))
                }
            }
        }
        if let wait = localWait(account, degraded: true) { return .wait(min(wait, settings.probeInterval)) }
        state.withLock { $0.accounts[account]?.own.grant() }
        return .granted(grantID)
    }

    /// How long this replica must wait before asking for a grant (nil: it may ask now): the
    /// block, and the own share while degraded or while Redis asks for it.
    private func localWait(_ account: String, degraded: Bool) -> Duration? {
        state.withLock { state -> Duration? in
            guard let local = state.accounts[account] else { return Self.inFlightPoll }
            let now = ContinuousClock.now
            if let blocked = local.blockedUntil, blocked > now { return blocked - now }
            guard degraded || (local.shareAlsoUntil.map { $0 > now } ?? false) else { return nil }
            if degraded, let ends = local.fallbackEnds, ends <= now { return settings.probeInterval }
            if degraded, let paused = local.pausedUntil, paused > now { return paused - now }
            guard let allowed = local.own.nextAllowed(after: now) else { return Self.inFlightPoll }
            return allowed > now ? allowed - now : nil
        }
    }

    // MARK: Talking to Redis

    /// Runs `script` for the account with the common arguments before `arguments`, and applies
    /// the guard it answers; its values and that guard, or nil (and the account degraded) when
    /// Redis failed. `returning`: the account was degraded, and this run tells Redis it is back
    /// (shared again when it worked).
    @discardableResult
    private func run(
        _ script: RedisScript, account entry: Account, name account: String, arguments: [RESPArgument], returning: Bool = false,
        deadline: ContinuousClock.Instant? = nil
    ) async -> (values: [Int64], guard: Guard)? {
        let serverChanges = redis.serverChanges
        let (mode, seen) = state.withLock { state -> (String, Int64) in
            guard let local = state.accounts[account] else { return ("0", 0) }
            if serverChanges > local.serverChangesTold { return ("1", local.generation) }
            return (returning ? "2" : "0", local.generation)
        }
        let recovery = entry.recovery
        let common: [RESPArgument] = [
            .int(entry.horizon.microseconds), .int(recovery.microseconds), .string(mode), .int(settings.callLease.microseconds), .int(seen),
            // A silent replica is forgotten a `recovery` after its fallback stopped granting.
            .int(Int64.random(in: 1...(1 << 50))), .string(settings.replicaID), .int(entry.silence.microseconds),
            .int((entry.fallback + recovery).microseconds),
        ]
        do {
            let reply = try await script.run(on: redis, keys: entry.keys, arguments: common + arguments, deadline: deadline)
            guard let values = reply.array?.compactMap(\.integer), values.count >= Guard.count else {
                throw RedisError.protocolViolation("a budget answer without its fields")
            }
            let answerGuard = try Guard(values)
            let held = state.withLock { state -> (ContinuousClock.Instant?, ContinuousClock.Instant?)? in
                guard var local = state.accounts[account] else { return nil }
                local.serverChangesTold = max(local.serverChangesTold, serverChanges)
                local.generation = answerGuard.generation
                let now = ContinuousClock.now
                let young = recordSince + recovery > now
                if returning {
                    local.degraded = false
                    local.fallbackEnds = nil
                    // Others' calls before the fallback are in Redis now: the guard alone decides; but a
                    // process that began cut off cannot know what its previous one did meanwhile.
                    local.blockedUntil = young && !local.answered ? recordSince + recovery : nil
                }
                local.answered = true
                local.lastAnswered = now
                if answerGuard.block > now { local.blockedUntil = max(local.blockedUntil ?? answerGuard.block, answerGuard.block) }
                let share = max(answerGuard.share, answerGuard.unseen, answerGuard.orphans)
                if share > now { local.shareAlsoUntil = max(local.shareAlsoUntil ?? share, share) }
                if answerGuard.orphans > now, young {
                    // A silent replica's calls may be this one's previous process's: its share is not known to be free.
                    let known = min(answerGuard.orphans, recordSince + recovery)
                    local.blockedUntil = max(local.blockedUntil ?? known, known)
                }
                state.accounts[account] = local
                return (local.blockedUntil, local.shareAlsoUntil)
            }
            health.budgetHeld(accountNames[account] ?? "?", blocked: held?.0, share: held?.1)
            if let blocked = held?.0 { failWaiters(account, outlastedBy: blocked) }
            health.storeAnswered()
            if returning { health.budgetShared(accountNames[account] ?? "?") }
            if answerGuard.lost { health.budgetStateLost(accountNames[account] ?? "?", blockedFor: answerGuard.block - .now) }
            if redis.serverChanges > serverChanges {
                // This command opened the connection that found a new server: tell it now.
                await run(stateScript, account: entry, name: account, arguments: [], deadline: deadline)
            }
            return (values, answerGuard)
        } catch RedisError.deadlineReached {
            return nil
        } catch {
            degrade(account, because: "\(error)")
            if returning { state.withLock { $0.accounts[account]?.nextProbe = .now + settings.probeInterval } }
            return nil
        }
    }

    // MARK: Falling back

    private func degrade(_ account: String, because reason: String) {
        let changed = state.withLock { state -> Bool in
            guard state.accounts[account]?.degraded == false, let entry = accounts[account] else { return false }
            let now = ContinuousClock.now
            state.accounts[account]?.degraded = true
            state.accounts[account]?.nextProbe = now + settings.probeInterval
            // The others forget this replica counting from its last mark in Redis (made no earlier than
            // its last answer here), not from when it noticed the failure (a command may wait out its
            // timeout first): its fallback ends by their count, give or take half a recovery.
            let counted = state.accounts[account]?.lastAnswered.map { min(now, $0 + entry.recovery / 2) } ?? now
            state.accounts[account]?.fallbackEnds = counted + entry.fallback
            let blocked = now + entry.recovery
            let earlier = state.accounts[account]?.blockedUntil ?? blocked
            state.accounts[account]?.blockedUntil = max(earlier, blocked)
            return true
        }
        health.storeFailed(reason)
        if changed { health.budgetOnShare(accountNames[account] ?? "?", reason: reason) }
        if let blocked = state.withLock({ $0.accounts[account]?.blockedUntil }) { failWaiters(account, outlastedBy: blocked) }
    }

    /// Answers -32029 at once to the waiters whose deadline comes before `blocked` (a block begun while they waited).
    private func failWaiters(_ account: String, outlastedBy blocked: ContinuousClock.Instant) {
        guard blocked > .now else { return }
        let outlasted = state.withLock { state -> [Waiter] in
            guard let waiters = state.accounts[account]?.waiters else { return [] }
            let ids = waiters.filter { $0.value.deadline() < blocked }.map(\.key)
            return ids.compactMap { id in
                state.accounts[account]?.queue.remove(id)
                return state.accounts[account]?.waiters.removeValue(forKey: id)
            }
        }
        for waiter in outlasted { waiter.continuation.resume(throwing: GatewayError.outlasted(until: blocked)) }
    }

    // MARK: Helpers

    /// A grant's member in Redis' sets: background grants' begin with `b`.
    private static func member(_ id: UInt64, _ priority: BudgetPriority) -> String {
        priority == .background ? "b" + String(id) : String(id)
    }

    private func cancelWaiter(_ id: Int, account: String) {
        let (waiter, shared) = state.withLock { state -> (Waiter?, Bool) in
            state.accounts[account]?.queue.remove(id)
            return (state.accounts[account]?.waiters.removeValue(forKey: id), state.accounts[account]?.degraded == false)
        }
        guard let waiter else { return }
        waiter.continuation.resume(throwing: CancellationError())
        // Redis was told of the call while it waited: it is told again without it (else it would hold other replicas back for 2 s).
        if shared { retellDemand(account) }
    }

    /// Tells Redis this replica's demand as it is now (after calls told while waiting, or admitted, left).
    private func retellDemand(_ account: String) {
        guard let entry = accounts[account] else { return }
        Task {
            let told = state.withLock { state in (state.accounts[account]?.demand ?? 0, state.accounts[account]?.interactiveDemand ?? 0) }
            await run(stateScript, account: entry, name: account, arguments: [.int(Int64(told.0)), .int(Int64(told.1))])
        }
    }

    private func accountOf(_ workspace: String) -> String {
        accountOfWorkspace[workspace] ?? workspace
    }

    /// When the last of `count` calls, each taking `callDuration`, could be answered; far off when a limit allows none.
    private static func project(
        _ schedule: SlidingWindowSchedule, limits: [SlidingWindowSchedule.Limit], count: Int, after start: ContinuousClock.Instant,
        callDuration: Duration
    ) -> ContinuousClock.Instant {
        guard limits.allSatisfy({ $0.calls > 0 }) else { return start + .seconds(86_400) }
        return schedule.projectedCompletion(of: count, after: start, callDuration: callDuration)
    }
}

extension Duration {
    /// Whole microseconds.
    var microseconds: Int64 {
        components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
    }
}
