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
/// When Redis fails, the account falls back to this replica's share of each limit
/// (`calls / replicas_hint`, rounded down). The other replicas' calls of the current windows are
/// unknown, and may have filled them just before the failure, so the fallback grants nothing
/// until a full window has passed since it began, then keeps this replica's calls (every one it
/// made, Redis-granted ones too) within its share: together the replicas stay within the limit.
/// When Redis answers again, the replica first writes the calls it completed meanwhile back into
/// Redis (a restarted Redis is empty), then uses Redis while still keeping to its share (and to
/// the fallback's first window) for one more window, until the fallback's calls have left it.
/// Not covered: a replica cut off from Redis while the others still reach it; they cannot see
/// its share (run `replicas_hint` as the replica count and keep Redis next to the replicas).
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
        /// How often a degraded account tries Redis again.
        public var probeInterval: Duration = .seconds(1)

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
        var horizon: Duration
    }

    private struct Waiter {
        var workspace: String
        var continuation: CheckedContinuation<BudgetGrant, any Error>
    }

    /// What this replica knows of one account.
    private struct Local {
        var queue = FairQueue<Int>()
        var waiters: [Int: Waiter] = [:]
        var driving = false
        /// This replica's calls, under its share of each limit.
        var own: SlidingWindowSchedule
        /// This replica's completions within the horizon, to write back into Redis after a failure.
        var recent: [(id: UInt64, at: ContinuousClock.Instant)] = []
        var degraded = false
        var nextProbe = ContinuousClock.now
        var pausedUntil: ContinuousClock.Instant?
        /// No grant before this: a full window after a fallback began.
        var blockedUntil: ContinuousClock.Instant?
        /// Until then the own share applies in shared mode too (the window after a fallback).
        var shareAlsoUntil: ContinuousClock.Instant?
    }

    private struct State {
        var accounts: [String: Local]
        var nextWaiter = 0
    }

    private enum Attempt {
        case granted(UInt64)
        case wait(Duration)
    }

    private static let inFlightPoll: Duration = .milliseconds(20)
    private static let longestSleep: Duration = .milliseconds(500)
    private let grantScript = RedisScript(RedisBudgetScripts.grant)
    private let completeScript = RedisScript(RedisBudgetScripts.complete)
    private let pauseScript = RedisScript(RedisBudgetScripts.pause)
    private let stateScript = RedisScript(RedisBudgetScripts.state)
    private let redis: RedisClient
    private let settings: Settings
    private let health: SharedStoreHealth
    private let accounts: [String: Account]
    private let accountOfWorkspace: [String: String]
    private let state: Locked<State>

    /// A shared budget for `workspaces` (names on one account share it) through `redis`.
    public init(workspaces: [UpstreamWorkspace], redis: RedisClient, settings: Settings, health: SharedStoreHealth) {
        var limitsByAccount: [String: [SlidingWindowSchedule.Limit]] = [:]
        for workspace in workspaces {
            for limit in workspace.configuration.rateLimits {
                let window = Duration.milliseconds(Int64((limit.perSeconds * 1_000).rounded(.up))) + settings.safetyMargin
                let scheduled = SlidingWindowSchedule.Limit(calls: limit.calls, window: window)
                if !limitsByAccount[workspace.account, default: []].contains(scheduled) {
                    limitsByAccount[workspace.account, default: []].append(scheduled)
                }
            }
        }
        let hint = max(1, settings.replicasHint)
        var accounts: [String: Account] = [:]
        for (account, limits) in limitsByAccount {
            // The hash tag keeps an account's keys in one Redis Cluster slot, as one script needs.
            let base = settings.keyPrefix + "budget:{" + account + "}"
            accounts[account] = Account(
                keys: [base + ":inflight", base + ":done", base + ":pause"], limits: limits,
                share: limits.map { SlidingWindowSchedule.Limit(calls: $0.calls / hint, window: $0.window) },
                horizon: limits.map(\.window).max() ?? .zero)
        }
        self.accounts = accounts
        accountOfWorkspace = Dictionary(uniqueKeysWithValues: workspaces.map { ($0.name, $0.account) })
        state = Locked(State(accounts: accounts.mapValues { Local(own: SlidingWindowSchedule(limits: $0.share)) }))
        self.redis = redis
        self.settings = settings
        self.health = health
    }

    // MARK: RateBudget

    /// Waits for a grant; see `RateBudget.acquire`.
    public func acquire(workspace: String, caller: String) async throws -> BudgetGrant {
        try Task.checkCancellation()
        let account = accountOf(workspace)
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let startDriver = state.withLock { state -> Bool in
                    state.accounts[account]?.queue.enqueue(id, id: id, caller: caller)
                    state.accounts[account]?.waiters[id] = Waiter(workspace: workspace, continuation: continuation)
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
    public func complete(_ grant: BudgetGrant) {
        let account = accountOf(grant.workspace)
        let now = ContinuousClock.now
        let shared = state.withLock { state -> Bool in
            guard var local = state.accounts[account], let horizon = accounts[account]?.horizon else { return false }
            local.own.complete(at: now)
            local.recent.append((grant.id, now))
            if let keep = local.recent.firstIndex(where: { $0.at > now - horizon }), keep > 0 { local.recent.removeFirst(keep) }
            state.accounts[account] = local
            return !local.degraded
        }
        guard shared, let keys = accounts[account]?.keys, let horizon = accounts[account]?.horizon else { return }
        Task {
            do {
                _ = try await completeScript.run(
                    on: redis, keys: Array(keys[0...1]), arguments: [.int(horizon.microseconds), .string(String(grant.id)), "0"])
            } catch {
                // Redis keeps the grant in flight until its lease ends: it still counts, later.
                degrade(account, because: error)
            }
        }
    }

    /// See `RateBudget.projectedCompletion`: from Redis' schedule while shared (and this
    /// replica's share in the window after a fallback), from the share while degraded.
    public func projectedCompletion(workspace: String, calls: Int) async -> ContinuousClock.Instant {
        let account = accountOf(workspace)
        guard let entry = accounts[account] else { return .now }
        let (local, waiting) = state.withLock { state in (state.accounts[account], state.accounts[account]?.queue.count ?? 0) }
        guard let local else { return .now }
        let now = ContinuousClock.now
        let ownStart = max(now, local.pausedUntil ?? now, local.blockedUntil ?? now)
        let ownProjection = Self.project(local.own, limits: entry.share, count: waiting + calls, after: ownStart)
        if local.degraded { return ownProjection }
        do {
            let reply = try await stateScript.run(on: redis, keys: entry.keys, arguments: [.int(entry.horizon.microseconds)])
            guard let values = reply.array?.compactMap(\.integer), values.count >= 3 else {
                throw RedisError.protocolViolation("a budget state without its fields")
            }
            health.recovered()
            let localNow = ContinuousClock.now
            let redisNow = values[0]
            func instant(_ micros: Int64) -> ContinuousClock.Instant { localNow - .microseconds(redisNow - micros) }
            let shared = SlidingWindowSchedule(limits: entry.limits, inFlight: Int(values[2]), completions: values[3...].map(instant))
            let start = values[1] > redisNow ? instant(values[1]) : localNow
            let projection = Self.project(shared, limits: entry.limits, count: waiting + calls, after: start)
            if let until = local.shareAlsoUntil, until > now { return max(projection, ownProjection) }
            return projection
        } catch {
            degrade(account, because: error)
            return ownProjection
        }
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
        Task {
            do {
                _ = try await pauseScript.run(on: redis, keys: entry.keys, arguments: [.int(entry.horizon.microseconds), .int(micros)])
            } catch {
                degrade(account, because: error)
            }
        }
    }

    // MARK: Granting

    /// Grants to this account's waiters, one at a time in fair order, until none is left.
    private func drive(_ account: String) async {
        while true {
            let waiting = state.withLock { state -> Bool in
                guard state.accounts[account]?.queue.isEmpty == false else {
                    state.accounts[account]?.driving = false
                    return false
                }
                return true
            }
            guard waiting else { return }
            switch await attempt(account) {
            case .granted(let grantID):
                let waiter = state.withLock { state -> Waiter? in
                    while let next = state.accounts[account]?.queue.next() {
                        if let waiter = state.accounts[account]?.waiters.removeValue(forKey: next) { return waiter }
                    }
                    return nil
                }
                if let waiter {
                    waiter.continuation.resume(returning: BudgetGrant(workspace: waiter.workspace, id: grantID))
                } else if let workspace = accountOfWorkspace.first(where: { $0.value == account })?.key {
                    // Everyone left meanwhile: the grant still counts, from now.
                    complete(BudgetGrant(workspace: workspace, id: grantID))
                }
            case .wait(let delay):
                try? await Task.sleep(for: min(delay, Self.longestSleep) + .microseconds(Int64.random(in: 0...3_000)))
            }
        }
    }

    /// One try for one grant: through Redis while shared, from the own share while degraded.
    private func attempt(_ account: String) async -> Attempt {
        guard let entry = accounts[account] else { return .wait(Self.inFlightPoll) }
        var degraded = state.withLock { $0.accounts[account]?.degraded ?? true }
        if degraded, state.withLock({ ($0.accounts[account]?.nextProbe ?? .now) <= .now }) {
            degraded = !(await recover(account))
        }
        let grantID = UInt64.random(in: 1...UInt64.max)
        if !degraded {
            if let wait = ownShareWait(account, always: false) { return .wait(wait) }
            do {
                let arguments: [RESPArgument] =
                    [.int(entry.horizon.microseconds), .string(String(grantID)), .int(settings.callLease.microseconds)]
                    + entry.limits.flatMap { [RESPArgument.int($0.calls), .int($0.window.microseconds)] }
                let reply = try await grantScript.run(on: redis, keys: entry.keys, arguments: arguments)
                guard let values = reply.array?.compactMap(\.integer), values.count == 2 else {
                    throw RedisError.protocolViolation("a grant answer without its two fields")
                }
                health.recovered()
                guard values[0] == 1 else { return .wait(values[1] <= 0 ? Self.inFlightPoll : .microseconds(values[1])) }
                state.withLock { $0.accounts[account]?.own.grant() }
                return .granted(grantID)
            } catch {
                degrade(account, because: error)
            }
        }
        if let wait = ownShareWait(account, always: true) { return .wait(min(wait, settings.probeInterval)) }
        state.withLock { $0.accounts[account]?.own.grant() }
        return .granted(grantID)
    }

    /// How long until this replica's share allows one more call (nil: now). The share applies
    /// while degraded (`always`) and in the window after a fallback.
    private func ownShareWait(_ account: String, always: Bool) -> Duration? {
        state.withLock { state -> Duration? in
            guard let local = state.accounts[account] else { return Self.inFlightPoll }
            let now = ContinuousClock.now
            if let blocked = local.blockedUntil, blocked > now { return blocked - now }
            guard always || (local.shareAlsoUntil.map { $0 > now } ?? false) else { return nil }
            if always, let paused = local.pausedUntil, paused > now { return paused - now }
            guard let allowed = local.own.nextAllowed(after: now) else { return Self.inFlightPoll }
            return allowed > now ? allowed - now : nil
        }
    }

    // MARK: Falling back and returning

    private func degrade(_ account: String, because error: any Error) {
        state.withLock { state in
            guard state.accounts[account]?.degraded == false else { return }
            let now = ContinuousClock.now
            state.accounts[account]?.degraded = true
            state.accounts[account]?.nextProbe = now + settings.probeInterval
            let blocked = now + (accounts[account]?.horizon ?? .zero)
            let earlier = state.accounts[account]?.blockedUntil ?? blocked
            state.accounts[account]?.blockedUntil = max(earlier, blocked)
        }
        health.failed("\(error)")
    }

    /// Writes this replica's recent completions back into Redis; shared again when that worked.
    private func recover(_ account: String) async -> Bool {
        guard let entry = accounts[account] else { return false }
        let recent = state.withLock { $0.accounts[account]?.recent ?? [] }
        do {
            try await redis.command(["PING"])
            let now = ContinuousClock.now
            for completion in recent where completion.at > now - entry.horizon {
                _ = try await completeScript.run(
                    on: redis, keys: Array(entry.keys[0...1]),
                    arguments: [.int(entry.horizon.microseconds), .string(String(completion.id)), .int((now - completion.at).microseconds)])
            }
            state.withLock { state in
                state.accounts[account]?.degraded = false
                state.accounts[account]?.shareAlsoUntil = .now + entry.horizon
            }
            health.recovered()
            return true
        } catch {
            state.withLock { $0.accounts[account]?.nextProbe = .now + settings.probeInterval }
            return false
        }
    }

    // MARK: Helpers

    private func cancelWaiter(_ id: Int, account: String) {
        let waiter = state.withLock { state -> Waiter? in
            _ = state.accounts[account]?.queue.remove(id: id)
            return state.accounts[account]?.waiters.removeValue(forKey: id)
        }
        waiter?.continuation.resume(throwing: CancellationError())
    }

    private func accountOf(_ workspace: String) -> String {
        accountOfWorkspace[workspace] ?? workspace
    }

    /// When the last of `count` calls could be granted; far off when a limit allows none.
    private static func project(
        _ schedule: SlidingWindowSchedule, limits: [SlidingWindowSchedule.Limit], count: Int, after start: ContinuousClock.Instant
    ) -> ContinuousClock.Instant {
        guard limits.allSatisfy({ $0.calls > 0 }) else { return start + .seconds(86_400) }
        return schedule.projectedCompletion(of: count, after: start)
    }
}

extension Duration {
    /// Whole microseconds.
    var microseconds: Int64 {
        components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
    }
}
