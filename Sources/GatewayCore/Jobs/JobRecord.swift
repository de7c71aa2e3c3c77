import Foundation

/// Where a job is in its life.
public enum JobState: String, Sendable, CaseIterable {
    /// Waiting for a replica to run it.
    case queued
    /// Being run (under a replica's lease).
    case running
    /// Finished with a result.
    case done
    /// Finished with an error.
    case failed
    /// Stopped by its caller.
    case cancelled

    /// Whether it has ended (done, failed or cancelled).
    public var isFinal: Bool { self == .done || self == .failed || self == .cancelled }
}

/// One job as its store keeps it.
public struct JobRecord: Sendable, Equatable {
    /// Opaque, unguessable id.
    public var id: String
    /// The caller that submitted it (the only one who sees it).
    public var owner: String
    /// The method it runs (`campaigns.getStats`, …).
    public var method: String
    /// The method's request as JSON text (what the method is called with).
    public var request: String
    /// The params as submitted, `method` included, as JSON text.
    public var submitted: String
    /// Where it is in its life.
    public var state: JobState
    /// Upstream calls made for it so far (by every replica that ran it).
    public var callsDone: Int
    /// The plan's estimate of its upstream calls.
    public var callsTotal: Int
    /// When it was submitted, milliseconds since 1970.
    public var createdAtMs: Int64
    /// When it ended, milliseconds since 1970.
    public var finishedAtMs: Int64?
    /// The method's answer as JSON text, once done.
    public var result: [UInt8]?
    /// The error as JSON text (`{code, message, data}`), once failed.
    public var error: String?

    /// A queued job.
    public init(
        id: String, owner: String, method: String, request: String, submitted: String, callsTotal: Int, createdAtMs: Int64
    ) {
        self.id = id
        self.owner = owner
        self.method = method
        self.request = request
        self.submitted = submitted
        state = .queued
        callsDone = 0
        self.callsTotal = callsTotal
        self.createdAtMs = createdAtMs
    }

    /// A new unguessable job id (128 random bits, hex).
    public static func newID() -> String {
        (0..<2).map { _ in
            let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// Milliseconds since 1970, now.
    public static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1_000).rounded()) }
}

/// Keeps jobs: in this process (`InProcessJobStore`) or in Redis for every replica (`RedisJobStore`).
///
/// A job is run under a lease: the replica that claimed it renews the lease while it runs; a
/// lease that expires (its replica stopped) lets another replica claim the job again.
public protocol JobStore: Sendable {
    /// `redis` or `process`, as `jobs.get` reports it.
    var storage: String { get }
    /// Stores a new queued job unless its owner already has `maxActive` jobs queued or running (then
    /// false), dropping the owner's oldest ended jobs past `maxKept` jobs in all.
    func create(_ record: JobRecord, maxActive: Int, maxKept: Int, keepFor: Duration) async throws(GatewayError) -> Bool
    /// The job with `id`, or nil when unknown or expired.
    func get(_ id: String) async throws(GatewayError) -> JobRecord?
    /// `owner`'s jobs still kept, newest first, without their results.
    func list(owner: String) async throws(GatewayError) -> [JobRecord]
    /// Cancels `owner`'s job `id` unless it has ended: the job as it is afterwards and whether this
    /// call cancelled it (nil when unknown or not `owner`'s).
    func cancel(_ id: String, owner: String, keepFor: Duration) async throws(GatewayError) -> (job: JobRecord, cancelled: Bool)?
    /// Claims the oldest job that is queued, or running under an expired lease, for `replica` (a
    /// token of this one claim, so that a replica that takes back its own lapsed lease stops its older run) for `lease`.
    func claim(replica: String, lease: Duration) async throws(GatewayError) -> JobRecord?
    /// Renews `replica`'s lease on job `id` and records its calls done; the job's state, or nil when the lease was lost.
    func renew(_ id: String, replica: String, lease: Duration, callsDone: Int) async throws(GatewayError) -> JobState?
    /// Ends job `id` as `state` with its result or error, kept for `keepFor`, if `replica` still holds it and it was not cancelled.
    func finish(_ record: JobRecord, replica: String, keepFor: Duration) async throws(GatewayError)
    /// Gives up `replica`'s lease on job `id` at once (a graceful stop): another replica may claim it now.
    func release(_ id: String, replica: String, callsDone: Int) async
}
