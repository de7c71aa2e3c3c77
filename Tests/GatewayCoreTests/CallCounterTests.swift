import CurlHTTP
import DynamicJSON
import Foundation
import GatewayConfig
import GatewayCore
import Logging
import Metrics
import ServerTesting
import Testing

/// A job's progress counts the upstream calls the budget paid for, through a real socket: a call cut
/// off in flight counts once it settles, a call that never connected does not.
@Suite struct CallCounterTests {
    /// Runs `body` with a single-attempt upstream for workspace `main` at `baseURL`, and a background context counting into a new counter.
    private static func withUpstream<T: Sendable>(
        baseURL: String, _ body: (RetryingUpstream, UpstreamWorkspace, CallContext, CallCounter) async throws -> T
    ) async throws -> T {
        let configuration = try ConfigLoader.parse(
            """
            listen: {host: 127.0.0.1, port: 0}
            workspaces:
              main: {provider: moengage, base_url: "\(baseURL)", workspace_id: WS_MAIN, api_key_env: UNUSED_KEY, rate_limits: [{calls: 100, per_seconds: 60}]}
            callers: [{name: job-owner, token_env: UNUSED_TOKEN, workspaces: [main]}]
            """)
        let workspace = UpstreamWorkspace(configuration: configuration.workspaces[0], apiKey: Secret("test-key"), secretKey: nil)
        let http = try CurlHTTPClient()
        defer { http.shutdown() }
        let upstream = RetryingUpstream(
            client: UpstreamClient(http: http, upstream: configuration.upstream, metrics: UpstreamMetrics(factory: NOOPMetricsHandler.instance)),
            budget: InProcessRateBudget(workspaces: [workspace], safetyMargin: .zero), policy: RetryPolicy(maxAttempts: 1))
        let counter = CallCounter()
        var context = CallContext(
            backgroundFor: CallerIdentity(name: "job-owner", workspaces: ["main"], methods: []), requestID: "job-test",
            logger: LiveServer.quietLogger, allowance: CallAllowance(limit: 10), deadline: .now + .seconds(60))
        context.callsMade = counter
        return try await body(upstream, workspace, context, counter)
    }

    @Test func aCallCutOffInFlightCountsOnceItSettles() async throws {
        try await ScriptedHTTPServer.with { server in
            server.enqueue([.hang])
            try await Self.withUpstream(baseURL: "http://127.0.0.1:\(server.port)") { upstream, workspace, context, counter in
                let call = Task { try await upstream.postJSON(path: "/v1.0/campaigns/stats", body: [:], workspace: workspace, context: context) }
                let end = ContinuousClock.now + .seconds(10)
                while server.requests < 1, ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(10)) }
                #expect(server.requests == 1, "the upstream read the request")
                // In flight: waiting for it to settle gives up at the limit, and it is not counted yet.
                #expect(await counter.settled(within: .milliseconds(100)) == 0)
                call.cancel()
                // Cut off: it was paid for and may have been served, so it counts once it has settled.
                #expect(await counter.settled(within: .seconds(10)) == 1)
                await #expect(throws: CancellationError.self) { try await call.value }
            }
        }
    }

    @Test func aCallThatNeverConnectedDoesNotCount() async throws {
        let port = try #require(LoopbackPort.free())
        try await Self.withUpstream(baseURL: "http://127.0.0.1:\(port)") { upstream, workspace, context, counter in
            await #expect(throws: GatewayError.self) {
                try await upstream.postJSON(path: "/v1.0/campaigns/stats", body: [:], workspace: workspace, context: context)
            }
            #expect(await counter.settled(within: .seconds(1)) == 0)
        }
    }

    @Test func anAnsweredCallCountsOnce() async throws {
        try await ScriptedHTTPServer.with { server in
            server.enqueue([.respond(ScriptedHTTPServer.response(status: 200, body: Data(#"{"data":{}}"#.utf8)))])
            try await Self.withUpstream(baseURL: "http://127.0.0.1:\(server.port)") { upstream, workspace, context, counter in
                let outcome = try await upstream.postJSON(path: "/v1.0/campaigns/stats", body: [:], workspace: workspace, context: context)
                #expect(outcome.calls == 1)
                #expect(counter.value == 1)
            }
        }
    }
}
