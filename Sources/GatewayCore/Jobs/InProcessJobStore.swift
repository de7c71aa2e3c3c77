import LockedState

/// Jobs kept in this process: they end with it (`storage: process`).
public final class InProcessJobStore: JobStore {
    private struct Entry {
        var record: JobRecord
        var leaseOwner: String?
        var leaseUntil = ContinuousClock.now
        var expires: ContinuousClock.Instant
    }

    private let jobs = Locked<[String: Entry]>([:])

    /// An empty store.
    public init() {}

    /// `process`.
    public var storage: String { "process" }

    /// See `JobStore.create`.
    public func create(_ record: JobRecord, maxActive: Int, maxKept: Int, keepFor: Duration) async throws(GatewayError) -> Bool {
        jobs.withLock { jobs in
            Self.prune(&jobs)
            let owned = jobs.values.map(\.record).filter { $0.owner == record.owner }
            let active = owned.filter { !$0.state.isFinal }.count
            guard active < maxActive else { return false }
            let ended = owned.filter(\.state.isFinal).sorted { ($0.createdAtMs, $0.id) < ($1.createdAtMs, $1.id) }
            for old in ended.prefix(max(0, owned.count + 1 - maxKept)) { jobs[old.id] = nil }
            jobs[record.id] = Entry(record: record, expires: .now + keepFor)
            return true
        }
    }

    /// See `JobStore.get`.
    public func get(_ id: String) async throws(GatewayError) -> JobRecord? {
        jobs.withLock { jobs in
            Self.prune(&jobs)
            return jobs[id]?.record
        }
    }

    /// See `JobStore.list`.
    public func list(owner: String) async throws(GatewayError) -> [JobRecord] {
        jobs.withLock { jobs in
            Self.prune(&jobs)
            return jobs.values.map(\.record).filter { $0.owner == owner }.sorted { ($0.createdAtMs, $0.id) > ($1.createdAtMs, $1.id) }
                .map { record in
                    var summary = record
                    summary.result = nil
                    return summary
                }
        }
    }

    /// See `JobStore.cancel`.
    public func cancel(_ id: String, owner: String, keepFor: Duration) async throws(GatewayError) -> (job: JobRecord, cancelled: Bool)? {
        jobs.withLock { jobs in
            Self.prune(&jobs)
            guard var entry = jobs[id], entry.record.owner == owner else { return nil }
            guard !entry.record.state.isFinal else { return (entry.record, false) }
            entry.record.state = .cancelled
            entry.record.finishedAtMs = JobRecord.nowMs()
            entry.expires = .now + keepFor
            jobs[id] = entry
            return (entry.record, true)
        }
    }

    /// See `JobStore.claim`.
    public func claim(replica: String, lease: Duration) async throws(GatewayError) -> JobRecord? {
        jobs.withLock { jobs in
            let now = ContinuousClock.now
            let claimable = jobs.values.filter {
                $0.record.state == .queued || ($0.record.state == .running && $0.leaseUntil <= now)
            }
            guard let oldest = claimable.min(by: { ($0.record.createdAtMs, $0.record.id) < ($1.record.createdAtMs, $1.record.id) }) else {
                return nil
            }
            var entry = oldest
            entry.record.state = .running
            entry.leaseOwner = replica
            entry.leaseUntil = now + lease
            jobs[entry.record.id] = entry
            return entry.record
        }
    }

    /// See `JobStore.renew`.
    public func renew(_ id: String, replica: String, lease: Duration, callsDone: Int) async throws(GatewayError) -> JobState? {
        jobs.withLock { jobs in
            guard var entry = jobs[id], entry.leaseOwner == replica else { return nil }
            entry.leaseUntil = .now + lease
            entry.record.callsDone = max(entry.record.callsDone, callsDone)
            jobs[id] = entry
            return entry.record.state
        }
    }

    /// See `JobStore.finish`.
    public func finish(_ record: JobRecord, replica: String, keepFor: Duration) async throws(GatewayError) {
        jobs.withLock { jobs in
            guard var entry = jobs[record.id], entry.leaseOwner == replica, !entry.record.state.isFinal else { return }
            entry.record = record
            entry.leaseOwner = nil
            entry.expires = .now + keepFor
            jobs[record.id] = entry
        }
    }

    /// See `JobStore.release`.
    public func release(_ id: String, replica: String, callsDone: Int) async {
        jobs.withLock { jobs in
            guard var entry = jobs[id], entry.leaseOwner == replica else { return }
            entry.leaseUntil = .now
            entry.record.callsDone = max(entry.record.callsDone, callsDone)
            jobs[id] = entry
        }
    }

    /// Forgets jobs past their time.
    private static func prune(_ jobs: inout [String: Entry]) {
        let now = ContinuousClock.now
        jobs = jobs.filter { $0.value.expires > now }
    }
}
