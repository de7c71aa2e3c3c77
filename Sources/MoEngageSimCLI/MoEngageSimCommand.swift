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
            Serves POST /core-services/v1/campaign-stats with MoEngage's auth, validation and rate \
            limits, seeded synthetic data, and an admin API: GET /_sim/calls (calls and rule breaches), \
            POST /_sim/reset, GET /_sim/campaigns.
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

    func validate() throws {
        guard parsedLimits() != nil else { throw ValidationError("--rate-limits: expected CALLS/SECONDS[,CALLS/SECONDS...], e.g. 100/60,10/1") }
        guard parsedWorkspaces() != nil else { throw ValidationError("--workspace: expected ID:API_KEY") }
        for rate in [fail500, fail429, drop, malformed] where !(0...1).contains(rate) {
            throw ValidationError("fault fractions must be between 0 and 1")
        }
    }

    func run() async throws {
        let configuration = SimulatorConfiguration(
            host: host, port: port, workspaces: parsedWorkspaces() ?? [:], forbiddenWorkspaces: Set(forbiddenWorkspaces),
            seed: seed, campaignCount: campaigns, rateLimits: parsedLimits() ?? [],
            faults: FaultInjection(latencyMs: latencyMs, serverErrorRate: fail500, tooManyRequestsRate: fail429, dropRate: drop,
                malformedRate: malformed))
        var logger = Logger(label: "moengage-sim")
        logger.logLevel = .info
        let app = MoEngageSimulator(configuration: configuration).makeApplication(logger: logger)
        try await app.runService()
    }

    private func parsedLimits() -> [RollingLimit]? {
        let limits = rateLimits.split(separator: ",").map { RollingLimit(parsing: String($0)) }
        return limits.isEmpty || limits.contains(where: { $0 == nil }) ? nil : limits.compactMap { $0 }
    }

    private func parsedWorkspaces() -> [String: String]? {
        guard !workspaces.isEmpty else { return ["DEMO_WORKSPACE": "demo-api-key"] }
        var result: [String: String] = [:]
        for entry in workspaces {
            guard let colon = entry.firstIndex(of: ":"), colon != entry.startIndex else { return nil }
            result[String(entry[..<colon])] = String(entry[entry.index(after: colon)...])
        }
        return result
    }
}
