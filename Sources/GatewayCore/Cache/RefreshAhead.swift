import GatewayConfig
import LockedState
import Logging

/// Refresh-ahead: popular cache entries are fetched again by background work shortly before they
/// expire, so that the next read finds them fresh instead of waiting on the upstream.
///
/// Each upstream call that filled entries is remembered with how to make it again (the same call
/// of the same method, so the same merge rules); every read that finds one of its entries fresh
/// (through the item cache, the answer cache or the replay cache) counts a hit. A call whose
/// entries were read at least `minHits` times is made again once `atFraction` of their time to
/// live has passed, as background work (it takes only budget interactive calls leave free), on
/// behalf of the caller whose request made it first; its new entries start a new count. A call
/// not read enough is forgotten when its entries expire.
public final class RefreshAhead: Sendable {
    /// One upstream call that filled entries, and how to make it again.
    private struct Recipe {
        var keys: [CacheKey]
        var storedAt: ContinuousClock.Instant
        var ttl: Duration
        var hits = 0
        /// Stored by a refresh: its reads are refresh hits.
        var refreshed = false
        var running = false
        var caller: CallerIdentity
        var refetch: @Sendable (CallContext) async throws -> Void

        var expires: ContinuousClock.Instant { storedAt + ttl }
    }

    private struct State {
        var settings: RefreshConfiguration?
        var recipes: [Int: Recipe] = [:]
        var recipeOfKey: [CacheKey: Int] = [:]
        /// The entries each answer-cache entry was made from, until it expires.
        var answerSources: [CacheKey: (sources: [CacheKey], expires: ContinuousClock.Instant)] = [:]
        var nextID = 0
    }

    /// The most calls (and answers) remembered at once; past it, new ones are not (the oldest expire first).
    static let maxRecipes = 50_000
    /// The most refreshes started at one look: more wait for the next look.
    static let maxStartedPerLook = 32
    private let state = Locked(State())
    private let metrics: BackgroundMetrics?
    private let logger: Logger

    /// Off until `configure` gives settings; counts refreshes and refresh hits in `metrics`.
    public init(metrics: BackgroundMetrics?, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    /// Takes `settings` from now on (nil: off). What was remembered is forgotten: a call remembered
    /// under the configuration before (its workspace's endpoint and key, its TTL, its caller) is
    /// not made again under the new one; the next interactive call remembers it anew.
    public func configure(_ settings: RefreshConfiguration?) {
        state.withLock { state in
            let nextID = state.nextID
            state = State(settings: settings)
            state.nextID = nextID
        }
    }

    /// Whether it is on.
    public var isOn: Bool { state.withLock { $0.settings != nil } }

    /// Remembers the call that just stored `keys` for `ttl`, made for `caller`, and how to make it again.
    func remember(
        _ keys: [CacheKey], ttl: Duration, caller: CallerIdentity, refreshed: Bool = false,
        refetch: @escaping @Sendable (CallContext) async throws -> Void
    ) {
        guard !keys.isEmpty, ttl > .zero else { return }
        state.withLock { state in
            guard state.settings != nil else { return }
            for key in keys { if let old = state.recipeOfKey[key] { Self.forget(old, in: &state) } }
            guard state.recipes.count < Self.maxRecipes else { return }
            state.nextID += 1
            state.recipes[state.nextID] = Recipe(keys: keys, storedAt: .now, ttl: ttl, refreshed: refreshed, caller: caller, refetch: refetch)
            for key in keys { state.recipeOfKey[key] = state.nextID }
        }
    }

    /// Counts one read of the fresh entries `keys` (a request's, in one scope).
    func read(_ keys: some Sequence<CacheKey>) {
        let refreshHits = state.withLock { state -> Int in
            guard state.settings != nil else { return 0 }
            var counted: Set<Int> = []
            var refreshHits = 0
            for key in keys {
                guard let id = state.recipeOfKey[key], counted.insert(id).inserted else { continue }
                state.recipes[id]?.hits += 1
                if state.recipes[id]?.refreshed == true { refreshHits += 1 }
            }
            return refreshHits
        }
        if refreshHits > 0 { metrics?.refreshHits.increment(by: Int64(refreshHits)) }
    }

    /// Records that the answer-cache entry `answer`, fresh until `expires`, was made from `sources`.
    func rememberAnswer(_ answer: CacheKey, madeFrom sources: [CacheKey], expires: ContinuousClock.Instant) {
        state.withLock { state in
            guard state.settings != nil, state.answerSources.count < Self.maxRecipes || state.answerSources[answer] != nil else { return }
            state.answerSources[answer] = (sources, expires)
        }
    }

    /// Counts a read of the answer-cache entry `answer` as a read of the entries it was made from.
    public func readAnswer(_ answer: CacheKey) {
        guard let sources = state.withLock({ $0.settings == nil ? nil : $0.answerSources[answer]?.sources }) else { return }
        read(sources)
    }

    /// Starts the refreshes due now (each as its own background task), and forgets expired calls.
    public func refreshDue() {
        let now = ContinuousClock.now
        let due = state.withLock { state -> [(Int, Recipe)] in
            guard let settings = state.settings else { return [] }
            for (id, recipe) in state.recipes where recipe.expires <= now && !recipe.running { Self.forget(id, in: &state) }
            state.answerSources = state.answerSources.filter { $0.value.expires > now }
            let due = state.recipes.filter { _, recipe in
                !recipe.running && recipe.hits >= settings.minHits && now >= recipe.storedAt + recipe.ttl * settings.atFraction
            }.sorted { $0.value.expires < $1.value.expires }.prefix(Self.maxStartedPerLook)
            for (id, _) in due { state.recipes[id]?.running = true }
            return Array(due)
        }
        for (id, recipe) in due {
            Task { [logger, metrics] in
                let context = CallContext(
                    backgroundFor: recipe.caller, requestID: "refresh-\(id)", logger: logger, allowance: CallAllowance(limit: 1_000),
                    deadline: recipe.expires)
                let ok: Bool
                do {
                    try await recipe.refetch(context)
                    ok = true
                } catch {
                    ok = false
                    logger.info("refresh ahead failed; the entries expire as they would have", metadata: ["scope": "\(recipe.keys[0].scope.operation)"])
                }
                metrics?.refreshed(ok: ok)
                // A refresh that worked remembered its call anew (refetch stores through `remember`).
                state.withLock { state in
                    if state.recipes[id]?.running == true { Self.forget(id, in: &state) }
                }
            }
        }
    }

    private static func forget(_ id: Int, in state: inout State) {
        guard let recipe = state.recipes.removeValue(forKey: id) else { return }
        for key in recipe.keys where state.recipeOfKey[key] == id { state.recipeOfKey[key] = nil }
    }
}
