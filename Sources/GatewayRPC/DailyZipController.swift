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
    let logger: Logger

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.get("/reports/daily/{workspace}/{file}") { request, context in
            let workspace = context.parameters.get("workspace") ?? ""
            let file = context.parameters.get("file") ?? ""
            return await disconnects.whileConnected(context.channel, logger: logger) { await serve(request, workspace: workspace, file: file) }
        }
    }

    private func serve(_ request: Request, workspace name: String, file: String) async -> Response {
        let meta = RequestMeta.make(request, logger: logger, callLimit: callLimit)
        let headers: HTTPFields = [RequestMeta.requestIDHeader: meta.requestID]
        guard let caller = authenticator.authenticate(authorization: request.headers[.authorization]) else {
            return failure(.unauthenticated, headers: headers)
        }
        guard caller.mayCall(method: "reports.getDaily") else { return failure(.forbiddenMethod("reports.getDaily"), headers: headers) }
        guard file.count == 12, file.hasSuffix(".zip"), let day = CalendarDay(compact: String(file.dropLast(4))) else {
            return failure(.invalidParams(field: "file", reason: "must be YYYYMMDD.zip, a real day"), headers: headers)
        }
        let context = CallContext(
            requestID: meta.requestID, caller: caller, deadline: meta.arrived + .milliseconds(meta.headerTimeoutMs ?? defaultTimeoutMs),
            logger: meta.logger,
            allowance: meta.allowance)
        do {
            let workspace = try workspaces.resolve(name, for: caller)
            switch try await reports.rawZip(day: day, workspace: workspace, context: context) {
            case .zip(let data):
                var zipHeaders = headers
                zipHeaders[.contentType] = "application/zip"
                zipHeaders[.contentDisposition] = "attachment; filename=\"\(file)\""
                meta.logger.info("daily report zip", metadata: ["day": "\(day)", "bytes": "\(data.count)"])
                return Response(status: .ok, headers: zipHeaders, body: .init(byteBuffer: ByteBuffer(data: data)))
            case .missing(let reason):
                return HTTPJSON.response(.notFound, ["error": ["code": "not_found", "message": .string(reason)]], headers: headers)
            }
        } catch let error as GatewayError {
            return failure(error, headers: headers)
        } catch {
            return failure(.cancelled, headers: headers)
        }
    }

    /// `{error: {code, message, data}}` with the HTTP status Connect would use.
    private func failure(_ error: GatewayError, headers: HTTPFields) -> Response {
        var body: [String: JSON] = ["code": .string(error.connectCode), "message": .string(error.message)]
        if let data = error.data { body["data"] = data }
        return HTTPJSON.response(.init(code: error.connectHTTPStatus), ["error": .object(body)], headers: headers)
    }
}
