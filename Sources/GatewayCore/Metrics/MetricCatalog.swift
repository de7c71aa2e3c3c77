/// One metric the gateway exposes: its Prometheus name and its help text.
public struct MetricName: Sendable {
    /// The name (`campaign_gateway_…`, with the conventional unit suffix).
    public let name: String
    /// The `# HELP` text.
    public let help: String
}

/// Every metric the gateway exposes, named and explained once; `/metrics` gives each its help text.
public enum MetricCatalog {
    /// Calls answered, by method, caller and code.
    public static let requests = MetricName(
        name: "campaign_gateway_requests_total",
        help: "Calls answered, by method (unknown when not one), caller (unauthenticated when none) and code (ok or the error's kind).")
    /// Call latency by method.
    public static let requestDuration = MetricName(
        name: "campaign_gateway_request_duration_seconds", help: "Time from a call's arrival to its answer, by method.")
    /// Calls being answered.
    public static let requestsInFlight = MetricName(name: "campaign_gateway_requests_in_flight", help: "Calls being answered now.")
    /// Calls answered whole from the answer cache.
    public static let answerCacheHits = MetricName(
        name: "campaign_gateway_answer_cache_hits_total", help: "getStats calls answered whole from the answer cache, with no plan run.")
    /// Requests answered from the replay cache.
    public static let answerReplays = MetricName(
        name: "campaign_gateway_answer_replays_total", help: "Requests answered by replaying the answer of an identical request just served.")
    /// The running version.
    public static let buildInfo = MetricName(name: "campaign_gateway_build_info", help: "1, labelled with the running gateway's version.")
    /// Readiness as `/readyz` answers it.
    public static let ready = MetricName(
        name: "campaign_gateway_ready", help: "1 when ready, 0 when /readyz answers 503 (a workspace's credentials are missing).")
    /// Redis unusable.
    public static let redisDegraded = MetricName(
        name: "campaign_gateway_redis_degraded",
        help: "1 while Redis is unusable: the budget keeps to this replica's share and the cache to this process.")
    /// Upstream calls by outcome.
    public static let upstreamCalls = MetricName(
        name: "campaign_gateway_upstream_calls_total",
        help: "Upstream calls sent, by workspace, endpoint and status class (error: no HTTP answer).")
    /// Upstream latency.
    public static let upstreamDuration = MetricName(
        name: "campaign_gateway_upstream_duration_seconds", help: "Upstream call latency, by workspace and endpoint.")
    /// Upstream retries.
    public static let upstreamRetries = MetricName(
        name: "campaign_gateway_upstream_retries_total", help: "Upstream calls tried again after a transient failure, by workspace and endpoint.")
    /// 429s received.
    public static let upstreamRateLimited = MetricName(
        name: "campaign_gateway_upstream_rate_limited_total",
        help: "429 answers received from the upstream, by workspace; the budget should keep this at 0.")
    /// Budget grants.
    public static let budgetGrants = MetricName(
        name: "campaign_gateway_budget_grants_total", help: "Upstream calls granted by the rate budget, by workspace and class (interactive: synchronous calls; background: jobs and refresh-ahead).")
    /// Budget waits.
    public static let budgetWait = MetricName(
        name: "campaign_gateway_budget_wait_seconds", help: "Time a call waited for its grant from the rate budget, by workspace.")
    /// -32029 refusals.
    public static let budgetRefusals = MetricName(
        name: "campaign_gateway_budget_refusals_total",
        help: "Requests answered -32029 (the rate budget cannot serve them before their deadline), by workspace.")
    /// Calls in the current window.
    public static let budgetWindowCalls = MetricName(
        name: "campaign_gateway_budget_window_calls",
        help: "Calls this process has in flight or completed within each configured limit's window, by workspace and window; sum across replicas.")
    /// The configured limits.
    public static let budgetWindowLimit = MetricName(
        name: "campaign_gateway_budget_window_limit", help: "The configured calls per window, by workspace and window.")
    /// Cache hits.
    public static let cacheHits = MetricName(name: "campaign_gateway_cache_hits_total", help: "Items a call found fresh in the cache.")
    /// Cache misses.
    public static let cacheMisses = MetricName(
        name: "campaign_gateway_cache_misses_total", help: "Items a call did not find fresh in the cache (fetched, joined, or served stale).")
    /// Stale serves.
    public static let cacheStaleServed = MetricName(
        name: "campaign_gateway_cache_stale_served_total", help: "Expired items served (stale: true) because their upstream call failed.")
    /// Evictions.
    public static let cacheEvictions = MetricName(
        name: "campaign_gateway_cache_evictions_total", help: "Cache entries evicted to stay within cache.max_bytes.")
    /// Joined calls.
    public static let coalescedCalls = MetricName(
        name: "campaign_gateway_coalesced_calls_total", help: "In-flight upstream calls of other requests joined instead of made again.")
    /// Entries held.
    public static let cacheEntries = MetricName(name: "campaign_gateway_cache_entries", help: "Entries held in this process's cache.")
    /// Bytes held.
    public static let cacheBytes = MetricName(
        name: "campaign_gateway_cache_bytes", help: "Bytes this process's cache holds, as counted against cache.max_bytes.")

    /// Open connections by listener.
    public static let connectionsOpen = MetricName(
        name: "campaign_gateway_connections_open", help: "Connections open now, by listener (http, grpc).")
    /// Connections closed at once for the limit.
    public static let connectionsRefused = MetricName(
        name: "campaign_gateway_connections_refused_total", help: "Connections closed at once because listen.max_connections were open on their listener.")
    /// Requests refused for the per-caller limit.
    public static let callerInFlightRefusals = MetricName(
        name: "campaign_gateway_caller_in_flight_refusals_total",
        help: "Requests answered -32029 because their caller had limits.max_in_flight_per_caller requests in flight, by caller.")

    /// Reloads by outcome.
    public static let configReloads = MetricName(
        name: "campaign_gateway_config_reloads_total", help: "Configuration reloads (SIGHUP, POST /admin/reload), by outcome (ok, failed).")
    /// Whether the last reload succeeded.
    public static let configLastReloadSuccessful = MetricName(
        name: "campaign_gateway_config_last_reload_successful",
        help: "1 when the last configuration reload succeeded (or none was tried), 0 when it failed and the previous one is in effect.")

    /// Bytes the replay cache holds.
    public static let answerReplayBytes = MetricName(
        name: "campaign_gateway_answer_replay_bytes", help: "Bytes the replay cache holds, as counted against cache.replay_max_bytes.")
    /// Heap in use.
    public static let mallocInUse = MetricName(
        name: "campaign_gateway_malloc_in_use_bytes", help: "Heap bytes allocated and not freed (glibc mallinfo2 uordblks).")
    /// Heap taken from the kernel.
    public static let mallocHeld = MetricName(
        name: "campaign_gateway_malloc_held_bytes", help: "Heap bytes glibc malloc holds from the kernel, in use or free (mallinfo2 arena + hblkhd).")

    /// Jobs by the state they reached here.
    public static let jobs = MetricName(
        name: "campaign_gateway_jobs_total",
        help: "Jobs that reached each state on this replica (queued: submitted here; running: started or resumed here; done, failed, cancelled).")
    /// Jobs running here.
    public static let jobsRunning = MetricName(name: "campaign_gateway_jobs_running", help: "Jobs this replica is running now.")
    /// Upstream calls made for jobs.
    public static let jobCalls = MetricName(
        name: "campaign_gateway_job_calls_total", help: "Upstream calls this replica made for jobs (the calls_done of their progress).")
    /// Refresh-ahead fetches.
    public static let refreshes = MetricName(
        name: "campaign_gateway_refreshes_total",
        help: "Popular cache entries re-fetched ahead of their expiry by background work, by outcome (ok, failed).")
    /// Reads of refreshed entries.
    public static let refreshHits = MetricName(
        name: "campaign_gateway_refresh_hits_total",
        help: "Cache reads that found an entry refreshed ahead (without refresh-ahead they would have waited on the upstream).")

    /// Every metric.
    public static let all = [
        jobs, jobsRunning, jobCalls, refreshes, refreshHits,
        answerReplayBytes, mallocInUse, mallocHeld, configReloads, configLastReloadSuccessful, requests, requestDuration, requestsInFlight,
        connectionsOpen, connectionsRefused,
        callerInFlightRefusals, answerCacheHits, answerReplays, buildInfo, ready, redisDegraded, upstreamCalls,
        upstreamDuration, upstreamRetries, upstreamRateLimited, budgetGrants, budgetWait, budgetRefusals, budgetWindowCalls,
        budgetWindowLimit, cacheHits, cacheMisses, cacheStaleServed, cacheEvictions, coalescedCalls, cacheEntries, cacheBytes,
    ]
}
