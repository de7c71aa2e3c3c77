import Foundation
import GatewayConfig
import Testing

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private let minimal = """
    workspaces:
      demo:
        data_center: "01"
        workspace_id: WS
        api_key_env: DEMO_KEY
    callers:
      - name: svc
        token_env: SVC_TOKEN
        workspaces: [demo]
    """

/// Parses YAML and returns the error it raises, or nil.
private func configError(_ yaml: String) -> ConfigError? {
    do {
        _ = try ConfigLoader.parse(yaml)
        return nil
    } catch {
        return error as? ConfigError
    }
}

@Suite struct ConfigLoaderTests {
    @Test func theExampleConfigPassesWithItsDocumentedEnvironment() throws {
        let configuration = try ConfigLoader.load(path: repositoryRoot.appendingPathComponent("deploy/gateway.example.yaml").path)
        let secrets = try SecretResolver(environment: [
            "MOENGAGE_MARKETING_API_KEY": "k1", "MOENGAGE_MARKETING_SECRET_KEY": "s1", "MIGMA_API_KEY": "k2", "REPORTING_SERVICE_TOKEN": "t",
        ]).resolve(configuration)
        #expect(secrets.problems.isEmpty)
        #expect(configuration.workspaces.map(\.name) == ["marketing", "newsletters"])
        #expect(configuration.workspace(named: "marketing")?.baseURL == "https://api-01.moengage.com")
        #expect(configuration.workspace(named: "newsletters")?.rateLimits == [RateLimitConfiguration(calls: 10, perSeconds: 60)])
    }

    @Test func readsJobsBackgroundAndRefreshWithDefaultsAndBounds() throws {
        let defaults = try ConfigLoader.parse(minimal)
        #expect(defaults.jobs == JobsConfiguration())
        #expect(defaults.jobs.maxCalls == 20_000)
        #expect(defaults.background.reservedShare == 0)
        #expect(defaults.refresh == nil)
        let example = try ConfigLoader.load(path: repositoryRoot.appendingPathComponent("deploy/gateway.example.yaml").path)
        #expect(example.refresh?.minHits == 5, "the example enables refresh-ahead conservatively")
        let set = try ConfigLoader.parse(
            minimal + "\njobs: {max_calls: 5000, max_queued_per_caller: 2, lease_ms: 3000}\nbackground: {reserved_share: 0.2}\nrefresh: {min_hits: 4}\n")
        #expect(set.jobs.maxCalls == 5_000)
        #expect(set.jobs.maxQueuedPerCaller == 2)
        #expect(set.jobs.leaseMs == 3_000)
        #expect(set.background.reservedShare == 0.2)
        #expect(set.refresh?.minHits == 4)
        #expect(set.refresh?.atFraction == 0.8)
        #expect(try ConfigLoader.parse(minimal + "\nrefresh: {enabled: false, min_hits: 4}\n").refresh == nil)
        #expect(configError(minimal + "\nbackground: {reserved_share: 1}\n")?.key == "background.reserved_share")
        #expect(configError(minimal + "\njobs: {max_calls: 0}\n")?.key == "jobs.max_calls")
        #expect(configError(minimal + "\nrefresh: {at_fraction: 1.5}\n")?.key == "refresh.at_fraction")
        #expect(configError(minimal + "\njobs: {retries: 3}\n") != nil)
    }

    @Test func theDemoConfigParses() throws {
        let configuration = try ConfigLoader.load(path: repositoryRoot.appendingPathComponent("deploy/demo.yaml").path)
        #expect(configuration.workspaces.first?.baseURL == "http://127.0.0.1:9090")
    }

    @Test func appliesDocumentedDefaults() throws {
        let configuration = try ConfigLoader.parse(minimal)
        #expect(configuration.listen.host == "127.0.0.1" && configuration.listen.port == 8080)
        #expect(configuration.limits.maxCampaignIDs == 1_000)
        #expect(configuration.limits.maxSpanDays == 366)
        #expect(configuration.limits.maxUpstreamCallsPerRequest == 300)
        #expect(configuration.limits.maxBodyBytes == 1 << 20)
        #expect(configuration.limits.requestTimeoutMs == 30_000)
        #expect(configuration.upstream.safetyMarginMs == 1_000)
        #expect(configuration.workspaces[0].rateLimits == [RateLimitConfiguration(calls: 100, perSeconds: 60)])
        #expect(configuration.callers[0].methods == ["*"])
        let listen = configuration.listen
        #expect(listen.headerTimeoutMs == 10_000 && listen.bodyTimeoutMs == 30_000 && listen.idleTimeoutMs == 75_000)
        #expect(listen.maxConnections == 1_024 && listen.maxHeaderBytes == 32_768)
        #expect(configuration.limits.maxInFlightPerCaller == 64)
    }

    @Test(arguments: [
        ("listen: {max_connections: 0}", "listen.max_connections"), ("listen: {header_timeout_ms: 5}", "listen.header_timeout_ms"),
        ("listen: {max_header_bytes: 100}", "listen.max_header_bytes"), ("listen: {idle_timeout_ms: -1}", "listen.idle_timeout_ms"),
        ("limits: {max_in_flight_per_caller: 0}", "limits.max_in_flight_per_caller"),
    ])
    func refusesAnInboundLimitOutOfRangeNamingTheKey(section: String, key: String) {
        let error = configError(minimal + "\n" + section)
        #expect(error?.key == key, "\(section): \(String(describing: error))")
    }

    @Test func namesAnUnknownKeyWithItsLine() {
        let error = configError(minimal.replacingOccurrences(of: "    api_key_env: DEMO_KEY", with: "    api_key_env: DEMO_KEY\n    api_kee: x"))
        #expect(error?.key == "workspaces.demo.api_kee")
        #expect(error?.line == 6)
        #expect(error?.description.contains("unknown key") == true)
    }

    @Test func rejectsAnUnknownDataCenter() {
        let error = configError(minimal.replacingOccurrences(of: "\"01\"", with: "\"07\""))
        #expect(error?.key == "workspaces.demo.data_center")
        #expect(error?.reason.contains("unknown data center") == true)
    }

    @Test func rejectsACallerNamingAnUnknownWorkspace() {
        let error = configError(minimal.replacingOccurrences(of: "workspaces: [demo]", with: "workspaces: [demo, other]"))
        #expect(error?.key == "callers[0].workspaces")
        #expect(error?.reason.contains("\"other\"") == true)
    }

    @Test func requiresACredentialReference() {
        let error = configError(minimal.replacingOccurrences(of: "    api_key_env: DEMO_KEY\n", with: ""))
        #expect(error?.key == "workspaces.demo")
        #expect(error?.reason.contains("api_key_env") == true)
    }

    @Test func rejectsBothDataCenterAndBaseURL() {
        let error = configError(minimal.replacingOccurrences(of: "data_center: \"01\"", with: "data_center: \"01\"\n    base_url: http://x"))
        #expect(error?.reason.contains("not both") == true)
    }

    @Test func rejectsAMalformedTokenDigest() {
        let error = configError(minimal.replacingOccurrences(of: "token_env: SVC_TOKEN", with: "token_sha256: abc"))
        #expect(error?.key == "callers[0].token_sha256")
    }

    @Test func warnsAboutAnInlineKeyWithoutRevealingIt() throws {
        let configuration = try ConfigLoader.parse(minimal.replacingOccurrences(of: "api_key_env: DEMO_KEY", with: "api_key: sup3r-secret"))
        #expect(configuration.warnings.count == 1)
        #expect(!configuration.warnings[0].contains("sup3r-secret"))
        let summary = ConfigSummary.render(configuration, secrets: try SecretResolver(environment: ["SVC_TOKEN": "t"]).resolve(configuration))
        #expect(!summary.contains("sup3r-secret"))
    }

    @Test func listsMissingSecretsByReferenceNeverByValue() throws {
        let configuration = try ConfigLoader.parse(minimal)
        let secrets = try SecretResolver(environment: ["SVC_TOKEN": "the-token"]).resolve(configuration)
        #expect(secrets.problems == ["workspace demo: api key env DEMO_KEY is not set"])
        #expect(secrets.tokenDigests["svc"]?.count == 32)
    }

    @Test func readsSecretsFromFilesTrimmingTheNewline() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("key-\(UUID().uuidString)")
        try "file-key\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let configuration = try ConfigLoader.parse(minimal.replacingOccurrences(of: "api_key_env: DEMO_KEY", with: "api_key_file: \(file.path)"))
        let secrets = try SecretResolver(environment: ["SVC_TOKEN": "t"]).resolve(configuration)
        #expect(secrets.apiKeys["demo"]?.value == "file-key")
        #expect("\(secrets.apiKeys["demo"]!)" == "***")
    }

    @Test(arguments: ["1e300", ".inf", ".nan", "0.0001", "0", "-5", "2678401"])
    func refusesARatePeriodOutOfRangeNamingTheKey(perSeconds: String) {
        let yaml = minimal.replacingOccurrences(
            of: "api_key_env: DEMO_KEY", with: "api_key_env: DEMO_KEY\n    rate_limits: [{calls: 10, per_seconds: \(perSeconds)}]")
        let error = configError(yaml)
        #expect(error?.key == "workspaces.demo.rate_limits[0].per_seconds", "\(perSeconds): \(String(describing: error))")
    }

    @Test(arguments: [
        ("limits", "max_batch", "0"), ("limits", "max_batch", "1001"), ("upstream", "max_retry_after_s", "0"), ("cache", "replay_max_bytes", "-1"),
    ])
    func refusesNewLimitsOutOfRange(section: String, key: String, value: String) {
        #expect(configError(minimal + "\n\(section): {\(key): \(value)}")?.key == "\(section).\(key)")
    }

    @Test func rejectsInvalidYAML() {
        #expect(configError("workspaces: [unclosed") != nil)
    }

    @Test func readsTheRedisSectionAndResolvesItsPasswordByReference() throws {
        let configuration = try ConfigLoader.parse(
            minimal + """

                redis: {url: "redis://gateway@redis.internal:6380/2", key_prefix: "gw:", replicas_hint: 3, password_env: REDIS_PASSWORD}
                """)
        let redis = try #require(configuration.redis)
        #expect(redis.host == "redis.internal" && redis.port == 6380 && redis.database == 2 && redis.username == "gateway")
        #expect(redis.keyPrefix == "gw:" && redis.replicasHint == 3 && redis.commandTimeoutMs == 500)
        let missing = try SecretResolver(environment: ["DEMO_KEY": "k", "SVC_TOKEN": "t"]).resolve(configuration)
        #expect(missing.problems == ["redis: password env REDIS_PASSWORD is not set"])
        let found = try SecretResolver(environment: ["DEMO_KEY": "k", "SVC_TOKEN": "t", "REDIS_PASSWORD": "pw-Zq1"]).resolve(configuration)
        #expect(found.redisPassword?.value == "pw-Zq1")
        let summary = ConfigSummary.render(configuration, secrets: found)
        #expect(summary.contains("redis: redis://gateway@redis.internal:6380/2, password *** (env REDIS_PASSWORD, present)"))
        #expect(!summary.contains("pw-Zq1"))
        #expect(try ConfigLoader.parse(minimal).redis == nil)
        let tls = try #require(try ConfigLoader.parse(minimal + "\nredis: {url: \"rediss://redis.internal\", ca_file: /etc/ssl/redis-ca.pem, replicas_hint: 2}").redis)
        #expect(tls.tls && tls.caFile == "/etc/ssl/redis-ca.pem" && tls.port == 6379)
    }

    @Test(arguments: [
        ("{url: \"redis://:secret@host:6379\"}", "redis.url"), ("{url: \"redis://host\", ca_file: /ca.pem, replicas_hint: 2}", "redis.ca_file"),
        ("{url: \"http://host\"}", "redis.url"),
        ("{url: \"redis://host/16\"}", "redis.url"), ("{url: \"redis://host/x\"}", "redis.url"), ("{url: \"redis://host:0\"}", "redis.url"),
        ("{}", "redis"), ("{url: \"redis://host\", replicas_hint: 0}", "redis.replicas_hint"),
        ("{url: \"redis://host\", command_timeout_ms: 1}", "redis.command_timeout_ms"), ("{url: \"redis://host\"}", "redis"),
        ("{url: \"redis://host\", password_env: A, password_file: B}", "redis"), ("{url: \"redis://host\", tls: true, replicas_hint: 2}", "redis.tls"),
    ])
    func refusesABadRedisSectionNamingTheKey(section: String, key: String) {
        let error = configError(minimal + "\nredis: \(section)")
        #expect(error?.key == key, "\(section): \(String(describing: error))")
        #expect(!"\(String(describing: error))".contains("secret"), "a password in the URL is never repeated")
    }

    @Test func readsTheGRPCSectionWithTheListenHostAsItsDefault() throws {
        #expect(try ConfigLoader.parse(minimal).grpc == nil)
        let plain = try #require(try ConfigLoader.parse(minimal + "\nlisten: {host: 0.0.0.0, port: 8080}\ngrpc: {port: 9443}").grpc)
        #expect(plain.host == "0.0.0.0" && plain.port == 9443 && plain.tlsCertificateFile == nil)
        let tls = try #require(try ConfigLoader.parse(minimal + "\ngrpc: {port: 9443, tls: {cert_file: /c.pem, key_file: /k.pem}}").grpc)
        #expect(tls.tlsCertificateFile == "/c.pem" && tls.tlsKeyFile == "/k.pem")
    }

    @Test(arguments: [
        ("{}", "grpc"), ("{port: 70000}", "grpc.port"), ("{port: 8080}", "grpc.port"), ("{port: 9443, tls: {cert_file: /c.pem}}", "grpc.tls"),
        ("{port: 9443, tls: {cert_file: /c.pem, key_file: /k.pem, ca_file: /a.pem}}", "grpc.tls.ca_file"), ("{port: 9443, reflection: false}", "grpc.reflection"),
    ])
    func refusesABadGRPCSectionNamingTheKey(section: String, key: String) {
        let error = configError(minimal + "\ngrpc: \(section)")
        #expect(error?.key == key, "\(section): \(String(describing: error))")
    }
}
