import Foundation
import Yams

/// Reads and validates the YAML configuration; every problem names its key and line.
public enum ConfigLoader {
    /// MoEngage data centers as documented.
    public static let dataCenters: Set<String> = ["01", "02", "03", "04", "05", "06", "101"]
    /// The longest rate-limit period accepted: 31 days.
    static let maxRatePeriodSeconds = 31.0 * 86_400
    static let logLevels: Set<String> = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Loads the file at `path`.
    public static func load(path: String) throws -> GatewayConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(key: "", line: nil, reason: "cannot read config file \(path)")
        }
        return try parse(String(decoding: data, as: UTF8.self))
    }

    /// A YAML syntax error by its problem and place only: the library's text quotes the file's
    /// line, which may hold an inline secret, and the reason reaches logs and `/readyz`.
    private static func syntaxError(_ error: YamlError) -> ConfigError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigError(key: "", line: mark.line, reason: "not valid YAML: \(problem) (column \(mark.column))")
        case .reader(let problem, let offset, _, _):
            return ConfigError(key: "", line: nil, reason: "not valid YAML: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
        case .duplicatedKeysInMapping(let duplicates, _):
            return ConfigError(key: "", line: nil, reason: "not valid YAML: duplicated keys \(duplicates.joined(separator: ", "))")
        default:
            return ConfigError(key: "", line: nil, reason: "not valid YAML")
        }
    }

    /// Parses YAML text.
    public static func parse(_ yaml: String) throws -> GatewayConfiguration {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else { throw ConfigError(key: "", line: nil, reason: "the file is empty") }
            root = node
        } catch let error as ConfigError {
            throw error
        } catch let error as YamlError {
            throw Self.syntaxError(error)
        }
        let top = try ConfigNode(node: root, path: "").mapping(allowed: [
            "listen", "workspaces", "callers", "limits", "cache", "upstream", "log", "redis", "grpc", "jobs", "background", "refresh",
        ])
        var warnings: [String] = []
        let workspaces = try top["workspaces"].map { try $0.namedEntries().map { try workspace($0.name, $0.node, warnings: &warnings) } } ?? []
        guard !workspaces.isEmpty else { throw ConfigError(key: "workspaces", line: nil, reason: "at least one workspace is required") }
        let callers = try top["callers"].map { try $0.sequence().map(caller) } ?? []
        guard !callers.isEmpty else { throw ConfigError(key: "callers", line: nil, reason: "at least one caller is required") }
        try checkCallers(callers, top["callers"]!, workspaceNames: Set(workspaces.map(\.name)))
        let listen = try top["listen"].map(listen) ?? ListenConfiguration()
        var configuration = GatewayConfiguration(
            listen: listen,
            workspaces: workspaces,
            callers: callers,
            limits: try top["limits"].map(limits) ?? LimitsConfiguration(),
            cache: try top["cache"].map(cache) ?? CacheConfiguration(),
            upstream: try top["upstream"].map(upstream) ?? UpstreamConfiguration(),
            log: try top["log"].map(log) ?? LogConfiguration(),
            redis: try top["redis"].map(redis),
            grpc: try top["grpc"].map { try grpc($0, listen: listen) },
            warnings: warnings
        )
        configuration.jobs = try top["jobs"].map(jobs) ?? JobsConfiguration()
        configuration.background = try top["background"].map(background) ?? BackgroundConfiguration()
        configuration.refresh = try top["refresh"].flatMap(refresh)
        return configuration
    }

    private static func jobs(_ node: ConfigNode) throws -> JobsConfiguration {
        let members = try node.mapping(allowed: [
            "max_calls", "max_queued_per_caller", "max_kept_per_caller", "result_ttl_s", "max_result_bytes", "max_run_s", "concurrency", "lease_ms",
        ])
        var result = JobsConfiguration()
        if let value = members["max_calls"] { result.maxCalls = try value.int(in: 1...1_000_000) }
        if let value = members["max_queued_per_caller"] { result.maxQueuedPerCaller = try value.int(in: 1...1_000) }
        if let value = members["result_ttl_s"] { result.resultTTLSeconds = try value.int(in: 1...86_400 * 30) }
        if let value = members["max_result_bytes"] { result.maxResultBytes = try value.int(in: 1_024...(1 << 30)) }
        if let value = members["max_run_s"] { result.maxRunSeconds = try value.int(in: 1...86_400 * 7) }
        if let value = members["concurrency"] { result.concurrency = try value.int(in: 1...64) }
        if let value = members["lease_ms"] { result.leaseMs = try value.int(in: 300...600_000) }
        if let value = members["max_kept_per_caller"] { result.maxKeptPerCaller = try value.int(in: 1...100_000) }
        guard result.maxKeptPerCaller >= result.maxQueuedPerCaller else {
            throw (members["max_kept_per_caller"] ?? node).error("max_kept_per_caller must be at least max_queued_per_caller")
        }
        return result
    }

    private static func background(_ node: ConfigNode) throws -> BackgroundConfiguration {
        let members = try node.mapping(allowed: ["reserved_share"])
        var result = BackgroundConfiguration()
        if let value = members["reserved_share"] { result.reservedShare = try value.number(in: 0...0.9) }
        return result
    }

    /// The `refresh:` section; nil when it says `enabled: false`.
    private static func refresh(_ node: ConfigNode) throws -> RefreshConfiguration? {
        let members = try node.mapping(allowed: ["enabled", "min_hits", "at_fraction", "interval_ms"])
        var result = RefreshConfiguration()
        if let value = members["min_hits"] { result.minHits = try value.int(in: 1...1_000_000) }
        if let value = members["at_fraction"] { result.atFraction = try value.number(in: 0.1...0.99) }
        if let value = members["interval_ms"] { result.intervalMs = try value.int(in: 50...600_000) }
        return try members["enabled"]?.bool() ?? true ? result : nil
    }

    private static func listen(_ node: ConfigNode) throws -> ListenConfiguration {
        let members = try node.mapping(allowed: [
            "host", "port", "header_timeout_ms", "body_timeout_ms", "idle_timeout_ms", "max_connections", "max_header_bytes",
        ])
        var result = ListenConfiguration()
        if let host = members["host"] { result.host = try host.string() }
        if let port = members["port"] { result.port = try port.int(in: 0...65_535) }
        if let value = members["header_timeout_ms"] { result.headerTimeoutMs = try value.int(in: 100...600_000) }
        if let value = members["body_timeout_ms"] { result.bodyTimeoutMs = try value.int(in: 100...600_000) }
        if let value = members["idle_timeout_ms"] { result.idleTimeoutMs = try value.int(in: 100...3_600_000) }
        if let value = members["max_connections"] { result.maxConnections = try value.int(in: 1...1_000_000) }
        if let value = members["max_header_bytes"] { result.maxHeaderBytes = try value.int(in: 1_024...(1 << 20)) }
        return result
    }

    private static func grpc(_ node: ConfigNode, listen: ListenConfiguration) throws -> GRPCConfiguration {
        let members = try node.mapping(
            allowed: ["host", "port", "tls", "max_concurrent_streams", "max_connection_age_ms", "max_connection_age_grace_ms"])
        guard let port = members["port"] else { throw node.error("port is required") }
        var result = GRPCConfiguration(host: try members["host"]?.string() ?? listen.host, port: try port.int(in: 0...65_535))
        if let streams = members["max_concurrent_streams"] { result.maxConcurrentStreams = try streams.int(in: 1...10_000) }
        if let age = members["max_connection_age_ms"] { result.maxConnectionAgeMs = try age.int(in: 1_000...604_800_000) }
        if let grace = members["max_connection_age_grace_ms"] { result.maxConnectionAgeGraceMs = try grace.int(in: 0...3_600_000) }
        if let tls = members["tls"] {
            let files = try tls.mapping(allowed: ["cert_file", "key_file"])
            guard let cert = files["cert_file"], let key = files["key_file"] else { throw tls.error("cert_file and key_file are both required") }
            result.tlsCertificateFile = try cert.string()
            result.tlsKeyFile = try key.string()
        }
        if listen.port != 0, result.port == listen.port, result.host == listen.host { throw port.error("must differ from listen.port") }
        return result
    }

    private static func workspace(_ name: String, _ node: ConfigNode, warnings: inout [String]) throws -> WorkspaceConfiguration {
        let members = try node.mapping(allowed: [
            "provider", "data_center", "base_url", "workspace_id", "api_key_env", "api_key_file", "api_key",
            "secret_key_env", "secret_key_file", "secret_key", "rate_limits", "budget_group",
        ])
        let providerName = try members["provider"]?.string() ?? Provider.moengage.rawValue
        guard let provider = Provider(rawValue: providerName) else {
            throw members["provider"]!.error("must be one of \(Provider.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let baseURL = try baseURL(provider: provider, members: members, node: node)
        let workspaceID = try members["workspace_id"]?.string()
        if provider == .moengage, workspaceID == nil { throw node.error("workspace_id is required for a moengage workspace") }
        guard let apiKey = try secret("api_key", members: members, node: node, warnings: &warnings) else {
            throw node.error("one of api_key_env, api_key_file is required")
        }
        let secretKey = try secret("secret_key", members: members, node: node, warnings: &warnings)
        let defaultLimits =
            provider == .moengage ? [RateLimitConfiguration(calls: 100, perSeconds: 60)] : [RateLimitConfiguration(calls: 10, perSeconds: 60)]
        let rateLimits = try members["rate_limits"].map { try $0.sequence().map(rateLimit) } ?? defaultLimits
        if rateLimits.isEmpty { throw members["rate_limits"]!.error("at least one limit is required") }
        return WorkspaceConfiguration(
            name: name, provider: provider, baseURL: baseURL, workspaceID: workspaceID, apiKey: apiKey, secretKey: secretKey,
            rateLimits: rateLimits, budgetGroup: try members["budget_group"]?.string())
    }

    private static func baseURL(provider: Provider, members: [String: ConfigNode], node: ConfigNode) throws -> String {
        switch (members["data_center"], members["base_url"]) {
        case (.some, .some):
            throw node.error("give data_center or base_url, not both")
        case (.some(let dataCenter), nil):
            let value = try dataCenter.string()
            guard provider == .moengage else { throw dataCenter.error("data_center applies to moengage only; give base_url") }
            guard dataCenters.contains(value) else {
                throw dataCenter.error(
                    "unknown data center \"\(value)\" (one of \(dataCenters.sorted { Int($0)! < Int($1)! }.joined(separator: " ")))")
            }
            return "https://api-\(value).moengage.com"
        case (nil, .some(let base)):
            let value = try base.string()
            guard let url = URL(string: value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw base.error("must be an http or https URL")
            }
            return value.hasSuffix("/") ? String(value.dropLast()) : value
        case (nil, nil):
            throw node.error(provider == .moengage ? "one of data_center, base_url is required" : "base_url is required")
        }
    }

    private static func secret(_ prefix: String, members: [String: ConfigNode], node: ConfigNode, warnings: inout [String]) throws
        -> SecretReference?
    {
        let given = ["\(prefix)_env", "\(prefix)_file", prefix].filter { members[$0] != nil }
        guard given.count <= 1 else { throw node.error("give only one of \(given.joined(separator: ", "))") }
        if let env = members["\(prefix)_env"] { return .environment(try env.string()) }
        if let file = members["\(prefix)_file"] { return .file(try file.string()) }
        if let inline = members[prefix] {
            warnings.append("\(inline.path): an inline secret in the config file; prefer \(prefix)_env or \(prefix)_file")
            return .inline(try inline.string())
        }
        return nil
    }

    private static func rateLimit(_ node: ConfigNode) throws -> RateLimitConfiguration {
        let members = try node.mapping(allowed: ["calls", "per_seconds"])
        guard let calls = members["calls"], let perSeconds = members["per_seconds"] else { throw node.error("calls and per_seconds are required") }
        return RateLimitConfiguration(
            calls: try calls.int(in: 1...1_000_000), perSeconds: try perSeconds.number(in: 0.001...Self.maxRatePeriodSeconds))
    }

    private static func caller(_ node: ConfigNode) throws -> CallerConfiguration {
        let members = try node.mapping(allowed: ["name", "token_sha256", "token_env", "token_file", "workspaces", "methods", "admin"])
        guard let name = try members["name"]?.string() else { throw node.error("name is required") }
        let token: TokenReference
        switch (members["token_sha256"], members["token_env"], members["token_file"]) {
        case (.some(let digest), nil, nil):
            let hex = try digest.string().lowercased()
            guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else { throw digest.error("must be 64 hex digits (sha256 of the token)") }
            token = .sha256Hex(hex)
        case (nil, .some(let env), nil):
            token = .environment(try env.string())
        case (nil, nil, .some(let file)):
            token = .file(try file.string())
        default:
            throw node.error("give exactly one of token_sha256, token_env, token_file")
        }
        let workspaces = try members["workspaces"]?.strings() ?? []
        let methods = try members["methods"]?.strings() ?? ["*"]
        guard !workspaces.isEmpty else { throw node.error("workspaces is required (names, or \"*\")") }
        return CallerConfiguration(name: name, token: token, workspaces: workspaces, methods: methods, admin: try members["admin"]?.bool() ?? false)
    }

    private static func checkCallers(_ callers: [CallerConfiguration], _ node: ConfigNode, workspaceNames: Set<String>) throws {
        var seen: Set<String> = []
        for (index, caller) in callers.enumerated() {
            let path = "callers[\(index)]"
            guard seen.insert(caller.name).inserted else {
                throw ConfigError(key: "\(path).name", line: nil, reason: "duplicate caller name \"\(caller.name)\"")
            }
            for workspace in caller.workspaces where workspace != "*" && !workspaceNames.contains(workspace) {
                throw ConfigError(key: "\(path).workspaces", line: nil, reason: "unknown workspace \"\(workspace)\"")
            }
        }
    }

    private static func redis(_ node: ConfigNode) throws -> RedisConfiguration {
        let members = try node.mapping(allowed: [
            "url", "key_prefix", "connect_timeout_ms", "command_timeout_ms", "pool_size", "password_env", "password_file", "replicas_hint",
            "ca_file",
        ])
        guard let urlNode = members["url"] else { throw node.error("url is required (redis://host:port/db)") }
        var result = try redisURL(urlNode)
        if let value = members["key_prefix"] { result.keyPrefix = try value.string() }
        if let value = members["connect_timeout_ms"] { result.connectTimeoutMs = try value.int(in: 10...60_000) }
        if let value = members["command_timeout_ms"] { result.commandTimeoutMs = try value.int(in: 10...60_000) }
        if let value = members["pool_size"] { result.poolSize = try value.int(in: 1...64) }
        if let value = members["replicas_hint"] { result.replicasHint = try value.int(in: 1...1_000) }
        if let value = members["ca_file"] {
            guard result.tls else { throw value.error("ca_file applies to a rediss:// (TLS) url") }
            result.caFile = try value.string()
        }
        switch (members["password_env"], members["password_file"]) {
        case (.some, .some): throw node.error("give only one of password_env, password_file")
        case (.some(let env), nil): result.password = .environment(try env.string())
        case (nil, .some(let file)): result.password = .file(try file.string())
        case (nil, nil): break
        }
        // Required: a default of 1 would let every replica spend the whole budget while Redis is away.
        guard members["replicas_hint"] != nil else {
            throw node.error("replicas_hint is required: how many replicas share the budget (each keeps calls / replicas_hint while Redis is away)")
        }
        return result
    }

    /// `redis://[user@]host[:port][/db]`, or `rediss://` for TLS. A password in the URL is refused
    /// (it would end up in logs and process listings).
    private static func redisURL(_ node: ConfigNode) throws -> RedisConfiguration {
        let text = try node.string()
        guard let url = URLComponents(string: text), url.scheme == "redis" || url.scheme == "rediss" else {
            throw node.error("must be redis://host:port/db or rediss://host:port/db")
        }
        guard url.password == nil else { throw node.error("no password in the URL; give password_env or password_file") }
        guard let host = url.host, !host.isEmpty else { throw node.error("a host is required") }
        guard url.query == nil, url.fragment == nil else { throw node.error("no query or fragment") }
        let path = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        guard path.isEmpty || (path.allSatisfy(\.isNumber) && path.count <= 2), let database = path.isEmpty ? 0 : Int(path), database <= 15 else {
            throw node.error("the database must be a number from 0 to 15")
        }
        let port = url.port ?? 6379
        guard (1...65_535).contains(port) else { throw node.error("the port must be 1 to 65535") }
        return RedisConfiguration(
            host: host, port: port, database: database, username: url.user.flatMap { $0.isEmpty ? nil : $0 }, tls: url.scheme == "rediss")
    }

    private static func limits(_ node: ConfigNode) throws -> LimitsConfiguration {
        let members = try node.mapping(allowed: [
            "max_body_bytes", "max_campaign_ids", "max_span_days", "max_upstream_calls_per_request", "request_timeout_ms",
            "daily_report_span_days", "max_batch", "max_in_flight_per_caller",
        ])
        var result = LimitsConfiguration()
        if let value = members["max_body_bytes"] { result.maxBodyBytes = try value.int(in: 1_024...(64 << 20)) }
        if let value = members["max_campaign_ids"] { result.maxCampaignIDs = try value.int(in: 1...100_000) }
        if let value = members["max_span_days"] { result.maxSpanDays = try value.int(in: 1...3_660) }
        if let value = members["max_upstream_calls_per_request"] { result.maxUpstreamCallsPerRequest = try value.int(in: 1...100_000) }
        if let value = members["request_timeout_ms"] { result.requestTimeoutMs = try value.int(in: 100...600_000) }
        if let value = members["daily_report_span_days"] { result.dailyReportSpanDays = try value.int(in: 1...366) }
        if let value = members["max_batch"] { result.maxBatch = try value.int(in: 1...1_000) }
        if let value = members["max_in_flight_per_caller"] { result.maxInFlightPerCaller = try value.int(in: 1...100_000) }
        return result
    }

    private static func cache(_ node: ConfigNode) throws -> CacheConfiguration {
        let members = try node.mapping(allowed: ["max_bytes", "fresh_ttl_s", "settled_ttl_s", "settled_after_days", "replay_max_bytes"])
        var result = CacheConfiguration()
        if let value = members["max_bytes"] { result.maxBytes = try value.int(in: 0...(1 << 40)) }
        if let value = members["fresh_ttl_s"] { result.freshTTLSeconds = try value.int(in: 0...86_400 * 30) }
        if let value = members["settled_ttl_s"] { result.settledTTLSeconds = try value.int(in: 0...86_400 * 365) }
        if let value = members["settled_after_days"] { result.settledAfterDays = try value.int(in: 0...365) }
        if let value = members["replay_max_bytes"] { result.replayMaxBytes = try value.int(in: 0...(1 << 40)) }
        return result
    }

    private static func upstream(_ node: ConfigNode) throws -> UpstreamConfiguration {
        let members = try node.mapping(allowed: [
            "connect_timeout_ms", "timeout_ms", "ca_bundle", "max_connections_per_host", "max_response_bytes", "safety_margin_ms",
            "max_retry_after_s",
        ])
        var result = UpstreamConfiguration()
        if let value = members["connect_timeout_ms"] { result.connectTimeoutMs = try value.int(in: 10...120_000) }
        if let value = members["timeout_ms"] { result.timeoutMs = try value.int(in: 10...600_000) }
        if let value = members["ca_bundle"] { result.caBundle = try value.string() }
        if let value = members["max_connections_per_host"] { result.maxConnectionsPerHost = try value.int(in: 1...1_024) }
        if let value = members["max_response_bytes"] { result.maxResponseBytes = try value.int(in: 1_024...(1 << 30)) }
        if let value = members["safety_margin_ms"] { result.safetyMarginMs = try value.int(in: 0...60_000) }
        if let value = members["max_retry_after_s"] { result.maxRetryAfterSeconds = try value.int(in: 1...3_600) }
        return result
    }

    private static func log(_ node: ConfigNode) throws -> LogConfiguration {
        let members = try node.mapping(allowed: ["level", "format"])
        var result = LogConfiguration()
        if let value = members["level"] {
            result.level = try value.string()
            guard logLevels.contains(result.level) else { throw value.error("must be one of \(logLevels.sorted().joined(separator: ", "))") }
        }
        if let value = members["format"] {
            result.format = try value.string()
            guard ["json", "text"].contains(result.format) else { throw value.error("must be json or text") }
        }
        return result
    }
}
