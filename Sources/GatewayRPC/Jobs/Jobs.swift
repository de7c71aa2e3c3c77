import DynamicJSON
import Foundation
import GatewayConfig
import GatewayCore
import LockedState

/// What every configuration's job methods and the job runner share for the life of the process:
/// the store, this replica's name as a job's lease holder, the metrics, and the runner's wake-up.
final class Jobs: Sendable {
    /// Where jobs live (Redis when configured, else this process).
    let store: any JobStore
    /// How this process holds a job's lease: unique to it, even across a restart on the same address.
    let replica: String
    /// Jobs and refreshes, for the operator.
    let metrics: BackgroundMetrics
    private let woken = Locked(false)
    /// The jobs this replica runs, and those of them cancelled here: their runs stop at once (others' at their next lease renewal).
    private let local = Locked<(running: Set<String>, stopped: Set<String>)>(([], []))

    /// Jobs in `store`, counted in `metrics`.
    init(store: any JobStore, metrics: BackgroundMetrics) {
        self.store = store
        self.metrics = metrics
        replica = ProcessInfo.processInfo.hostName + ":" + JobRecord.newID().prefix(12)
    }

    /// Tells the runner a job was queued here (it also looks every half second).
    func wake() {
        woken.withLock { $0 = true }
    }

    /// Stops this replica's run of job `id`, if it runs here.
    func stopLocally(_ id: String) {
        local.withLock { local in
            if local.running.contains(id) { local.stopped.insert(id) }
        }
    }

    /// Whether job `id` was stopped here.
    func isStoppedLocally(_ id: String) -> Bool {
        local.withLock { $0.stopped.contains(id) }
    }

    /// Runs `body` as this replica's run of job `id`.
    func runningLocally(_ id: String, _ body: () async -> Void) async {
        local.withLock { _ = $0.running.insert(id) }
        await body()
        local.withLock { local in
            local.running.remove(id)
            local.stopped.remove(id)
        }
    }

    /// Whether a job was queued since the last look (and forgets it).
    func takeWakeUp() -> Bool {
        woken.withLock { woken in
            defer { woken = false }
            return woken
        }
    }
}

/// A job as `jobs.get` answers it (the `Job` message), its result embedded as it was stored.
enum JobAnswer {
    /// The `Job` message as JSON; `withResult` false leaves the result out (`jobs.list`).
    static func document(_ record: JobRecord, storage: String, withResult: Bool = true) -> JSONDocument {
        var members: [String: JSONDocument] = [
            "job_id": .value(.string(record.id)), "method": .value(.string(record.method)), "state": .value(.string(record.state.rawValue)),
            "progress": .value(["calls_done": .int(record.callsDone), "calls_total": .int(max(record.callsTotal, record.callsDone))]),
            "created_at": .value(.string(timestamp(record.createdAtMs))), "storage": .value(.string(storage)),
            "params": .encoded(EncodedJSON(writtenBytes: Array(record.submitted.utf8))),
        ]
        if let finished = record.finishedAtMs { members["finished_at"] = .value(.string(timestamp(finished))) }
        if withResult, let result = record.result { members["result"] = .encoded(EncodedJSON(writtenBytes: result)) }
        if let error = record.error { members["error"] = .encoded(EncodedJSON(writtenBytes: Array(error.utf8))) }
        return .object(members)
    }

    /// The error a failed job reports: the synchronous method's `{code, message, data}`.
    static func errorJSON(_ error: GatewayError) -> String {
        var body: [String: JSON] = ["code": .int(error.jsonRPCCode), "message": .string(error.message)]
        if let data = error.data { body["data"] = data }
        return String(decoding: JSON.object(body).encodedBytes(), as: UTF8.self)
    }

    /// RFC 3339 UTC with milliseconds.
    static func timestamp(_ ms: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1_000))
    }
}
