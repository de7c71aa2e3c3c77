import CoreMetrics
import Foundation
import GatewayConfig
import GatewayCore
import LockedState
import Logging

/// The configuration in effect and the handlers made from it. `reload` re-reads the config file
/// and the secrets it names and puts them in effect at once (requests in flight finish on the
/// handlers they began with; the caches and the budget are kept), or, when the new file is
/// invalid or leaves secrets missing, changes nothing and says why (a log line, `/readyz`, the
/// reload metrics).
public final class LiveConfiguration: Sendable {
    /// Where a reload reads the configuration and its secrets.
    public struct Source: Sendable {
        /// The YAML file.
        public var path: String
        /// Resolves the secrets a configuration names (the environment and secret files).
        public var resolveSecrets: @Sendable (GatewayConfiguration) throws -> ResolvedSecrets

        /// Reads `path`, resolving secrets with `resolveSecrets` (by default from this process's environment and files).
        public init(
            path: String, resolveSecrets: @escaping @Sendable (GatewayConfiguration) throws -> ResolvedSecrets = { try SecretResolver().resolve($0) }
        ) {
            self.path = path
            self.resolveSecrets = resolveSecrets
        }
    }

    /// What the last reload did.
    struct Outcome: Sendable {
        /// How many configurations have been in effect (1 before any reload).
        var generation = 1
        /// When the last reload was tried; nil before any.
        var at: Date?
        /// Why the last reload changed nothing; nil when it succeeded (or none was tried).
        var failure: String?
        /// Settings the file changes that take effect only at a restart (`listen`, `grpc`, …).
        var restartNeeded: [String] = []
    }

    private let source: Source?
    private let parts: GatewayParts
    private let startup: GatewayConfiguration
    private let state: Locked<(handlers: RequestHandlers?, outcome: Outcome)>
    /// Held for a whole reload: two at once (a SIGHUP and a POST) apply one after the other.
    private let reloading = Locked(())
    private let reloads: (succeeded: Counter, failed: Counter)
    private let lastSucceeded: Gauge

    /// Puts `configuration` in effect over `parts`; reloads read `source` (none: reload is refused).
    init(configuration: GatewayConfiguration, secrets: ResolvedSecrets, parts: GatewayParts, source: Source?) {
        self.source = source
        self.parts = parts
        startup = configuration
        state = Locked((nil, Outcome()))
        let factory = parts.metrics.factory
        reloads = (
            Counter(label: MetricCatalog.configReloads.name, dimensions: [("outcome", "ok")], factory: factory),
            Counter(label: MetricCatalog.configReloads.name, dimensions: [("outcome", "failed")], factory: factory)
        )
        lastSucceeded = Gauge(label: MetricCatalog.configLastReloadSuccessful.name, factory: factory)
        lastSucceeded.record(1)
        let handlers = RequestHandlers(configuration: configuration, secrets: secrets, parts: parts, live: self)
        parts.adopt(configuration, workspaces: handlers.workspaces)
        state.withLock { $0.handlers = handlers }
    }

    /// The handlers in effect now.
    var handlers: RequestHandlers { state.withLock { $0.handlers! } }

    /// What the last reload did.
    var outcome: Outcome { state.withLock { $0.outcome } }

    /// Whether reloads are possible (the gateway was started from a file).
    var canReload: Bool { source != nil }

    /// Re-reads the file and its secrets and puts them in effect, or changes nothing; what it did.
    /// A file that is invalid, or whose secrets are missing where those in effect are not (it would
    /// take a ready gateway out of service, or lock callers out), changes nothing.
    @discardableResult
    func reload() -> Outcome {
        guard let source else { return outcome }
        return reloading.withLock { _ in reload(from: source) }
    }

    private func reload(from source: Source) -> Outcome {
        let next: (GatewayConfiguration, ResolvedSecrets)
        do {
            let configuration = try ConfigLoader.load(path: source.path)
            next = (configuration, try source.resolveSecrets(configuration))
        } catch {
            return failed((error as? ConfigError).map { "\($0)" } ?? "the configuration could not be read: \(type(of: error))")
        }
        let (configuration, secrets) = next
        let inEffect = Set(handlers.problems)
        let missing = secrets.problems.filter { !inEffect.contains($0) }
        guard missing.isEmpty else { return failed("secrets missing: \(missing.joined(separator: "; "))") }
        let handlers = RequestHandlers(configuration: configuration, secrets: secrets, parts: parts, live: self)
        parts.adopt(configuration, workspaces: handlers.workspaces)
        let restartNeeded = Self.restartOnly(startup, configuration)
        let outcome = state.withLock { state -> Outcome in
            state.handlers = handlers
            state.outcome = Outcome(generation: state.outcome.generation + 1, at: Date(), failure: nil, restartNeeded: restartNeeded)
            return state.outcome
        }
        reloads.succeeded.increment()
        lastSucceeded.record(1)
        parts.logger.notice(
            "config reloaded",
            metadata: [
                "generation": "\(outcome.generation)", "workspaces": "\(configuration.workspaces.count)", "callers": "\(configuration.callers.count)",
                "restart_needed": "\(restartNeeded.joined(separator: ","))",
            ])
        return outcome
    }

    /// Records a reload that changed nothing, and why.
    private func failed(_ reason: String) -> Outcome {
        parts.logger.error("config reload failed; the configuration in effect is kept", metadata: ["reason": "\(reason)"])
        reloads.failed.increment()
        lastSucceeded.record(0)
        return state.withLock { state in
            state.outcome.at = Date()
            state.outcome.failure = reason
            return state.outcome
        }
    }

    /// The sections of `next` that differ from `startup` and take effect only at a restart.
    private static func restartOnly(_ startup: GatewayConfiguration, _ next: GatewayConfiguration) -> [String] {
        var changed: [String] = []
        if startup.listen != next.listen { changed.append("listen") }
        if startup.grpc != next.grpc { changed.append("grpc") }
        if startup.redis != next.redis { changed.append("redis") }
        if startup.upstream != next.upstream { changed.append("upstream") }
        if startup.cache.maxBytes != next.cache.maxBytes { changed.append("cache.max_bytes") }
        if startup.cache.replayMaxBytes != next.cache.replayMaxBytes { changed.append("cache.replay_max_bytes") }
        if startup.log.format != next.log.format { changed.append("log.format") }
        if startup.background != next.background { changed.append("background") }
        if (startup.refresh == nil) != (next.refresh == nil) { changed.append("refresh (on or off; its settings reload)") }
        if startup.limits.maxBodyBytes != next.limits.maxBodyBytes, next.grpc != nil { changed.append("limits.max_body_bytes (gRPC)") }
        return changed
    }
}
