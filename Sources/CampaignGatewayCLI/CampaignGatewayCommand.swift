import ArgumentParser
import CAllocator
import Foundation
import GatewayConfig
import GatewayRPC
import Hummingbird
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// `campaign-gateway`: the service, and a config checker.
@main
struct CampaignGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign-gateway",
        abstract: "One RPC surface in front of MoEngage and Migma for internal services.",
        discussion: """
            serve         runs the gateway from a YAML config until SIGTERM/SIGINT (graceful: in-flight requests finish).
            check-config  validates a config file and prints the resolved setup with every secret shown as ***.
            Both exit with status 2 on a configuration error, naming the key (and line).
            """,
        subcommands: [Serve.self, CheckConfig.self]
    )
}

/// Loads a config file and resolves its secrets, or prints the error and exits with status 2.
func loadConfiguration(path: String) throws -> (GatewayConfiguration, ResolvedSecrets) {
    do {
        let configuration = try ConfigLoader.load(path: path)
        return (configuration, try SecretResolver().resolve(configuration))
    } catch let error as ConfigError {
        printError("config error: \(error)")
        throw ExitCode(2)
    }
}

/// Writes a line to standard error.
func printError(_ line: String) {
    var standardError = StandardError()
    print(line, to: &standardError)
}

/// Standard error as a `TextOutputStream`.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandleStandardError.write(string)
    }
}

extension CampaignGatewayCommand {
    /// `campaign-gateway serve --config FILE`.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the gateway.")

        @Option(name: .shortAndLong, help: "Path to the YAML configuration.")
        var config: String

        func run() async throws {
            // A SIGHUP before the reload service listens must not end the process (its default).
            signal(SIGHUP, SIG_IGN)
            // A parent may have started us with signals blocked (Foundation's Process does): the
            // ones the gateway handles must reach it.
            var handled = sigset_t()
            sigemptyset(&handled)
            for signal in [SIGHUP, SIGTERM, SIGINT] { sigaddset(&handled, signal) }
            pthread_sigmask(SIG_UNBLOCK, &handled, nil)
            // Two malloc arenas, not glibc's 8 per core: every arena keeps its own freed memory,
            // so with one per thread the heap holds far more than it uses (BENCHMARKS.md, "Soak").
            // MALLOC_ARENA_MAX in the environment still decides when set.
            if getenv("MALLOC_ARENA_MAX") == nil { _ = callocator_limit_arenas(2) }
            let (configuration, secrets) = try loadConfiguration(path: config)
            let level = LogLevelControl(Logger.Level(rawValue: configuration.log.level) ?? .info)
            let json = configuration.log.format == "json"
            LoggingSystem.bootstrap { label in
                ControlledLevelLogHandler(json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label), control: level)
            }
            let logger = Logger(label: "campaign-gateway")
            for warning in configuration.warnings { logger.warning("config warning", metadata: ["detail": "\(warning)"]) }
            for problem in secrets.problems { logger.error("not ready", metadata: ["problem": "\(problem)"]) }
            let app = try GatewayApplication.make(
                configuration: configuration, secrets: secrets, logger: logger, reloading: LiveConfiguration.Source(path: config), logLevel: level
            ) { channel in
                logger.info("listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
            }
            try await app.runService()
        }
    }

    /// `campaign-gateway check-config FILE`.
    struct CheckConfig: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-config", abstract: "Validate a config file and print the resolved setup (secrets as ***).")

        @Argument(help: "Path to the YAML configuration.")
        var file: String

        @Flag(help: "Report missing secrets as warnings, not errors: `serve` starts without them (not ready, those workspaces failing).")
        var allowMissingSecrets = false

        func run() throws {
            let (configuration, secrets) = try loadConfiguration(path: file)
            print(ConfigSummary.render(configuration, secrets: secrets))
            for warning in configuration.warnings { printError("warning: \(warning)") }
            if allowMissingSecrets {
                for problem in secrets.problems { printError("warning: \(problem) (serve starts not ready)") }
            } else if !secrets.problems.isEmpty {
                for problem in secrets.problems { printError("config error: \(problem)") }
                throw ExitCode(2)
            }
            print("config OK")
        }
    }
}
