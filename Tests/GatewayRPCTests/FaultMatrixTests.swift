import CurlHTTP
import DynamicJSON
import Foundation
import MoEngageSimulator
import ServerTesting
import Testing

/// The fault matrix, through the wire: every way the upstream can fail, each answered through
/// `/rpc` with the exact figures (after retries) or the documented -32050, expired entries served
/// `stale: true`, and the calls the gateway reports and the budget it spent equal to what was sent.

private let statsPath = "/core-services/v1/campaign-stats"
/// Attempts the gateway makes for a failure it retries (`RetryPolicy.maxAttempts`).
private let retriedAttempts = 4
/// The budget of workspace `main` in every cell: large enough never to slow a cell, small enough to probe.
private let budgetCalls = 40
/// The budget's window: a probe's extra call lands about this far away, far past any cell's pause.
private let budgetWindowSeconds = 600

/// An upstream answer for the campaigns of one request: the ids, the window, and the figures the simulator holds.
private struct CleanAnswer {
    var ids: [String]
    var body: JSON
    /// What `result.campaigns` must hold: each campaign's platforms, as the simulator keeps them.
    var campaigns: JSON {
        .object(Dictionary(uniqueKeysWithValues: ids.map { ($0, platformsUnion(body["data"]?[$0]?.arrayValue ?? [])) }))
    }
    /// The answer as a raw HTTP response.
    var response: Data { ScriptedHTTPServer.response(status: 200, body: body.encoded()) }
}

/// One failure, and how it reaches the gateway: scripted into the simulator, or played by the raw server.
enum WireFault: Sendable {
    /// An answer queued with `/_sim/script`.
    case simulator(JSON)
    /// An action of the raw server.
    case raw(ScriptedHTTPServer.Action)
}

/// The instant `seconds` from now as an IMF-fixdate (RFC 9110 HTTP-date).
private func httpDate(in seconds: Double) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    return formatter.string(from: Date().addingTimeInterval(seconds))
}

/// One cell: a fault the upstream gives, whether the gateway may retry it, and the -32050 it answers once it gives up.
struct FaultCell: Sendable, CustomTestStringConvertible {
    /// The cell's name in test output.
    let name: String
    /// The failure, made anew for each use (an HTTP-date is relative to when it is sent).
    let fault: @Sendable () -> WireFault
    /// Attempts until the gateway gives up: 4 for a retried failure, 1 when `Retry-After` reaches past the deadline.
    let attempts: Int
    /// `error.data.upstream_status` once it gives up (0: no HTTP answer).
    let upstreamStatus: Int
    /// How `error.data.reason` begins.
    let reason: String
    /// Gateway settings the cell needs (e.g. a short upstream timeout).
    var upstreamSettings = ""

    /// The name, as test output shows it.
    var testDescription: String { name }

    /// Whether the fault is played by the raw server (else scripted into the simulator).
    var isRaw: Bool { if case .raw = fault() { true } else { false } }

    /// An HTTP error status scripted into the simulator, with a MoEngage error body and, when given, a `Retry-After`.
    static func status(_ status: Int, _ name: String, retryAfter: (@Sendable () -> String)? = nil, attempts: Int = retriedAttempts) -> Self {
        let reason = status == 429 ? "the upstream rate limit was exceeded" : "the upstream answered HTTP \(status)"
        return FaultCell(
            name: name,
            fault: {
                var answer: [String: JSON] = [
                    "path": .string(statsPath), "status": .int(status), "body": ["title": "Upstream Trouble", "code": .string("E\(status)")],
                ]
                if let retryAfter { answer["headers"] = ["Retry-After": .string(retryAfter())] }
                return .simulator(.object(answer))
            }, attempts: attempts, upstreamStatus: status, reason: reason)
    }

    /// A raw-server action.
    static func raw(
        _ name: String, status: Int = 0, reason: String, settings: String = "", _ action: @escaping @Sendable () -> ScriptedHTTPServer.Action
    ) -> Self {
        FaultCell(
            name: name, fault: { .raw(action()) }, attempts: retriedAttempts, upstreamStatus: status, reason: reason, upstreamSettings: settings)
    }

    /// Every cell whose upstream answers (or at least accepts) each request.
    static let all: [FaultCell] = [
        raw("reset mid-body", reason: "connection_dropped") {
            .resetAfter(ScriptedHTTPServer.response(status: 200, body: Data(#"{"response_id": "r", "data": {"#.utf8), declaredLength: 4_096))
        },
        raw("body shorter than its Content-Length", reason: "connection_dropped") {
            .respond(ScriptedHTTPServer.response(status: 200, body: Data(#"{"response_id": "r", "data": {"#.utf8), declaredLength: 4_096))
        },
        raw("truncated JSON", status: 200, reason: "the upstream answered with a malformed body") {
            .respond(ScriptedHTTPServer.response(status: 200, body: Data(#"{"response_id": "r", "total_campaigns": 3, "data": {"x": ["#.utf8)))
        },
        raw("200 with an HTML body", status: 200, reason: "the upstream answered with a malformed body") {
            .respond(ScriptedHTTPServer.response(status: 200, contentType: "text/html", body: Data("<html><body>Maintenance</body></html>".utf8)))
        },
        raw("headers that never come", reason: "timed_out", settings: "timeout_ms: 400") { .hang },
        status(502, "502 without Retry-After"),
        status(503, "503 without Retry-After"),
        status(503, "503 with Retry-After in seconds", retryAfter: { "1" }),
        status(502, "502 with Retry-After as an HTTP-date", retryAfter: { httpDate(in: 2) }),
        status(503, "503 with Retry-After in seconds past the deadline", retryAfter: { "100" }, attempts: 1),
        status(502, "502 with Retry-After as an HTTP-date past the deadline", retryAfter: { httpDate(in: 100) }, attempts: 1),
        status(429, "429 with Retry-After in seconds", retryAfter: { "1" }),
        status(429, "429 with Retry-After as an HTTP-date", retryAfter: { httpDate(in: 2) }),
    ]
}

/// The gateway in front of a cell's upstream, and how to script and count it.
private struct MatrixRun {
    let gateway: GatewayHarness
    let raw: ScriptedHTTPServer?

    /// `campaigns.getStats` params for `ids` over March 2025 (one window, one call per 10 ids), deadline 20 s.
    static func params(_ ids: [String], extra: [String: JSON] = [:]) -> JSON {
        var members: [String: JSON] = [
            "workspace": "main", "campaign_ids": .array(ids.map(JSON.string)), "start_date": "2025-03-01", "end_date": "2025-03-30",
            "timeout_ms": 20_000,
        ]
        members.merge(extra) { _, new in new }
        return .object(members)
    }

    /// Asks the simulator itself (not through the gateway) for `ids`' figures.
    func clean(_ ids: [String]) async throws -> CleanAnswer {
        CleanAnswer(ids: ids, body: try await simulatorAnswer(gateway, ids: ids, from: "2025-03-01", to: "2025-03-30"))
    }

    /// Queues what the upstream gives the next requests: `faults` copies of the cell's failure, then the clean answers.
    func arm(_ cell: FaultCell, faults: Int, then clean: CleanAnswer? = nil) async throws {
        let made = (0..<faults).map { _ in cell.fault() }
        let scripted = made.compactMap { if case .simulator(let answer) = $0 { answer } else { nil } }
        if !scripted.isEmpty { try await gateway.script(scripted) }
        raw?.enqueue(made.compactMap { if case .raw(let action) = $0 { action } else { nil } })
        if let clean, let raw { raw.enqueue([.respond(clean.response)]) }
    }

    /// Stats calls the upstream received in full from the gateway (the simulator's log without the test's own call, or the raw server's count).
    func received() async throws -> Int {
        if let raw { return raw.requests }
        return try await gateway.upstreamCalls().filter { $0["request_id"] != "direct" }.count
    }

    /// Asks for `ids` through `/rpc`.
    func stats(_ ids: [String]) async throws -> JSON? {
        try await gateway.call("campaigns.getStats", Self.params(ids)).json
    }

    /// Runs `body` with a gateway whose upstream is a scripted server, three always-active ids and their clean answer.
    static func withScriptedUpstream(_ body: (MatrixRun, ScriptedHTTPServer, [String], CleanAnswer) async throws -> Void) async throws {
        let raw = try ScriptedHTTPServer()
        defer { raw.stop() }
        try await GatewayHarness.with(yaml: yaml(baseURL: "http://127.0.0.1:\(raw.port)")) { gateway in
            let run = MatrixRun(gateway: gateway, raw: raw)
            let ids = Array(gateway.alwaysActiveIDs.prefix(3))
            try await body(run, raw, ids, try await run.clean(ids))
        }
    }

    /// Expects the budget to have been charged exactly `charged` calls: a dry run of the calls left
    /// completes at once (well within the window), one more only when the window has passed.
    func expectBudgetCharged(_ charged: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        func earliest(calls: Int) async throws -> Int {
            let ids = (0..<(calls * 10)).map { "probe\($0)" }
            let plan = try await gateway.call("campaigns.getStats", Self.params(ids, extra: ["dry_run": true])).json?["result"]?["plan"]
            #expect(plan?["estimated_calls"]?.intValue == calls, sourceLocation: sourceLocation)
            return plan?["earliest_completion_ms"]?.intValue ?? -1
        }
        let halfWindowMs = budgetWindowSeconds * 500
        let left = try await earliest(calls: budgetCalls - charged)
        let oneMore = try await earliest(calls: budgetCalls - charged + 1)
        #expect(
            (0..<halfWindowMs).contains(left), "\(budgetCalls - charged) calls should fit what is left of the budget", sourceLocation: sourceLocation)
        #expect(oneMore >= halfWindowMs, "one more call than \(budgetCalls - charged) should wait for the window", sourceLocation: sourceLocation)
    }

    /// The gateway config for `main` at `baseURL`: the probed budget, entries expiring at once (stale if error), `settings` under `upstream`.
    static func yaml(baseURL: String = "SIM", settings: String = "") -> String {
        GatewayHarness.yaml(
            extra: "cache: {fresh_ttl_s: 0, settled_ttl_s: 0}\nupstream: {\(settings)}",
            mainRateLimits: "[{calls: \(budgetCalls), per_seconds: \(budgetWindowSeconds)}]", mainBaseURL: baseURL)
    }
}

/// Expects an exact answer: the simulator's figures for every campaign, fresh, from `calls` upstream calls.
private func expectExact(_ answer: JSON?, _ clean: CleanAnswer, calls: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    let result = answer?["result"]
    #expect(result?["campaigns"] == clean.campaigns, "\(answer?["error"] ?? "figures differ")", sourceLocation: sourceLocation)
    #expect(result?["stale"] == false, sourceLocation: sourceLocation)
    #expect(result?["upstream"]?["calls"]?.intValue == calls, sourceLocation: sourceLocation)
}

/// Expects the expired entries served: the earlier figures, `stale: true` with an age, and the `calls` really sent.
private func expectStale(_ answer: JSON?, _ clean: CleanAnswer, calls: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    let result = answer?["result"]
    #expect(result?["campaigns"] == clean.campaigns, "\(answer?["error"] ?? "figures differ")", sourceLocation: sourceLocation)
    #expect(result?["stale"] == true, sourceLocation: sourceLocation)
    #expect((result?["stale_age_s"]?.intValue ?? -1) >= 0, sourceLocation: sourceLocation)
    #expect(result?["upstream"]?["calls"]?.intValue == calls, "calls reported for a stale answer", sourceLocation: sourceLocation)
}

/// Expects -32050 with `upstream_status` and a reason beginning with `reason`.
private func expectUpstreamFailed(_ answer: JSON?, status: Int, reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let error = answer?["error"]
    #expect(error?["code"] == -32050, "\(answer ?? "no answer")", sourceLocation: sourceLocation)
    #expect(error?["data"]?["upstream_status"]?.intValue == status, sourceLocation: sourceLocation)
    #expect(error?["data"]?["reason"]?.stringValue?.hasPrefix(reason) == true, "\(error?["data"] ?? "no data")", sourceLocation: sourceLocation)
}

@Suite struct FaultMatrixTests {
    /// Each cell: once (recovered by a retry: the exact figures), until the gateway gives up with an
    /// expired entry (served stale), and without one (-32050); upstream and budget counted throughout.
    @Test(arguments: FaultCell.all)
    func answersExactlyStaleOrUpstreamFailed(cell: FaultCell) async throws {
        let raw = cell.isRaw ? try ScriptedHTTPServer() : nil
        defer { raw?.stop() }
        let yaml = MatrixRun.yaml(baseURL: raw.map { "http://127.0.0.1:\($0.port)" } ?? "SIM", settings: cell.upstreamSettings)
        try await GatewayHarness.with(yaml: yaml) { gateway in
            let run = MatrixRun(gateway: gateway, raw: raw)
            let ids = Array(gateway.alwaysActiveIDs.prefix(3))
            let clean = try await run.clean(ids)
            var sent = 0

            try await run.arm(cell, faults: 0, then: clean)
            expectExact(try await run.stats(ids), clean, calls: 1)
            sent += 1

            if cell.attempts > 1 {
                try await run.arm(cell, faults: 1, then: clean)
                expectExact(try await run.stats(ids), clean, calls: 2)
                sent += 2
            }

            try await run.arm(cell, faults: cell.attempts)
            expectStale(try await run.stats(ids), clean, calls: cell.attempts)
            sent += cell.attempts

            try await run.arm(cell, faults: cell.attempts)
            expectUpstreamFailed(try await run.stats(["never-cached"]), status: cell.upstreamStatus, reason: cell.reason)
            sent += cell.attempts

            #expect(try await run.received() == sent, "what the upstream received")
            try await run.expectBudgetCharged(sent)
        }
    }

    /// A 429 whose `Retry-After` reaches past the deadline: given up at once (stale served), and the
    /// workspace paused for everyone: the next request is refused -32029 without a call.
    @Test func a429PastTheDeadlinePausesTheWorkspace() async throws {
        try await GatewayHarness.with(yaml: MatrixRun.yaml()) { gateway in
            let run = MatrixRun(gateway: gateway, raw: nil)
            let ids = Array(gateway.alwaysActiveIDs.prefix(3))
            let clean = try await run.clean(ids)
            expectExact(try await run.stats(ids), clean, calls: 1)
            try await run.arm(.status(429, "429 past the deadline", retryAfter: { httpDate(in: 100) }, attempts: 1), faults: 1)
            expectStale(try await run.stats(ids), clean, calls: 1)
            let paused = try await run.stats(["never-cached"])
            #expect(paused?["error"]?["code"] == -32029, "\(paused ?? "no answer")")
            #expect((paused?["error"]?["data"]?["retry_after_ms"]?.intValue ?? 0) > 20_000)
            #expect(try await run.received() == 2)
            try await run.expectBudgetCharged(2)
        }
    }

    /// Connection refused: the port answered once (cached), then closed; no later attempt reached
    /// an upstream, so none is charged; the expired entry is served stale and an uncached question gets -32050.
    @Test func connectionRefused() async throws {
        try await MatrixRun.withScriptedUpstream { run, raw, ids, clean in
            raw.enqueue([.respond(clean.response)])
            expectExact(try await run.stats(ids), clean, calls: 1)
            raw.stop()
            expectStale(try await run.stats(ids), clean, calls: 0)
            expectUpstreamFailed(try await run.stats(["never-cached"]), status: 0, reason: "connect_failed")
            #expect(raw.requests == 1)
            try await run.expectBudgetCharged(1)
        }
    }

    /// An upstream that reads a request on a kept-alive connection and dies with it: libcurl's hidden
    /// retry then fails to connect, yet the request was received, so it is charged (the retries,
    /// refused, are not).
    @Test func anUpstreamThatDiesHoldingARequestIsChargedForIt() async throws {
        try await MatrixRun.withScriptedUpstream { run, raw, ids, clean in
            let keptAlive = ScriptedHTTPServer.response(status: 200, body: clean.body.encoded(), keepAlive: true)
            raw.enqueue([.respondKeepingAlive(keptAlive), .dieHoldingTheRequest])
            expectExact(try await run.stats(ids), clean, calls: 1)
            expectUpstreamFailed(try await run.stats(["never-cached"]), status: 0, reason: "connect_failed")
            #expect(raw.requests == 2)
            try await run.expectBudgetCharged(2)
        }
    }

    /// A name that does not resolve (RFC 6761 `.invalid`): -32050 after the retries, none charged.
    @Test func aNameThatDoesNotResolve() async throws {
        try await GatewayHarness.with(yaml: MatrixRun.yaml(baseURL: "http://moengage.invalid")) { gateway in
            let run = MatrixRun(gateway: gateway, raw: nil)
            expectUpstreamFailed(try await run.stats(["never-cached"]), status: 0, reason: "connect_failed")
            try await run.expectBudgetCharged(0)
        }
    }

    /// The simulator over HTTPS with a certificate from an untrusted authority: verification fails
    /// with a coded -32050 (`tls_failed`, not retried, no request sent); trusting the authority
    /// (`upstream.ca_bundle`) the same server answers exactly, so verification, not the server, refused.
    @Test(arguments: [false, true])
    func aTLSUpstreamWithAnUntrustedCertificate(trusted: Bool) async throws {
        let certificates = try TestCertificates.make()
        let tlsSimulator = MoEngageSimulator(configuration: GatewayHarness.simulatorConfiguration())
        let tlsClient = try CurlHTTPClient(configuration: .init(caBundlePath: certificates.authority))
        defer { tlsClient.shutdown() }
        try await LiveServer.withRunning({ onRunning in
            tlsSimulator.makeApplication(server: try certificates.httpsServer(), logger: LiveServer.quietLogger, onServerRunning: onRunning)
        }) { port in
            let base = "https://localhost:\(port)"
            let settings = trusted ? "ca_bundle: \(certificates.authority)" : ""
            try await GatewayHarness.with(yaml: MatrixRun.yaml(baseURL: base, settings: settings)) { gateway in
                let run = MatrixRun(gateway: gateway, raw: nil)
                let ids = Array(gateway.alwaysActiveIDs.prefix(3))
                let answer = try await run.stats(ids)
                let received = try JSON.parse(try await tlsClient.execute(HTTPClientRequest(url: "\(base)/_sim/calls")).body)["calls"]?.arrayValue
                if trusted {
                    expectExact(answer, try await run.clean(ids), calls: 1)
                    #expect(received?.count == 1)
                } else {
                    expectUpstreamFailed(answer, status: 0, reason: "tls_failed")
                    #expect(received?.isEmpty == true, "no request may be sent over an unverified connection")
                }
                // Verification failed before any request was written: nothing to charge.
                try await run.expectBudgetCharged(trusted ? 1 : 0)
            }
        }
    }
}
