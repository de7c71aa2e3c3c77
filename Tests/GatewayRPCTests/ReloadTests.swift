import CurlHTTP
import DynamicJSON
import Foundation
import ServerTesting
import Testing

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// Reload without restart (`POST /admin/reload`, `SIGHUP`): callers, tokens, scopes, workspaces,
/// limits change at once; requests in flight finish; the cache and the budget are kept; an
/// invalid file changes nothing and says why.
@Suite struct ReloadTests {
    /// A config file of its own, and `reporting`'s token file.
    private struct Files {
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID().uuidString).yaml").path
        let token = FileManager.default.temporaryDirectory.appendingPathComponent("reload-token-\(UUID().uuidString)").path

        func setToken(_ token: String) throws {
            try (token + "\n").write(toFile: self.token, atomically: true, encoding: .utf8)
        }

        func remove() {
            try? FileManager.default.removeItem(atPath: config)
            try? FileManager.default.removeItem(atPath: token)
        }
    }

    /// The harness config with `reporting`'s token in `files.token`, `admin` allowed to reload, and the given changes.
    private static func yaml(
        _ files: Files, mainRateLimits: String = "[{calls: 100, per_seconds: 60}]", limits: [String: Int] = [:],
        narrowMethods: String = #"["campaigns.list"]"#, withOther: Bool = true, extra: String = ""
    ) -> String {
        var text = GatewayHarness.yaml(limits: limits, extra: extra, mainRateLimits: mainRateLimits)
            .replacingOccurrences(of: "{name: reporting, token_env: REPORTING_TOKEN,", with: "{name: reporting, token_file: \"\(files.token)\",")
            .replacingOccurrences(
                of: #"{name: admin, token_env: ADMIN_TOKEN, workspaces: ["*"]}"#,
                with: #"{name: admin, token_env: ADMIN_TOKEN, workspaces: ["*"], admin: true}"#
            )
            .replacingOccurrences(of: #"methods: ["campaigns.list"]"#, with: "methods: \(narrowMethods)")
        if !withOther {
            text = text.replacingOccurrences(of: "workspaces: [main, other, mig]", with: "workspaces: [main, mig]")
                .split(separator: "\n").filter { !$0.hasPrefix("  other:") }.joined(separator: "\n")
        }
        return text
    }

    private func reload(_ gateway: GatewayHarness, token: String? = TestSecrets.adminToken) async throws -> Answer {
        try await gateway.send("/admin/reload", body: nil, token: token)
    }

    private func rewrite(_ files: Files, _ gateway: GatewayHarness, _ yaml: String) throws {
        try yaml.replacingOccurrences(of: "SIM", with: gateway.simBase).write(toFile: files.config, atomically: true, encoding: .utf8)
    }

    private static func stats(_ ids: [String], workspace: String = "main") -> JSON {
        ["workspace": .string(workspace), "campaign_ids": .array(ids.map(JSON.string)), "start_date": "2025-03-01", "end_date": "2025-03-05"]
    }

    @Test func aReloadChangesTokensScopesAndLimitsAtOnceKeepingCacheBudgetAndCallsInFlight() async throws {
        let files = Files()
        defer { files.remove() }
        try files.setToken("tok-before-1111")
        try await GatewayHarness.with(yaml: Self.yaml(files), reloadingFrom: files.config) { gateway in
            let catalog = gateway.simulator.catalog.campaigns.map(\.id)
            let ids = Array(catalog.prefix(12))
            let first = try await gateway.call("campaigns.getStats", Self.stats(ids), token: "tok-before-1111")
            #expect(first.json?["result"]?["upstream"]?["calls"] == 2)
            try await gateway.setFaults(["latency_ms": 1_500])
            async let inFlight = gateway.call("campaigns.getStats", Self.stats([catalog[20]]), token: "tok-before-1111")
            try await Task.sleep(for: .milliseconds(300))
            try files.setToken("tok-after-2222")
            try rewrite(
                files, gateway,
                Self.yaml(
                    files, mainRateLimits: "[{calls: 50, per_seconds: 60}]", limits: ["max_campaign_ids": 12], narrowMethods: #"["campaigns.*"]"#))
            let reloaded = try await reload(gateway)
            #expect(reloaded.status == 200, "\(reloaded.text)")
            #expect(reloaded.json?["outcome"] == "ok" && reloaded.json?["generation"] == 2 && reloaded.json?["restart_needed"] == [])
            let finished = try await inFlight
            #expect(finished.json?["result"]?["upstream"]?["calls"] == 1, "the call in flight finished: \(finished.text)")
            try await gateway.setFaults(["latency_ms": 0])

            #expect(try await gateway.call("campaigns.getStats", Self.stats(ids), token: "tok-before-1111").status == 401, "the old token is gone")
            let again = try await gateway.call("campaigns.getStats", Self.stats(ids), token: "tok-after-2222")
            #expect(again.json?["result"]?["upstream"]?["calls"] == 0, "the cache was kept: \(again.text)")
            let tooMany = try await gateway.call("campaigns.getStats", Self.stats(Array(catalog.prefix(13))), token: "tok-after-2222")
            #expect(tooMany.json?["error"]?["code"] == -32602, "the new max_campaign_ids holds")
            let narrow = try await gateway.call("campaigns.getStats", Self.stats([ids[0]]), token: TestSecrets.narrowToken)
            #expect(narrow.json?["result"] != nil, "narrow's new scope holds: \(narrow.text)")
            let metrics = try await gateway.get("/metrics").text
            #expect(metrics.contains(#"campaign_gateway_budget_window_limit{workspace="main",window="60s"} 50.0"#))
            #expect(metrics.contains(#"campaign_gateway_budget_window_calls{workspace="main",window="60s"} 3.0"#), "the budget kept its calls")
            #expect(metrics.contains(#"campaign_gateway_config_reloads_total{outcome="ok"} 1"#))
            let ready = try await gateway.get("/readyz")
            #expect(ready.json?["config"]?["generation"] == 2 && ready.json?["config"]?["outcome"] == "ok")
        }
    }

    @Test func anInvalidFileChangesNothingAndSaysWhy() async throws {
        let files = Files()
        defer { files.remove() }
        try files.setToken("tok-kept-3333")
        try await GatewayHarness.with(yaml: Self.yaml(files), reloadingFrom: files.config) { gateway in
            try files.setToken("tok-never-4444")
            try rewrite(files, gateway, Self.yaml(files, extra: "cache: {fresh_ttl_s: 10, bogus: 1}"))
            let refused = try await reload(gateway)
            #expect(refused.status == 422)
            #expect(refused.json?["outcome"] == "failed" && refused.json?["generation"] == 1)
            #expect(refused.json?["reason"]?.stringValue?.contains("cache.bogus") == true, "\(refused.text)")
            #expect(
                try await gateway.call("campaigns.list", ["workspace": "main"], token: "tok-kept-3333").status == 200, "the old token still works")
            #expect(try await gateway.call("campaigns.list", ["workspace": "main"], token: "tok-never-4444").status == 401)
            let ready = try await gateway.get("/readyz")
            #expect(ready.status == 200 && ready.json?["config"]?["outcome"] == "failed")
            #expect(ready.json?["config"]?["reason"]?.stringValue?.contains("cache.bogus") == true)
            var metrics = try await gateway.get("/metrics").text
            #expect(metrics.contains(#"campaign_gateway_config_reloads_total{outcome="failed"} 1"#))
            #expect(metrics.contains("campaign_gateway_config_last_reload_successful 0.0"))
            #expect(gateway.renderedLogs.contains("config reload failed"))
            // A syntax error is reported by line and column, never by quoting the line (it may hold a secret).
            try rewrite(
                files, gateway, Self.yaml(files).replacingOccurrences(of: "api_key_env: MAIN_KEY,", with: "api_key: sk-INLINE-SECRET-999: x,"))
            let syntax = try await reload(gateway)
            #expect(
                syntax.status == 422 && !syntax.text.contains("sk-INLINE") && syntax.json?["reason"]?.stringValue?.contains("line") == true,
                "\(syntax.text)")
            #expect(!(try await gateway.get("/readyz").text.contains("sk-INLINE")) && !gateway.renderedLogs.contains("sk-INLINE"))
            // A file whose secrets are missing (here a token file) would lock callers out: it changes nothing.
            try rewrite(files, gateway, Self.yaml(files).replacingOccurrences(of: files.token, with: files.token + "-absent"))
            let missing = try await reload(gateway)
            #expect(missing.status == 422 && missing.json?["reason"]?.stringValue?.contains("secrets missing") == true, "\(missing.text)")
            #expect(try await gateway.call("campaigns.list", ["workspace": "main"], token: "tok-kept-3333").status == 200)
            // Fixed, it takes effect.
            try rewrite(files, gateway, Self.yaml(files))
            #expect(try await reload(gateway).json?["generation"] == 2)
            #expect(try await gateway.call("campaigns.list", ["workspace": "main"], token: "tok-never-4444").status == 200)
            metrics = try await gateway.get("/metrics").text
            #expect(metrics.contains("campaign_gateway_config_last_reload_successful 1.0"))
        }
    }

    @Test func aRemovedWorkspacesCallsInFlightFinish() async throws {
        let files = Files()
        defer { files.remove() }
        try files.setToken("tok-reporting-5555")
        try await GatewayHarness.with(yaml: Self.yaml(files), reloadingFrom: files.config) { gateway in
            try await gateway.setFaults(["latency_ms": 1_500])
            async let inFlight = gateway.call(
                "campaigns.getStats", Self.stats([gateway.alwaysActiveIDs[0]], workspace: "other"), token: "tok-reporting-5555")
            try await Task.sleep(for: .milliseconds(300))
            try rewrite(files, gateway, Self.yaml(files, withOther: false))
            #expect(try await reload(gateway).status == 200)
            let finished = try await inFlight
            #expect(finished.json?["result"]?["upstream"]?["calls"] == 1, "\(finished.text)")
            let after = try await gateway.call(
                "campaigns.getStats", Self.stats([gateway.alwaysActiveIDs[0]], workspace: "other"), token: "tok-reporting-5555")
            #expect(after.json?["error"]?["code"] == -32003, "\(after.text)")
        }
    }

    @Test func onlyAnAdminCallerReloadsAndOnlyAGatewayStartedFromAFile() async throws {
        let files = Files()
        defer { files.remove() }
        try files.setToken("tok-reporting-6666")
        try await GatewayHarness.with(yaml: Self.yaml(files), reloadingFrom: files.config) { gateway in
            let anonymous = try await reload(gateway, token: nil)
            let notAdmin = try await reload(gateway, token: "tok-reporting-6666")
            #expect(anonymous.status == 401 && notAdmin.status == 403)
            let ready = try await gateway.get("/readyz")
            #expect(ready.json?["config"]?["generation"] == 1)
        }
        try await GatewayHarness.with(yaml: Self.yaml(files)) { gateway in
            let refused = try await reload(gateway)
            #expect(refused.status == 409)
        }
    }

    @Test func sighupReloadsTheServingProcess() async throws {
        let files = Files()
        defer { files.remove() }
        try files.setToken("tok-hup-before")
        let port = try #require(LoopbackPort.free())
        let yaml = Self.yaml(files).replacingOccurrences(of: "listen: {host: 127.0.0.1, port: 0}", with: "listen: {host: 127.0.0.1, port: \(port)}")
            .replacingOccurrences(of: "SIM", with: "http://127.0.0.1:9")
        try yaml.write(toFile: files.config, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: repositoryRoot + "/.build/debug/campaign-gateway")
        process.arguments = ["serve", "--config", files.config]
        process.environment = TestSecrets.environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        func generation() async -> JSON? {
            guard let ready = try? await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/readyz")) else { return nil }
            return (try? JSON.parse(ready.body))?["config"]?["generation"]
        }
        func discover(_ token: String) async throws -> Int {
            try await client.execute(
                HTTPClientRequest(
                    method: "POST", url: "http://127.0.0.1:\(port)/rpc", headers: [(name: "Authorization", value: "Bearer \(token)")],
                    body: JSON.object(["jsonrpc": "2.0", "id": 1, "method": "rpc.discover"]).encoded())
            ).status
        }
        var started = false
        for _ in 0..<200 where !started {
            started = await generation() == 1
            if !started { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(started, "the gateway did not start")
        #expect(try await discover("tok-hup-before") == 200)
        try files.setToken("tok-hup-after")
        kill(process.processIdentifier, SIGHUP)
        var reloaded = false
        for _ in 0..<100 where !reloaded {
            reloaded = await generation() == 2
            if !reloaded { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(reloaded, "SIGHUP reloaded the configuration")
        #expect(try await discover("tok-hup-after") == 200)
        #expect(try await discover("tok-hup-before") == 401)
        #expect(process.isRunning, "SIGHUP did not end the process")
        kill(process.processIdentifier, SIGTERM)
        var stopped = false
        for _ in 0..<150 where !stopped {
            stopped = !process.isRunning
            if !stopped { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(stopped, "SIGTERM still stops it (the reload service ends with the others)")
    }
}
