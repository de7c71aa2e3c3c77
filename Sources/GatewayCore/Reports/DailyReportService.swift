import CurlHTTP
import Dates
import DynamicJSON
import Foundation

/// Serves `reports.getDaily` and the raw zip route: signs each day's download in the gateway
/// (callers never see the secret or the signed URL), fetches one day per call through the shared
/// budget, retries, cache and coalescing, unzips with limits and parses the CSV.
public struct DailyReportService: Sendable {
    private let path: UpstreamPath
    private var upstream: RetryingUpstream { path.upstream }
    private var planGuard: PlanGuard { path.planGuard }
    private var ttlPolicy: CacheTTLPolicy { path.ttlPolicy }

    /// Creates the service over the shared upstream path; past days' reports are cached as settled.
    public init(path: UpstreamPath) {
        self.path = path
    }

    /// Answers one validated request: a `days` entry per day, with `columns` and `rows`, or an `error`.
    public func getDaily(_ params: GetDailyParams, workspace: UpstreamWorkspace, context: CallContext) async throws -> JSONDocument {
        let signer = try Self.signer(for: workspace)
        let days = params.range.days
        let daysByItem = Dictionary(uniqueKeysWithValues: days.map { ($0.compact, $0) })
        let today = path.today()
        let work = ItemWork(
            scope: CallScope(workspace: workspace.name, operation: "daily-report"), items: days.map(\.compact), chunkSize: 1,
            // A past day's report does not change: settled days keep the settled TTL, recent ones the fresh TTL.
            ttl: { [ttlPolicy] item in ttlPolicy.ttl(for: DayRange(start: daysByItem[item]!, end: daysByItem[item]!)!, today: today) }
        ) { [self] items, context in
            let day = daysByItem[items[0]]!
            let outcome = try await download(day, signer: signer, workspace: workspace, context: context) {
                Self.parsedDay($0, date: day, redaction: $1)
            }
            return ItemsAnswer(values: [items[0]: outcome.value], calls: outcome.calls)
        }
        switch try await path.executor.run([work], workspace: workspace.name, context: context, dryRun: params.dryRun) {
        case .planned(let plan):
            return .value(["workspace": .string(workspace.name), "dry_run": true, "plan": plan.json()])
        case .done(let results):
            var answer: [String: JSONDocument] = [
                "workspace": .value(.string(workspace.name)),
                "days": .array(days.compactMap { results.values[0][$0.compact].map(JSONDocument.encoded) }),
            ]
            results.mark(&answer)
            return .object(answer)
        }
    }

    /// The raw report of one day, for the zip route.
    public enum RawReport: Sendable {
        /// The zip as the upstream sent it.
        case zip(Data)
        /// The upstream has no report for the day; why.
        case missing(String)
    }

    /// Downloads one day's zip as it is (not cached; paid from the budget like any call, and refused
    /// up front like any plan the budget cannot serve before the deadline).
    public func rawZip(day: CalendarDay, workspace: UpstreamWorkspace, context: CallContext) async throws -> RawReport {
        let signer = try Self.signer(for: workspace)
        let context = try await planGuard.admit(1, workspace: workspace.name, context: context, dryRun: false)
        return try await withDeadline(context.deadline) { [self] in
            try await download(day, signer: signer, workspace: workspace, context: context) { response, redaction in
                Self.isZip(response) ? .zip(response.body) : .missing(Self.failureMessage(response, redaction: redaction))
            }.value
        }
    }

    /// One day's signed download: the path with its signature, and the secrets it carries.
    private struct SignedDay {
        var path: String
        var secrets: [String]
    }

    /// Signs a day for a workspace; throws -32602 when the workspace cannot sign.
    private static func signer(for workspace: UpstreamWorkspace) throws -> @Sendable (CalendarDay) -> SignedDay {
        let appID = try MoEngageAdapter.workspaceID(of: workspace, for: "daily reports are")
        guard let secret = workspace.secretKey else {
            throw GatewayError.invalidParams(field: "workspace", reason: "workspace \(workspace.name) has no daily-report secret key configured")
        }
        return { day in
            let signature = DailyReportSignature.sign(appID: appID, day: day, secret: secret.value)
            let path = MoEngageAdapter.dailyReportPath(appID: appID, day: day, signature: signature)
            return SignedDay(path: path, secrets: [path, signature, secret.value])
        }
    }

    /// Downloads one day; `decode` gets the response and the redaction of the day's secrets.
    private func download<Value: Sendable>(
        _ day: CalendarDay, signer: @Sendable (CalendarDay) -> SignedDay, workspace: UpstreamWorkspace, context: CallContext,
        decode: (HTTPClientResponse, Redaction) throws -> Value
    ) async throws -> RetryingUpstream.Outcome<Value> {
        let signed = signer(day)
        let redaction = Redaction(secrets: signed.secrets)
        return try await upstream.call(
            UpstreamRequest(
                method: "GET", path: signed.path, endpoint: MoEngageAdapter.dailyReportEndpoint, sendsCredentials: false, secrets: signed.secrets),
            workspace: workspace, context: context, accepting: [200, 400, 401, 403, 404, 410]
        ) { response in try decode(response, redaction) }
    }

    /// One `days` entry: `{date, columns, rows}` from a zip, or `{date, error}`.
    static func parsedDay(_ response: HTTPClientResponse, date: CalendarDay, redaction: Redaction) -> JSON {
        var entry: [String: JSON] = ["date": .string(date.iso)]
        if isZip(response) {
            do {
                let table = try CSVTable(parsing: try ReportArchive.csv(in: response.body))
                entry["columns"] = .array(table.columns.map(JSON.string))
                entry["rows"] = .array(table.rows.map { .array($0.map(JSON.string)) })
            } catch let refused as ReportArchive.Refused {
                entry["error"] = .string("the report archive was refused: \(refused)")
            } catch {
                entry["error"] = .string("the report CSV could not be read")
            }
        } else {
            entry["error"] = .string(failureMessage(response, redaction: redaction))
        }
        return .object(entry)
    }

    private static func isZip(_ response: HTTPClientResponse) -> Bool {
        response.status == 200 && response.body.starts(with: [0x50, 0x4B])
    }

    /// The upstream's reason for a missing report when it is plain words (never the signature or the signed URL).
    private static func failureMessage(_ response: HTTPClientResponse, redaction: Redaction) -> String {
        if response.status == 401 || response.status == 403 {
            return "the upstream refused the report signature (check the workspace's secret key)"
        }
        let json = try? JSON.parse(response.body)
        let message = (json?["message"] ?? json?["error"] ?? json?["description"])?.stringValue
        return message.flatMap(redaction.plainWords).map { "no report: \($0)" } ?? "no report (HTTP \(response.status))"
    }
}
