/// The gateway's whole configuration, as read from one YAML file. Secrets are references, not values.
public struct GatewayConfiguration: Sendable {
    /// Where the gateway listens.
    public var listen: ListenConfiguration
    /// Upstream workspaces by name, in file order.
    public var workspaces: [WorkspaceConfiguration]
    /// Callers allowed to use the gateway.
    public var callers: [CallerConfiguration]
    /// Request limits.
    public var limits: LimitsConfiguration
    /// Response cache settings.
    public var cache: CacheConfiguration
    /// Upstream HTTP settings.
    public var upstream: UpstreamConfiguration
    /// Logging settings.
    public var log: LogConfiguration
    /// The Redis every replica shares (budget, cache, coalescing), or nil to keep all state in process.
    public var redis: RedisConfiguration?
    /// The native gRPC listener, or nil for none.
    public var grpc: GRPCConfiguration? = nil
    /// `jobs:`: asynchronous jobs.
    public var jobs = JobsConfiguration()
    /// `background:`: how background work (jobs, refresh-ahead) shares the rate budget.
    public var background = BackgroundConfiguration()
    /// `refresh:`: refresh-ahead of popular cache entries (nil: off).
    public var refresh: RefreshConfiguration? = nil
    /// Non-fatal findings, e.g. an inline API key; logged at start.
    public var warnings: [String]

    /// The workspace with this name.
    public func workspace(named name: String) -> WorkspaceConfiguration? {
        workspaces.first { $0.name == name }
    }
}

/// Host and port to bind.
public struct ListenConfiguration: Sendable, Hashable {
    /// Interface to bind (default `127.0.0.1`).
    public var host: String = "127.0.0.1"
    /// TCP port (default 8080; 0 picks a free port).
    public var port: Int = 8080
    /// Longest wait for a request's headers, on a new connection (default 10 000 ms); then 408 and close.
    public var headerTimeoutMs: Int = 10_000
    /// Longest time to read a request's whole body once its headers came (default 30 000 ms); then 408 and close.
    public var bodyTimeoutMs: Int = 30_000
    /// How long a kept-alive connection may sit idle between requests (default 75 000 ms); then it is closed.
    public var idleTimeoutMs: Int = 75_000
    /// Most open HTTP connections (default 1024); a connection past it is closed at once.
    public var maxConnections: Int = 1_024
    /// Largest request head, request line and headers together (default 32 768 bytes); larger gets 431.
    public var maxHeaderBytes: Int = 32 << 10
}

/// The native gRPC (HTTP/2) listener: plaintext h2c, or TLS with a certificate chain and key.
public struct GRPCConfiguration: Sendable, Hashable {
    /// Interface to bind (default: `listen.host`).
    public var host: String
    /// TCP port (0 picks a free port).
    public var port: Int
    /// PEM certificate chain file, with `tlsKeyFile`, for TLS.
    public var tlsCertificateFile: String? = nil
    /// PEM private key file.
    public var tlsKeyFile: String? = nil
    /// Streams one HTTP/2 connection may have open at once (advertised to clients).
    public var maxConcurrentStreams: Int = 100
    /// A connection older than this is sent a GOAWAY (clients reconnect), as gRPC's MAX_CONNECTION_AGE.
    public var maxConnectionAgeMs: Int = 1_800_000
    /// How long its calls then have to finish before the connection is closed (MAX_CONNECTION_AGE_GRACE):
    /// by default the longest deadline a call may ask for.
    public var maxConnectionAgeGraceMs: Int = 600_000
}

/// Which provider API a workspace speaks.
public enum Provider: String, Sendable, Hashable, CaseIterable {
    case moengage
    case migma
}

/// Where a secret comes from; the value itself is read by `SecretResolver`.
public enum SecretReference: Sendable, Hashable, CustomStringConvertible {
    /// The named environment variable.
    case environment(String)
    /// The file at this path (trailing newline trimmed).
    case file(String)
    /// Written in the config file itself (allowed, with a warning).
    case inline(String)

    /// Where the secret comes from, never its value.
    public var description: String {
        switch self {
        case .environment(let name): return "env \(name)"
        case .file(let path): return "file \(path)"
        case .inline: return "inline ***"
        }
    }
}

/// At most `calls` calls in any rolling window of `perSeconds` seconds.
public struct RateLimitConfiguration: Sendable, Hashable {
    /// Calls per window.
    public var calls: Int
    /// Window length in seconds.
    public var perSeconds: Double

    /// Creates a limit.
    public init(calls: Int, perSeconds: Double) {
        self.calls = calls
        self.perSeconds = perSeconds
    }
}

/// One upstream workspace: provider, endpoint, credentials, rate limits.
public struct WorkspaceConfiguration: Sendable, Hashable {
    /// The name callers use.
    public var name: String
    /// `moengage` or `migma`.
    public var provider: Provider
    /// Base URL, from `base_url` or MoEngage's `data_center` (`https://api-{dc}.moengage.com`).
    public var baseURL: String
    /// MoEngage Workspace ID (APP ID); nil for Migma.
    public var workspaceID: String?
    /// The API key.
    public var apiKey: SecretReference
    /// The daily-report secret key, when configured.
    public var secretKey: SecretReference?
    /// Rolling limits, all enforced (default 100/60 s for MoEngage, 10/60 s for Migma).
    public var rateLimits: [RateLimitConfiguration]
    /// Names one upstream account whose limits several workspace names spend together, when the
    /// gateway cannot tell on its own (e.g. two Migma keys of one account); nil by default.
    public var budgetGroup: String?
}

/// How a caller's bearer token is known.
public enum TokenReference: Sendable, Hashable {
    /// The hex SHA-256 of the token.
    case sha256Hex(String)
    /// An environment variable holding the token itself.
    case environment(String)
    /// A file holding the token itself (read again on reload: a rotated file takes effect then).
    case file(String)
}

/// A caller: its token and what it may use.
public struct CallerConfiguration: Sendable, Hashable {
    /// Name for logs and metrics.
    public var name: String
    /// How its token is known.
    public var token: TokenReference
    /// Workspace names it may use; `*` means all.
    public var workspaces: [String]
    /// Method globs it may call, e.g. `campaigns.*`; `*` means all.
    public var methods: [String]
    /// Whether it may use the admin endpoints (`POST /admin/reload`); no method glob grants that.
    public var admin: Bool = false
}

/// Per-request limits.
public struct LimitsConfiguration: Sendable, Hashable {
    /// Largest request body accepted (default 1 MiB); larger gets HTTP 413.
    public var maxBodyBytes: Int = 1 << 20
    /// Most campaign ids in one request (default 1000).
    public var maxCampaignIDs: Int = 1_000
    /// Longest date span in days, both ends included (default 366).
    public var maxSpanDays: Int = 366
    /// Most upstream calls one request may spend (default 300).
    public var maxUpstreamCallsPerRequest: Int = 300
    /// Deadline of a request without `timeout_ms` (default 30 000 ms).
    public var requestTimeoutMs: Int = 30_000
    /// Longest daily-report span in days (default 31).
    public var dailyReportSpanDays: Int = 31
    /// Most elements in one JSON-RPC batch (default 50); a larger batch is refused whole (-32600).
    public var maxBatch: Int = 50
    /// Most requests one caller may have in flight at once, over every transport (default 64);
    /// past it -32029 (HTTP 429, gRPC RESOURCE_EXHAUSTED) with a retry delay.
    public var maxInFlightPerCaller: Int = 64
}

/// Response cache settings.
public struct CacheConfiguration: Sendable, Hashable {
    /// Memory bound in bytes (default 64 MiB).
    public var maxBytes: Int = 64 << 20
    /// TTL of entries touching recent days, in seconds (default 300).
    public var freshTTLSeconds: Int = 300
    /// TTL of entries whose window ended long ago, in seconds (default 86 400).
    public var settledTTLSeconds: Int = 86_400
    /// Days after which a window counts as settled (default 3).
    public var settledAfterDays: Int = 3
    /// Memory bound of the replay cache, whole HTTP answers keyed by route, caller and body (default 8 MiB; 0 turns it off).
    public var replayMaxBytes: Int = 8 << 20
}

/// Upstream HTTP settings.
public struct UpstreamConfiguration: Sendable, Hashable {
    /// Connect timeout per call (default 5 000 ms).
    public var connectTimeoutMs: Int = 5_000
    /// Total timeout per call (default 15 000 ms); a call also ends when no request waits on it any more.
    public var timeoutMs: Int = 15_000
    /// CA bundle path for TLS peer verification (default: the system store).
    public var caBundle: String?
    /// Most connections to one upstream host (default 32).
    public var maxConnectionsPerHost: Int = 32
    /// Largest upstream response body (default 16 MiB).
    public var maxResponseBytes: Int = 16 << 20
    /// Added to every rate window so calls land inside the provider's window after jitter (default 1 000 ms).
    public var safetyMarginMs: Int = 1_000
    /// Longest upstream `Retry-After` honoured, in seconds (default 120); longer ones are cut to it.
    public var maxRetryAfterSeconds: Int = 120
}

/// Logging settings.
public struct LogConfiguration: Sendable, Hashable {
    /// Level name: trace, debug, info, notice, warning, error, critical (default info).
    public var level: String = "info"
    /// `json` (default) or `text`.
    public var format: String = "json"
}

/// The Redis the replicas share.
public struct RedisConfiguration: Sendable, Hashable {
    /// Host name or address (from `url`).
    public var host: String
    /// TCP port (from `url`, default 6379).
    public var port: Int
    /// Database index (from `url`'s path, default 0).
    public var database: Int
    /// ACL user name (from `url`), or nil for the default user.
    public var username: String?
    /// The password for `AUTH`, when one is configured.
    public var password: SecretReference?
    /// Whether to speak TLS (`rediss://`); the server's certificate is always verified.
    public var tls: Bool = false
    /// A PEM file of the CA(s) to trust for TLS instead of the system store.
    public var caFile: String?
    /// Prefix of every key the gateway writes (default `campaign-gateway:`).
    public var keyPrefix: String = "campaign-gateway:"
    /// Connect timeout (default 500 ms).
    public var connectTimeoutMs: Int = 500
    /// Command timeout (default 500 ms); a slower Redis counts as failed.
    public var commandTimeoutMs: Int = 500
    /// Connections per replica (default 2).
    public var poolSize: Int = 2
    /// How many replicas share the budget (required): while Redis fails, each keeps to `calls / replicas_hint`.
    public var replicasHint: Int = 1
}

/// `jobs:`: asynchronous jobs (`jobs.submit`).
public struct JobsConfiguration: Sendable, Hashable {
    /// `max_calls`: the most upstream calls one job may plan.
    public var maxCalls: Int = 20_000
    /// `max_queued_per_caller`: jobs a caller may have queued or running at once.
    public var maxQueuedPerCaller: Int = 4
    /// `max_kept_per_caller`: jobs kept per caller in all; a new one drops the caller's oldest ended ones past it.
    public var maxKeptPerCaller: Int = 100
    /// `result_ttl_s`: how long a finished job (and its result) is kept.
    public var resultTTLSeconds: Int = 86_400
    /// `max_result_bytes`: the largest result kept; a bigger one fails the job.
    public var maxResultBytes: Int = 32 << 20
    /// `max_run_s`: how long a job may run before it fails with -32004.
    public var maxRunSeconds: Int = 6 * 3_600
    /// `concurrency`: jobs one replica runs at once.
    public var concurrency: Int = 2
    /// `lease_ms`: how long a replica's claim on a running job lasts unrenewed (renewed every third of it).
    public var leaseMs: Int = 15_000

    /// The defaults.
    public init() {}
}

/// `background:`: how background work shares each workspace's rate budget with interactive calls.
public struct BackgroundConfiguration: Sendable, Hashable {
    /// `reserved_share`: the share of grants kept for background work while interactive calls wait too (0: none).
    public var reservedShare: Double = 0

    /// The defaults.
    public init() {}
}

/// `refresh:`: popular cache entries re-fetched by background work shortly before they expire.
public struct RefreshConfiguration: Sendable, Hashable {
    /// `min_hits`: reads an entry needs during its life to be refreshed.
    public var minHits: Int = 3
    /// `at_fraction`: how far into its life (0 to 1) an entry is refreshed.
    public var atFraction: Double = 0.8
    /// `interval_ms`: how often the refresher looks for entries due.
    public var intervalMs: Int = 1_000

    /// The defaults.
    public init() {}
}
