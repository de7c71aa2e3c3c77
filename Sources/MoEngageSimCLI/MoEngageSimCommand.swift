import ArgumentParser
import Hummingbird
import Logging
import MoEngageSimulator

/// `moengage-sim`: runs the MoEngage simulator until SIGTERM or SIGINT.
@main
struct MoEngageSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moengage-sim",
        abstract: "A deterministic MoEngage API simulator with documented limits and fault injection.",
        discussion: """
            Serves MoEngage's campaign stats, campaign meta and signed daily reports, and Migma's \
            campaign stats, with each provider's auth, validation and rolling rate limits, seeded \
            synthetic data, and an admin API: GET /_sim/calls (calls and rule breaches), \
            POST /_sim/reset, GET /_sim/campaigns, POST /_sim/faults, and POST /_sim/script \
            ({"answers": [{"path", "status", "headers", "body" | "raw"}]}: answers given instead of \
            simulated ones to the next calls on a path, with {{authorization}} and {{url}} filled in).
            """
    )

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind (0 picks a free one).")
    var port = 9090

    @Option(name: .customLong("workspace"), help: "A workspace as ID:API_KEY; repeatable. Default DEMO_WORKSPACE:demo-api-key.")
    var workspaces: [String] = []

    @Option(name: .customLong("forbidden-workspace"), help: "A workspace id answered 403 (no stats feature); repeatable.")
    var forbiddenWorkspaces: [String] = []

    @Option(help: "Seed for the synthetic data and the fault dice.")
    var seed: UInt64 = 42

    @Option(help: "How many synthetic campaigns exist.")
    var campaigns = 60

    @Option(help: "Rolling limits per workspace as CALLS/SECONDS, comma-separated, all enforced.")
    var rateLimits = "100/60"

    @Option(help: "Delay added to every answer, in milliseconds.")
    var latencyMs = 0

    @Option(help: "Fraction of calls answered 500.")
    var fail500 = 0.0

    @Option(help: "Fraction of calls answered 429 as if another client spent the budget.")
    var fail429 = 0.0

    @Option(help: "Fraction of calls whose connection is dropped mid-response.")
    var drop = 0.0

    @Option(help: "Fraction of calls answered with a malformed JSON body.")
    var malformed = 0.0

    @Option(
        name: .customLong("report-secret"), help: "A daily-report secret as WORKSPACE_ID:SECRET; repeatable. Default DEMO_WORKSPACE:demo-secret-key.")
    var reportSecrets: [String] = []

    @Option(name: .customLong("migma-key"), help: "A Migma API key as KEY:ACCOUNT; repeatable. Default demo-migma-key:DEMO_MIGMA.")
    var migmaKeys: [String] = []

    @Option(help: "Rolling limits per Migma account as CALLS/SECONDS, comma-separated.")
    var migmaRateLimits = "10/60"

    @Option(help: "How campaign-meta pages are wrapped: bare, data, campaigns or data.campaigns.")
    var metaEnvelope = "bare"

    func validate() throws {
        guard Self.limits(rateLimits) != nil, Self.limits(migmaRateLimits) != nil else {
            throw ValidationError("--rate-limits / --migma-rate-limits: expected CALLS/SECONDS[,CALLS/SECONDS...], e.g. 100/60,10/1")
        }
        guard Self.pairs(workspaces) != nil else { throw ValidationError("--workspace: expected ID:API_KEY") }
        guard Self.pairs(reportSecrets) != nil else { throw ValidationError("--report-secret: expected WORKSPACE_ID:SECRET") }
        guard Self.pairs(migmaKeys) != nil else { throw ValidationError("--migma-key: expected KEY:ACCOUNT") }
        guard MetaEnvelope(rawValue: metaEnvelope) != nil else {
            throw ValidationError("--meta-envelope: one of bare, data, campaigns, data.campaigns")
        }
        for rate in [fail500, fail429, drop, malformed] where !(0...1).contains(rate) {
            throw ValidationError("fault fractions must be between 0 and 1")
        }
    }

    func run() async throws {
        let defaults = SimulatorConfiguration()
        let configuration = SimulatorConfiguration(
            host: host, port: port, workspaces: workspaces.isEmpty ? defaults.workspaces : Self.pairs(workspaces) ?? [:],
            forbiddenWorkspaces: Set(forbiddenWorkspaces), seed: seed, campaignCount: campaigns, rateLimits: Self.limits(rateLimits) ?? [],
            faults: FaultInjection(
                latencyMs: latencyMs, serverErrorRate: fail500, tooManyRequestsRate: fail429, dropRate: drop,
                malformedRate: malformed),
            migmaKeys: migmaKeys.isEmpty ? defaults.migmaKeys : Self.pairs(migmaKeys) ?? [:], migmaRateLimits: Self.limits(migmaRateLimits) ?? [],
            metaEnvelope: MetaEnvelope(rawValue: metaEnvelope) ?? .bare,
            reportSecrets: reportSecrets.isEmpty ? defaults.reportSecrets : Self.pairs(reportSecrets) ?? [:])
        var logger = Logger(label: "moengage-sim")
        logger.logLevel = .info
        let app = MoEngageSimulator(configuration: configuration).makeApplication(logger: logger)
        try await app.runService()
    }

    /// Parses `CALLS/SECONDS[,CALLS/SECONDS...]`.
    private static func limits(_ text: String) -> [RollingLimit]? {
        let limits = text.split(separator: ",").map { RollingLimit(parsing: String($0)) }
        return limits.isEmpty || limits.contains(where: { $0 == nil }) ? nil : limits.compactMap { $0 }
    }

    /// Parses `A:B` entries (split at the first colon) into a dictionary.
    private static func pairs(_ entries: [String]) -> [String: String]? {
        var result: [String: String] = [:]
        for entry in entries {
            guard let colon = entry.firstIndex(of: ":"), colon != entry.startIndex else { return nil }
            result[String(entry[..<colon])] = String(entry[entry.index(after: colon)...])
        }
        return result
    }
}
