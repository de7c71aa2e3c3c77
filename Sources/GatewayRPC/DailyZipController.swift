import Dates
import DynamicJSON
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging

/// Serves `GET /reports/daily/{workspace}/{YYYYMMDD}.zip`: the upstream zip as it is, with the
/// same caller auth and scopes as `reports.getDaily` (401 without a valid token, 403 for a
/// caller without that workspace or method).
struct DailyZipController: Sendable {
    let reports: DailyReportService
    let workspaces: WorkspaceDirectory
    let authenticator: CallerAuthenticator
    let defaultTimeoutMs: Int
    let callLimit: Int
    let disconnects: ClientDisconnects
    /// Each caller's requests in flight (shared with every transport).
    let inFlight: CallerInFlightLimit
    let logger: Logger

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.get("/reports/daily/{workspace}/{file}") { request, context in
            let workspace = context.parameters.get("workspace") ?? ""
            let file = context.parameters.get("file") ?? ""
            let connection = disconnects.connection(context.channel)
            let arrived = ContinuousClock.now
            return await connection.whileConnected(logger: logger) {
                await serve(request, connection: connection, arrived: arrived, workspace: workspace, file: file)
            }
        }
    }

    private func serve(_ request: Request, connection: ClientConnection, arrived: ContinuousClock.Instant, workspace name: String, file: String)
        async -> Response
    {
        let identity = RequestHeaders.identify(request, logger: logger)
        let headers = identity.responseHeaders
        do {
            guard let caller = authenticator.authenticate(authorization: request.headers.value(.authorization)) else { throw GatewayError.unauthenticated }
            guard caller.mayCall(method: "reports.getDaily") else { throw GatewayError.forbiddenMethod("reports.getDaily") }
            let served = await inFlight.run(caller: caller.name) {
                await serve(request, caller: caller, identity: identity, connection: connection, arrived: arrived, workspace: name, file: file)
            }
            return try served.get()
        } catch {
            return HTTPJSON.error(GatewayError.answering(error, logger: identity.logger, site: "daily zip"), headers: headers, enveloped: true)
        }
    }

    /// Serves one zip of an authenticated caller allowed the method.
    private func serve(
        _ request: Request, caller: CallerIdentity, identity: RequestIdentity, connection: ClientConnection, arrived: ContinuousClock.Instant,
        workspace name: String, file: String
    ) async -> Response {
        let headers = identity.responseHeaders
        do {
            guard file.count == 12, file.hasSuffix(".zip"), let day = CalendarDay(compact: String(file.dropLast(4))) else {
                throw GatewayError.invalidParams(field: "file", reason: "must be YYYYMMDD.zip, a real day")
            }
            let context = try RequestHeaders.context(
                request, caller: caller, identity: identity, arrived: arrived, connection: connection, callLimit: callLimit,
                defaultTimeoutMs: defaultTimeoutMs
            ).forCall(paramMs: nil, defaultMs: defaultTimeoutMs)
            let workspace = try workspaces.resolve(name, for: caller)
            switch try await reports.rawZip(day: day, workspace: workspace, context: context) {
            case .zip(let data):
                var zipHeaders = headers
                zipHeaders[.contentType] = "application/zip"
                zipHeaders[.contentDisposition] = "attachment; filename=\"\(file)\""
                context.logger.info("daily report zip", metadata: ["day": "\(day)", "bytes": "\(data.count)"])
                return Response(status: .ok, headers: zipHeaders, body: .init(byteBuffer: ByteBuffer(data: data)))
            case .missing(let reason):
                return HTTPJSON.response(.notFound, ["error": ["code": "not_found", "message": .string(reason)]], headers: headers)
            }
        } catch {
            return HTTPJSON.error(GatewayError.answering(error, logger: identity.logger, site: "daily zip"), headers: headers, enveloped: true)
        }
    }
}
