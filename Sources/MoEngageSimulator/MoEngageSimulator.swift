import Dates
import DynamicJSON
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// A faithful, deterministic stand-in for MoEngage's APIs, served over real HTTP.
///
/// It checks credentials, enforces the documented request limits and the rolling rate limits
/// (answering 429 beyond them and recording a rule breach), serves seeded synthetic data, and
/// injects faults on demand. `/_sim/calls` lists every call received and every breach.
public struct MoEngageSimulator: Sendable {
    /// The settings this simulator runs with.
    public let configuration: SimulatorConfiguration
    /// The synthetic data it serves.
    public let catalog: SyntheticCatalog
    private let ledger: SimulatorLedger

    /// Creates a simulator; nothing listens until `makeApplication` is run.
    public init(configuration: SimulatorConfiguration) {
        self.configuration = configuration
        self.catalog = SyntheticCatalog(seed: configuration.seed, count: configuration.campaignCount)
        self.ledger = SimulatorLedger(limits: configuration.rateLimits, seed: configuration.seed, faults: configuration.faults)
    }

    /// The Hummingbird application serving the simulator on the configured host and port (over
    /// `server`: plain HTTP/1.1 unless told, e.g. TLS for tests of certificate checks).
    public func makeApplication(
        server: HTTPServerBuilder = .http1(),
        logger: Logger = Logger(label: "moengage-sim"),
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.post("/core-services/v1/campaign-stats") { request, _ in
            try await self.moengagePost(request) { body, call in await self.answerStats(request, body: body, call: &call) }
        }
        router.post("/core-services/v1/campaigns/meta") { request, _ in
            try await self.moengagePost(request) { body, call in await self.answerMeta(request, body: body, call: &call) }
        }
        router.get("/dailyCampaignReportDump/{app}/{file}") { request, context in
            let appID = context.parameters.get("app") ?? ""
            let call = RecordedCall(method: "GET", path: request.uri.path, workspace: appID, auth: "missing", status: 0, requestID: nil, body: nil)
            return await self.recorded(call, of: request) { call in
                await self.answerDailyReport(request, appID: appID, file: context.parameters.get("file") ?? "", call: &call)
            }
        }
        router.get("/v1/campaigns/{id}/stats") { request, context in
            let call = RecordedCall(method: "GET", path: request.uri.path, workspace: nil, auth: "missing", status: 0, requestID: nil, body: nil)
            return await self.recorded(call, of: request) { call in
                await self.answerMigmaStats(request, campaignID: context.parameters.get("id") ?? "", call: &call)
            }
        }
        router.get("/_sim/calls") { _, _ in
            Self.jsonResponse(status: .ok, ledger.snapshot())
        }
        router.post("/_sim/reset") { _, _ in
            ledger.reset()
            return Response(status: .noContent)
        }
        router.post("/_sim/faults") { request, _ in
            let body = try? JSON.parse(Data(buffer: try await request.body.collect(upTo: 1 << 16)))
            guard let faults = body.flatMap(FaultInjection.init(json:)) else {
                return Self.jsonResponse(
                    status: .badRequest, ["error": "expected {latency_ms, fail_500, fail_429, drop, malformed} with fractions in [0, 1]"])
            }
            ledger.faults = faults
            return Response(status: .noContent)
        }
        router.post("/_sim/script") { request, _ in
            let body = try? JSON.parse(Data(buffer: try await request.body.collect(upTo: 16 << 20)))
            let answers = body?["answers"]?.arrayValue?.map(ScriptedAnswer.init(json:))
            guard let answers, !answers.contains(where: { $0 == nil }) else {
                return Self.jsonResponse(status: .badRequest, ["error": "expected {answers: [{path, status, headers?, body? | raw?}]}"])
            }
            ledger.script(answers.compactMap { $0 })
            return Response(status: .noContent)
        }
        router.get("/_sim/campaigns") { _, _ in
            Self.jsonResponse(status: .ok, ["campaigns": .array(catalog.campaigns.map(Self.describe))])
        }
        return Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "moengage-sim"),
            onServerRunning: onServerRunning,
            logger: logger
        )
    }

    /// Answers a call and records it, with its final status and its `traceparent`, in the ledger.
    private func recorded(_ initial: RecordedCall, of request: Request, _ answer: (inout RecordedCall) async -> Response) async -> Response {
        var call = initial
        call.traceparent = request.headers[HTTPField.Name("traceparent")!]
        let response = await answer(&call)
        call.status = Int(response.status.code)
        ledger.record(call)
        return response
    }

    /// A MoEngage JSON POST: the body parsed, the call recorded with its `MOE-APPKEY` and request id.
    private func moengagePost(_ request: Request, _ answer: (JSON?, inout RecordedCall) async -> Response) async throws -> Response {
        let body = try? JSON.parse(Data(buffer: try await request.body.collect(upTo: 1 << 20)))
        let call = RecordedCall(
            method: "POST", path: request.uri.path, workspace: request.headers[HTTPField.Name("MOE-APPKEY")!],
            auth: "missing", status: 0, requestID: body?["request_id"]?.stringValue, body: body)
        return await recorded(call, of: request) { call in await answer(body, &call) }
    }

    private func answerMeta(_ request: Request, body: JSON?, call: inout RecordedCall) async -> Response {
        switch BasicCredentials.check(request.headers, against: configuration.workspaces) {
        case .missing:
            return Self.jsonResponse(status: .unauthorized, MetaRejection.unauthenticated.json)
        case .invalid:
            call.auth = "invalid"
            return Self.jsonResponse(status: .unauthorized, MetaRejection.unauthenticated.json)
        case .valid(let workspace):
            call.auth = "valid"
            if ledger.admit(workspace: workspace) != nil { return Response(status: .tooManyRequests) }
        }
        if let fault = await injectedFault(request) { return fault }
        switch MetaQuery.validate(body) {
        case .failure(let rejection):
            return Self.jsonResponse(status: .init(code: rejection.status), rejection.json)
        case .success(let query):
            let matching = catalog.meta.filter(query.matches)
            let page = matching.dropFirst((query.page - 1) * query.limit).prefix(query.limit).map(\.object)
            return Self.jsonResponse(status: .ok, configuration.metaEnvelope.wrap(Array(page)))
        }
    }

    private func answerDailyReport(_ request: Request, appID: String, file: String, call: inout RecordedCall) async -> Response {
        func failure(_ status: HTTPResponse.Status, _ message: String) -> Response {
            Self.jsonResponse(status: status, ["status": "fail", "message": .string(message)])
        }
        guard let signature = request.uri.queryParameters.get("Signature") else { return failure(.badRequest, "Signature is required") }
        guard let secret = configuration.reportSecrets[appID], signature == ReportSignature.sign(appID: appID, file: file, secret: secret) else {
            call.auth = "invalid"
            return failure(.unauthorized, "Invalid signature")
        }
        call.auth = "valid"
        if ledger.admit(workspace: appID) != nil { return Response(status: .tooManyRequests) }
        if let fault = await injectedFault(request) { return fault }
        guard file.hasSuffix(".zip"), let day = CalendarDay(compact: String(file.dropLast(4))) else {
            return failure(.badRequest, "File name must be YYYYMMDD.zip")
        }
        guard day >= SyntheticCatalog.epoch, day <= SyntheticCatalog.horizon, let zip = try? catalog.dailyReportZip(on: day) else {
            return failure(.notFound, "Report for \(day.compact) is not generated yet")
        }
        return Response(status: .ok, headers: [.contentType: "application/zip"], body: .init(byteBuffer: ByteBuffer(data: zip)))
    }

    private func answerMigmaStats(_ request: Request, campaignID: String, call: inout RecordedCall) async -> Response {
        let unauthorized = Self.jsonResponse(
            status: .unauthorized, ["success": false, "error": "Invalid or missing API key", "code": "UNAUTHORIZED"])
        guard let authorization = request.headers[.authorization] else { return unauthorized }
        guard authorization.hasPrefix("Bearer "), let account = configuration.migmaKeys[String(authorization.dropFirst(7))] else {
            call.auth = "invalid"
            return unauthorized
        }
        call.auth = "valid"
        call.workspace = account
        if ledger.admit(workspace: "migma:\(account)", limits: configuration.migmaRateLimits) != nil { return Response(status: .tooManyRequests) }
        if let fault = await injectedFault(request) { return fault }
        guard let campaign = catalog.campaign(id: campaignID) else {
            return Self.jsonResponse(status: .notFound, ["success": false, "error": "Campaign not found", "code": "NOT_FOUND"])
        }
        return Self.jsonResponse(status: .ok, ["success": true, "data": catalog.migmaStats(for: campaign), "error": .null])
    }

    private func answerStats(_ request: Request, body: JSON?, call: inout RecordedCall) async -> Response {
        switch BasicCredentials.check(request.headers, against: configuration.workspaces) {
        case .missing:
            return Self.rejection(.unauthenticated)
        case .invalid:
            call.auth = "invalid"
            return Self.rejection(.unauthenticated)
        case .valid(let workspace):
            call.auth = "valid"
            if configuration.forbiddenWorkspaces.contains(workspace) { return Self.rejection(.forbidden) }
            if ledger.admit(workspace: workspace) != nil { return Response(status: .tooManyRequests) }
        }
        if let fault = await injectedFault(request) { return fault }
        switch StatsQuery.validate(body) {
        case .failure(let rejection):
            return Self.rejection(rejection)
        case .success(let query):
            return Self.jsonResponse(status: .ok, statsPage(query))
        }
    }

    /// Applies latency, then gives a scripted answer for the path if one is queued, else rolls for
    /// a 500, a 429, a dropped connection or a malformed body.
    private func injectedFault(_ request: Request) async -> Response? {
        let faults = ledger.faults
        if faults.latencyMs > 0 {
            try? await Task.sleep(for: .milliseconds(faults.latencyMs))
        }
        if let scripted = ledger.takeScripted(for: request.uri.path) { return scripted.response(to: request) }
        let dice = ledger.roll()
        var threshold = faults.serverErrorRate
        if dice < threshold { return Self.rejection(.serverError) }
        threshold += faults.tooManyRequestsRate
        if dice < threshold { return Response(status: .tooManyRequests) }
        threshold += faults.dropRate
        if dice < threshold {
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: "{\"response_id\": "))
                    throw SimulatedConnectionDrop()
                })
        }
        threshold += faults.malformedRate
        if dice < threshold {
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"data\": {\"x\": [")))
        }
        return nil
    }

    private func statsPage(_ query: StatsQuery) -> JSON {
        let listed = query.campaignIDs ?? catalog.campaigns(activeIn: query.range).map(\.id)
        let page = listed.dropFirst(query.offset).prefix(query.limit)
        var data: [String: JSON] = [:]
        for id in page {
            guard let campaign = catalog.campaign(id: id),
                let elements = catalog.statsElements(for: campaign, range: query.range, metric: query.metric, attribution: query.attribution)
            else { continue }
            data[id] = elements
        }
        return [
            "response_id": .string(query.requestID),
            "total_campaigns": .int(listed.count),
            "current_page": .int(query.offset / query.limit + 1),
            "total_pages": .int((listed.count + query.limit - 1) / query.limit),
            "data": .object(data),
        ]
    }

    private static func describe(_ campaign: SyntheticCampaign) -> JSON {
        [
            "campaign_id": .string(campaign.id), "campaign_name": .string(campaign.name),
            "active_from": .string(campaign.active.start.iso), "active_to": .string(campaign.active.end.iso),
            "platforms": .array(campaign.platforms.map(JSON.string)),
        ]
    }

    static func rejection(_ rejection: UpstreamRejection) -> Response {
        jsonResponse(status: .init(code: rejection.status), rejection.json)
    }

    static func jsonResponse(status: HTTPResponse.Status, _ json: JSON) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: json.encoded())))
    }
}

/// Thrown from a response body writer to cut the connection mid-response.
struct SimulatedConnectionDrop: Error {}
