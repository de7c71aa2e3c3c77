import DynamicJSON
import GatewayConfig
import GatewayCore
import GatewayProto
import SwiftProtobuf

/// The job methods (`JobService`): submit, get, cancel and list a caller's jobs, over the methods a job may run.
enum JobMethods {
    /// The methods a job may run, by JSON-RPC name.
    static let runnable = ["campaigns.getStats", "campaigns.list", "reports.getDaily"]

    /// The four job methods over `methods` (the synchronous ones, by name), for `configuration`.
    static func all(jobs: Jobs, methods: [String: RPCMethod], budget: any RateBudget, configuration: JobsConfiguration) -> [RPCMethod] {
        [
            submit(jobs: jobs, methods: methods, budget: budget, configuration: configuration), get(jobs: jobs), cancel(jobs: jobs, configuration: configuration),
            list(jobs: jobs),
        ]
    }

    /// -32602 for a job id that is malformed, unknown, expired or another caller's: one answer for all.
    private static let unknownJob = GatewayError.invalidParams(field: "job_id", reason: "no such job (unknown, expired, or not this caller's)")

    /// Whether `id` is shaped like a job id (32 lowercase hex digits): anything else is asked of no store.
    private static func isJobID(_ id: String) -> Bool {
        id.utf8.count == 32 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// The job `id` of `caller`, or `unknownJob`.
    private static func job(_ id: String, of caller: String, in store: any JobStore) async throws -> JobRecord {
        guard isJobID(id), let record = try await store.get(id), record.owner == caller else { throw unknownJob }
        return record
    }

    private static func submit(jobs: Jobs, methods: [String: RPCMethod], budget: any RateBudget, configuration: JobsConfiguration) -> RPCMethod {
        RPCMethod(
            name: "jobs.submit", rpcPath: "/gateway.v1.JobService/Submit", request: Gateway_V1_SubmitJobRequest.self,
            response: Gateway_V1_SubmitJobResponse.self, errorCodes: [-32602, -32003, -32013, -32015, -32051, -32050, -32004], isPublic: true,
            handler: { request, context in
                let methodName = request.hasMethod ? request.method : runnable[0]
                guard runnable.contains(methodName), let method = methods[methodName] else {
                    throw GatewayError.invalidParams(field: "method", reason: "must be one of \(runnable.joined(separator: ", "))")
                }
                guard context.caller.mayCall(method: methodName) else { throw GatewayError.forbiddenMethod(methodName) }
                var options = JSONEncodingOptions()
                options.preserveProtoFieldNames = true
                let encoded: [UInt8] = try request.jsonUTF8Bytes(options: options)
                var params = try JSON.parse(encoded).objectValue ?? [:]
                params["method"] = nil
                // The method's params but its own dry run and deadline (a job has neither).
                let taken = method.request.message.fields.map(\.name).filter { $0 != "dry_run" && $0 != "timeout_ms" }
                if let stray = params.keys.sorted().first(where: { !taken.contains($0) }) {
                    throw GatewayError.invalidParams(
                        field: stray, reason: "not a param of a \(methodName) job (allowed: method, \(taken.sorted().joined(separator: ", ")))")
                }
                // The method's own decoding and checks, on a dry run: the same errors as the synchronous call.
                var dryRun = params
                dryRun["dry_run"] = true
                let planMessage = try method.request.decode(json: .object(dryRun), dialect: .jsonRPC)
                let planContext = CallContext(
                    backgroundFor: context.caller, requestID: context.requestID, logger: context.baseLogger,
                    allowance: CallAllowance(limit: configuration.maxCalls), deadline: context.deadline)
                let plan = try JSON.parse(try await method.handler(planMessage, planContext).encodedBytes())
                let estimated = plan["plan"]?["estimated_calls"]?.intValue ?? 0
                let workspace = plan["workspace"]?.stringValue ?? ""
                var submitted = params
                submitted["method"] = .string(methodName)
                let record = JobRecord(
                    id: JobRecord.newID(), owner: context.caller.name, method: methodName,
                    request: String(decoding: JSON.object(params).encodedBytes(), as: UTF8.self),
                    submitted: String(decoding: JSON.object(submitted).encodedBytes(), as: UTF8.self), callsTotal: estimated,
                    createdAtMs: JobRecord.nowMs())
                let keepFor = Duration.seconds(configuration.maxRunSeconds + configuration.resultTTLSeconds)
                guard
                    try await jobs.store.create(
                        record, maxActive: configuration.maxQueuedPerCaller, maxKept: configuration.maxKeptPerCaller, keepFor: keepFor)
                else {
                    throw GatewayError.tooManyJobs(limit: configuration.maxQueuedPerCaller)
                }
                jobs.metrics.job(.queued)
                jobs.wake()
                let eta =
                    estimated > 0
                    ? await budget.projectedCompletion(workspace: workspace, calls: estimated, priority: .background, deadline: context.deadline)
                    : .now
                return .value([
                    "job_id": .string(record.id), "estimated_calls": .int(estimated), "cache_hits": .int(plan["plan"]?["cache_hits"]?.intValue ?? 0),
                    "eta_ms": .int(max(0, (eta - .now).wholeMilliseconds)),
                ])
            })
    }

    private static func get(jobs: Jobs) -> RPCMethod {
        RPCMethod(
            name: "jobs.get", rpcPath: "/gateway.v1.JobService/Get", request: Gateway_V1_GetJobRequest.self, response: Gateway_V1_Job.self,
            errorCodes: [-32602, -32051], isPublic: true,
            handler: { request, context in
                JobAnswer.document(try await job(request.jobID, of: context.caller.name, in: jobs.store), storage: jobs.store.storage)
            })
    }

    private static func cancel(jobs: Jobs, configuration: JobsConfiguration) -> RPCMethod {
        RPCMethod(
            name: "jobs.cancel", rpcPath: "/gateway.v1.JobService/Cancel", request: Gateway_V1_CancelJobRequest.self, response: Gateway_V1_Job.self,
            errorCodes: [-32602, -32016, -32051], isPublic: true,
            handler: { request, context in
                // The store's cancel checks the owner: another caller's job is unknown, as in `job`.
                guard isJobID(request.jobID),
                    let (record, cancelled) = try await jobs.store.cancel(
                        request.jobID, owner: context.caller.name, keepFor: .seconds(configuration.resultTTLSeconds))
                else { throw unknownJob }
                guard cancelled else { throw GatewayError.jobFinished(state: record.state.rawValue) }
                jobs.metrics.job(.cancelled)
                jobs.stopLocally(record.id)
                return JobAnswer.document(record, storage: jobs.store.storage)
            })
    }

    private static func list(jobs: Jobs) -> RPCMethod {
        RPCMethod(
            name: "jobs.list", rpcPath: "/gateway.v1.JobService/List", request: Gateway_V1_ListJobsRequest.self,
            response: Gateway_V1_ListJobsResponse.self, errorCodes: [-32051], isPublic: true,
            handler: { _, context in
                let records = try await jobs.store.list(owner: context.caller.name)
                return .object(["jobs": .array(records.map { JobAnswer.document($0, storage: jobs.store.storage, withResult: false) })])
            })
    }
}
