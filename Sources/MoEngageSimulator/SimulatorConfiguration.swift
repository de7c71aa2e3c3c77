import Dates
import DynamicJSON

/// Everything that shapes a simulator run: credentials, data, limits and injected faults.
public struct SimulatorConfiguration: Sendable {
    /// Host to bind (default `127.0.0.1`).
    public var host: String
    /// Port to bind; 0 picks a free one (default 0).
    public var port: Int
    /// MoEngage workspaces: workspace id → API key (default one demo workspace).
    public var workspaces: [String: String]
    /// Workspaces whose key is valid but which lack the stats feature: they get 403 (default none).
    public var forbiddenWorkspaces: Set<String>
    /// Seed of the synthetic data and of fault injection (default 42).
    public var seed: UInt64
    /// How many synthetic campaigns exist (default 60).
    public var campaignCount: Int
    /// Rolling limits per workspace, all enforced (default 100 calls per 60 s).
    public var rateLimits: [RollingLimit]
    /// Injected faults (default none).
    public var faults: FaultInjection
    /// Migma API keys → account name (default one demo key).
    public var migmaKeys: [String: String]
    /// Rolling limits per Migma account (default 10 calls per 60 s, its free plan).
    public var migmaRateLimits: [RollingLimit]
    /// How campaign-meta pages are wrapped (default a bare array, as documented).
    public var metaEnvelope: MetaEnvelope
    /// Daily-report secret keys by workspace id (default one for the demo workspace).
    public var reportSecrets: [String: String]

    /// Creates a configuration; every parameter has the default documented on its property.
    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        workspaces: [String: String] = ["DEMO_WORKSPACE": "demo-api-key"],
        forbiddenWorkspaces: Set<String> = [],
        seed: UInt64 = 42,
        campaignCount: Int = 60,
        rateLimits: [RollingLimit] = [RollingLimit(calls: 100, perSeconds: 60)],
        faults: FaultInjection = FaultInjection(),
        migmaKeys: [String: String] = ["demo-migma-key": "DEMO_MIGMA"],
        migmaRateLimits: [RollingLimit] = [RollingLimit(calls: 10, perSeconds: 60)],
        metaEnvelope: MetaEnvelope = .bare,
        reportSecrets: [String: String] = ["DEMO_WORKSPACE": "demo-secret-key"]
    ) {
        self.host = host
        self.port = port
        self.workspaces = workspaces
        self.forbiddenWorkspaces = forbiddenWorkspaces
        self.seed = seed
        self.campaignCount = campaignCount
        self.rateLimits = rateLimits
        self.faults = faults
        self.migmaKeys = migmaKeys
        self.migmaRateLimits = migmaRateLimits
        self.metaEnvelope = metaEnvelope
        self.reportSecrets = reportSecrets
    }
}

/// At most `calls` calls in any rolling window of `perSeconds` seconds.
public struct RollingLimit: Sendable, Hashable, CustomStringConvertible {
    /// Calls allowed per window.
    public var calls: Int
    /// Window length in seconds.
    public var perSeconds: Double

    /// Creates a limit.
    public init(calls: Int, perSeconds: Double) {
        self.calls = calls
        self.perSeconds = perSeconds
    }

    /// Parses `CALLS/SECONDS`, e.g. `100/60`; nil when malformed or not positive.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let calls = Int(parts[0]), let seconds = Double(parts[1]), calls > 0, seconds > 0 else {
            return nil
        }
        self.init(calls: calls, perSeconds: seconds)
    }

    /// `CALLS/SECONDS`.
    public var description: String { "\(calls)/\(perSeconds.formatted())" }
}

extension Double {
    fileprivate func formatted() -> String {
        rounded() == self ? String(Int(self)) : String(self)
    }
}

/// Faults the simulator injects, each a fraction of the calls that pass auth and rate limits.
public struct FaultInjection: Sendable {
    /// Delay added before every answer, in milliseconds (default 0).
    public var latencyMs: Int
    /// Fraction answered 500 with the documented error body (default 0).
    public var serverErrorRate: Double
    /// Fraction answered 429 as if another client had spent the budget (default 0).
    public var tooManyRequestsRate: Double
    /// Fraction whose connection is dropped mid-response (default 0).
    public var dropRate: Double
    /// Fraction answered 200 with a truncated, malformed JSON body (default 0).
    public var malformedRate: Double

    /// Creates a fault set; every parameter has the default documented on its property.
    public init(
        latencyMs: Int = 0,
        serverErrorRate: Double = 0,
        tooManyRequestsRate: Double = 0,
        dropRate: Double = 0,
        malformedRate: Double = 0
    ) {
        self.latencyMs = latencyMs
        self.serverErrorRate = serverErrorRate
        self.tooManyRequestsRate = tooManyRequestsRate
        self.dropRate = dropRate
        self.malformedRate = malformedRate
    }
}

extension FaultInjection {
    /// Reads `{latency_ms, fail_500, fail_429, drop, malformed}` (each optional, default 0); nil when out of range.
    init?(json: JSON) {
        guard json.objectValue != nil else { return nil }
        let fractions = ["fail_500", "fail_429", "drop", "malformed"].map { json[$0]?.doubleValue ?? 0 }
        let latency = json["latency_ms"]?.intValue ?? 0
        guard fractions.allSatisfy({ (0...1).contains($0) }), latency >= 0 else { return nil }
        self.init(
            latencyMs: latency, serverErrorRate: fractions[0], tooManyRequestsRate: fractions[1], dropRate: fractions[2], malformedRate: fractions[3])
    }
}
