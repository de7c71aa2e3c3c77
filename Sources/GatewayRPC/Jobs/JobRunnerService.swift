import DynamicJSON
import GatewayConfig
import GatewayCore
import LockedState
import Logging
import ServiceLifecycle

/// Runs queued jobs on this replica, `jobs.concurrency` at once: claims the oldest job queued (or
/// left by a replica whose lease expired), runs its method as background work under the
/// configuration in effect, renews its lease every third of `jobs.lease_ms`, stops when it is
/// cancelled or its lease is lost, and stores its result or error. At a graceful stop the jobs
/// running here give up their leases, so another replica resumes them at once (from the cache).
struct JobRunnerService: Service {
    let jobs: Jobs
    let live: LiveConfiguration
    let logger: Logger

    /// How often the runner looks for queued jobs when not woken by a submit here.
    private static let pollInterval: Duration = .milliseconds(500)
    /// How long at most a run that ends waits for its calls still in flight (shared calls cut off) before it records its progress.
    private static let settling: Duration = .seconds(2)

    func run() async throws {
        // Stopped by a graceful shutdown as by cancellation; either way it returns, not throws, so the other services stop gracefully.
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                let running = Locked(0)
                let claimFailures = ClaimFailures()
                while !Task.isCancelled {
                    let concurrency = live.handlers.configuration.jobs.concurrency
                    let lease = Duration.milliseconds(live.handlers.configuration.jobs.leaseMs)
                    while running.withLock({ $0 }) < concurrency, !Task.isCancelled {
                        // A token of this claim: a lapsed lease this replica takes back stops its older run.
                        let holder = jobs.replica + ":" + JobRecord.newID().prefix(8)
                        let claimed: JobRecord?
                        do {
                            claimed = try await jobs.store.claim(replica: holder, lease: lease)
                        } catch {
                            claimed = nil
                            claimFailures.note(error, logger: logger)
                        }
                        guard let record = claimed else { break }
                        running.withLock { $0 += 1 }
                        group.addTask {
                            await jobs.runningLocally(record.id) { await run(record, holder: holder) }
                            running.withLock { $0 -= 1 }
                            jobs.wake()
                        }
                    }
                    var waited = Duration.zero
                    while waited < Self.pollInterval, !jobs.takeWakeUp(), !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(50))
                        waited += .milliseconds(50)
                    }
                }
            }
        }
    }

    /// What running a job under its lease came to.
    private enum Outcome: Sendable {
        /// The method answered.
        case answered(JSONDocument)
        /// The job was cancelled, or another replica holds it now: nothing to store.
        case stopped
    }

    /// Runs one job claimed as `holder` to its end here (or until it is stopped, or this replica stops).
    private func run(_ record: JobRecord, holder: String) async {
        jobs.metrics.job(.running)
        let handlers = live.handlers
        let settings = handlers.configuration.jobs
        let callsMade = CallCounter(record.callsDone)
        let lease = Duration.milliseconds(settings.leaseMs)
        /// The calls counted once those in flight have settled: waited for outside any cancellation,
        /// and within the third of the lease that the last renewal left.
        func settledCalls() async -> Int {
            await Task { await callsMade.settled(within: min(Self.settling, lease / 3)) }.value
        }
        var ended = record
        await jobs.metrics.running {
            do {
                guard JobMethods.runnable.contains(record.method), let method = handlers.registry.method(named: record.method) else {
                    throw GatewayError.methodNotFound(record.method)
                }
                // The caller as configured now: one removed, or no longer allowed the method, cannot run it.
                guard let caller = handlers.callers[record.owner] else { throw GatewayError.unauthenticated }
                guard caller.mayCall(method: record.method) else { throw GatewayError.forbiddenMethod(record.method) }
                let message = try method.request.decode(json: try JSON.parse(Array(record.request.utf8)), dialect: .jsonRPC)
                let leftMs = record.createdAtMs + Int64(settings.maxRunSeconds) * 1_000 - JobRecord.nowMs()
                var context = CallContext(
                    backgroundFor: caller, requestID: "job-" + record.id.prefix(16), logger: logger,
                    allowance: CallAllowance(limit: settings.maxCalls), deadline: .now + .milliseconds(max(0, leftMs)))
                context.callsMade = callsMade
                let jobContext = context
                switch try await whileLeased(record.id, holder: holder, lease: lease, callsMade: callsMade, { try await method.handler(message, jobContext) }) {
                case .stopped:
                    return
                case .answered(let document):
                    let bytes = document.encodedBytes()
                    guard bytes.count <= settings.maxResultBytes else {
                        throw GatewayError.resultTooLarge(bytes: bytes.count, limit: settings.maxResultBytes)
                    }
                    ended.state = .done
                    ended.result = bytes
                }
            } catch where error is CancellationError || Task.isCancelled {
                // This replica stops (whatever the method made of its cancellation): another one resumes the job from the cache.
                // Outside this cancelled task, so that the store is still asked (once the calls cut off have settled).
                let done = await settledCalls()
                await Task { [jobs] in await jobs.store.release(record.id, replica: holder, callsDone: done) }.value
                return
            } catch {
                ended.state = .failed
                ended.error = JobAnswer.errorJSON(GatewayError.answering(error, logger: logger, site: "job \(record.method)"))
            }
            ended.callsDone = await settledCalls()
            // Done: the calls it took are its total (the estimate may have missed listing pages, or cached ones).
            if ended.state == .done { ended.callsTotal = ended.callsDone }
            ended.finishedAtMs = JobRecord.nowMs()
            do {
                try await jobs.store.finish(ended, replica: holder, keepFor: .seconds(settings.resultTTLSeconds))
                jobs.metrics.job(ended.state)
            } catch {
                logger.error("a finished job could not be stored; its lease will expire and another run will redo it", metadata: ["job": "\(record.id.prefix(8))"])
            }
        }
        jobs.metrics.jobCalls(callsMade.value - record.callsDone)
    }

    /// Runs `work` while renewing the job's lease (held as `holder`) every third of `lease`;
    /// `.stopped` (and `work` cancelled) once the job is cancelled (here: at once) or the lease is
    /// another run's.
    private func whileLeased(
        _ id: String, holder: String, lease: Duration, callsMade: CallCounter, _ work: @escaping @Sendable () async throws -> JSONDocument
    ) async throws -> Outcome {
        try await withThrowingTaskGroup(of: Outcome.self) { group in
            group.addTask {
                // Bound before it is wrapped: Swift 6.3.1 -O miscompiles an await inside an enum payload (Tests/ToolchainRepro).
                let answer = try await work()
                return .answered(answer)
            }
            group.addTask {
                var renewed = ContinuousClock.now
                while true {
                    try await Task.sleep(for: .milliseconds(100))
                    if jobs.isStoppedLocally(id) { return .stopped }
                    guard ContinuousClock.now - renewed >= lease / 3 else { continue }
                    renewed = .now
                    do {
                        let state = try await jobs.store.renew(id, replica: holder, lease: lease, callsDone: callsMade.value)
                        if state == nil { logger.warning("a job's lease was lost: another run holds it, or the store lost it", metadata: ["job": "\(id.prefix(8))"]) }
                        if state != .running { return .stopped }
                    } catch {
                        // The store is away: keep running; the result is stored only if the lease is still ours.
                    }
                }
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { return .stopped }
            return first
        }
    }
}

/// Logs failures to claim jobs (the store is away or damaged) at most once a minute, so that a
/// runner that cannot claim is visible without flooding the log.
private final class ClaimFailures: Sendable {
    private let lastLogged = Locked<ContinuousClock.Instant?>(nil)

    func note(_ error: any Error, logger: Logger) {
        let due = lastLogged.withLock { last -> Bool in
            guard last.map({ ContinuousClock.now - $0 >= .seconds(60) }) ?? true else { return false }
            last = .now
            return true
        }
        if due { logger.error("jobs cannot be claimed: the job store fails", metadata: ["error": "\(error)"]) }
    }
}
