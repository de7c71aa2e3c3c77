/// Renders a configuration as readable YAML-like text; every secret is shown as `***`.
public enum ConfigSummary {
    /// The resolved setup, one key per line.
    public static func render(_ configuration: GatewayConfiguration, secrets: ResolvedSecrets) -> String {
        var lines = ["listen: \(configuration.listen.host):\(configuration.listen.port)"]
        if let grpc = configuration.grpc {
            lines.append(
                "grpc: \(grpc.host):\(grpc.port) \(grpc.tlsCertificateFile.map { "TLS (certificate \($0))" } ?? "h2c (plaintext)"), "
                    + "max_concurrent_streams \(grpc.maxConcurrentStreams), max_connection_age_ms \(grpc.maxConnectionAgeMs) "
                    + "(grace \(grpc.maxConnectionAgeGraceMs))")
        } else {
            lines.append("grpc: none")
        }
        lines.append("workspaces:")
        for workspace in configuration.workspaces {
            lines.append("  \(workspace.name):")
            lines.append("    provider: \(workspace.provider.rawValue)")
            lines.append("    base_url: \(workspace.baseURL)")
            if let id = workspace.workspaceID { lines.append("    workspace_id: \(id)") }
            lines.append("    api_key: *** (\(workspace.apiKey), \(secrets.apiKeys[workspace.name] == nil ? "MISSING" : "present"))")
            if let secretKey = workspace.secretKey {
                lines.append("    secret_key: *** (\(secretKey), \(secrets.secretKeys[workspace.name] == nil ? "MISSING" : "present"))")
            }
            let limits = workspace.rateLimits.map { "\($0.calls)/\($0.perSeconds)s" }.joined(separator: ", ")
            lines.append("    rate_limits: \(limits)")
        }
        lines.append("callers:")
        for caller in configuration.callers {
            let token = secrets.tokenDigests[caller.name] == nil ? "MISSING" : "present"
            lines.append(
                "  - \(caller.name): token *** (\(token)); workspaces \(caller.workspaces.joined(separator: ",")); methods \(caller.methods.joined(separator: ","))"
            )
        }
        let l = configuration.limits
        lines.append(
            "limits: max_body_bytes \(l.maxBodyBytes), max_campaign_ids \(l.maxCampaignIDs), max_span_days \(l.maxSpanDays), "
                + "max_upstream_calls_per_request \(l.maxUpstreamCallsPerRequest), request_timeout_ms \(l.requestTimeoutMs), "
                + "daily_report_span_days \(l.dailyReportSpanDays)")
        let c = configuration.cache
        lines.append(
            "cache: max_bytes \(c.maxBytes), fresh_ttl_s \(c.freshTTLSeconds), settled_ttl_s \(c.settledTTLSeconds), settled_after_days \(c.settledAfterDays), replay_max_bytes \(c.replayMaxBytes)"
        )
        let u = configuration.upstream
        lines.append(
            "upstream: connect_timeout_ms \(u.connectTimeoutMs), timeout_ms \(u.timeoutMs), ca_bundle \(u.caBundle ?? "system"), "
                + "max_connections_per_host \(u.maxConnectionsPerHost), max_response_bytes \(u.maxResponseBytes), safety_margin_ms \(u.safetyMarginMs)"
        )
        lines.append("log: level \(configuration.log.level), format \(configuration.log.format)")
        let j = configuration.jobs
        lines.append(
            "jobs: max_calls \(j.maxCalls), max_queued_per_caller \(j.maxQueuedPerCaller), result_ttl_s \(j.resultTTLSeconds), "
                + "max_result_bytes \(j.maxResultBytes), max_run_s \(j.maxRunSeconds), concurrency \(j.concurrency), lease_ms \(j.leaseMs); "
                + "background: reserved_share \(configuration.background.reservedShare)")
        lines.append(
            configuration.refresh.map { "refresh: min_hits \($0.minHits), at_fraction \($0.atFraction), interval_ms \($0.intervalMs)" }
                ?? "refresh: off")
        if let r = configuration.redis {
            let password = r.password.map { "*** (\($0), \(secrets.redisPassword == nil ? "MISSING" : "present"))" } ?? "none"
            lines.append(
                "redis: \(r.tls ? "rediss" : "redis")://\(r.username.map { "\($0)@" } ?? "")\(r.host):\(r.port)/\(r.database)\(r.caFile.map { " (CA \($0))" } ?? ""), password \(password), key_prefix \(r.keyPrefix), "
                    + "connect_timeout_ms \(r.connectTimeoutMs), command_timeout_ms \(r.commandTimeoutMs), pool_size \(r.poolSize), "
                    + "replicas_hint \(r.replicasHint)")
        } else {
            lines.append("redis: none (budget, cache and coalescing in this process: run one replica)")
        }
        return lines.joined(separator: "\n")
    }
}
