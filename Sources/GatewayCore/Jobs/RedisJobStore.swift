import NIOCore
import RedisClient

/// Jobs kept in Redis, for every replica (`storage: redis`): any replica answers for them, and one
/// whose runner stopped leaves a lease that expires, after which another claims the job.
///
/// Keys (under `prefix` + `jobs:{jobs}:`, one Redis Cluster slot): `job:<id>` (hash: the record,
/// `lease_owner` and `lease_until`, Redis' clock in ms; expires `keepFor` after it ended),
/// `active` (sorted set: ids of jobs queued or running → creation time) and `owner:<caller>`
/// (sorted set: the caller's job ids → creation time; ids whose hash expired are pruned when read).
/// A Redis failure answers -32051 (`GatewayError.storeUnavailable`).
public final class RedisJobStore: JobStore {
    private let redis: RedisClient
    private let base: String
    private let createScript = RedisScript(RedisJobScripts.create)
    private let claimScript = RedisScript(RedisJobScripts.claim)
    private let renewScript = RedisScript(RedisJobScripts.renew)
    private let finishScript = RedisScript(RedisJobScripts.finish)
    private let cancelScript = RedisScript(RedisJobScripts.cancel)
    private let releaseScript = RedisScript(RedisJobScripts.release)
    private let listScript = RedisScript(RedisJobScripts.list)

    /// Jobs in `redis` under `keyPrefix`.
    public init(redis: RedisClient, keyPrefix: String) {
        self.redis = redis
        base = keyPrefix + "jobs:{jobs}:"
    }

    /// `redis`.
    public var storage: String { "redis" }

    private func jobKey(_ id: String) -> String { base + "job:" + id }
    private var activeKey: String { base + "active" }
    private func ownerKey(_ owner: String) -> String { base + "owner:" + owner }

    /// See `JobStore.create`.
    public func create(_ record: JobRecord, maxActive: Int, maxKept: Int, keepFor: Duration) async throws(GatewayError) -> Bool {
        let reply = try await run(
            createScript, keys: [jobKey(record.id), activeKey, ownerKey(record.owner)],
            arguments: [.string(record.id), .int(maxActive), .int(keepFor.wholeMilliseconds), .int(record.createdAtMs), .int(maxKept)]
                + Self.fields(of: record))
        return reply.integer == 1
    }

    /// See `JobStore.get`: a key damaged by a stray write (not a hash) is no job.
    public func get(_ id: String) async throws(GatewayError) -> JobRecord? {
        do {
            return Self.record(id: id, try await redis.command(["HGETALL", .string(jobKey(id))]))
        } catch .server(let message) where message.hasPrefix("WRONGTYPE") {
            return nil
        } catch {
            throw .storeUnavailable
        }
    }

    /// See `JobStore.list`.
    public func list(owner: String) async throws(GatewayError) -> [JobRecord] {
        let reply = try await run(listScript, keys: [ownerKey(owner)], arguments: [.string(base + "job:")])
        let entries = reply.array ?? []
        return stride(from: 0, to: entries.count - 1, by: 2).compactMap { index in
            entries[index].string.flatMap { Self.record(id: $0, entries[index + 1]) }
        }
    }

    /// See `JobStore.cancel`.
    public func cancel(_ id: String, owner: String, keepFor: Duration) async throws(GatewayError) -> (job: JobRecord, cancelled: Bool)? {
        let changed = try await run(
            cancelScript, keys: [jobKey(id), activeKey],
            arguments: [.string(owner), .int(JobRecord.nowMs()), .int(keepFor.wholeMilliseconds), .string(id)])
        guard let record = try await get(id), record.owner == owner else { return nil }
        return (record, changed.integer == 1)
    }

    /// See `JobStore.claim`.
    public func claim(replica: String, lease: Duration) async throws(GatewayError) -> JobRecord? {
        let reply = try await run(claimScript, keys: [activeKey], arguments: [.string(replica), .int(lease.wholeMilliseconds), .string(base + "job:")])
        guard let values = reply.array, values.count == 2, let id = values[0].string else { return nil }
        return Self.record(id: id, values[1])
    }

    /// See `JobStore.renew`.
    public func renew(_ id: String, replica: String, lease: Duration, callsDone: Int) async throws(GatewayError) -> JobState? {
        let reply = try await run(renewScript, keys: [jobKey(id)], arguments: [.string(replica), .int(lease.wholeMilliseconds), .int(callsDone)])
        return reply.string.flatMap(JobState.init(rawValue:))
    }

    /// See `JobStore.finish`.
    public func finish(_ record: JobRecord, replica: String, keepFor: Duration) async throws(GatewayError) {
        _ = try await run(
            finishScript, keys: [jobKey(record.id), activeKey],
            arguments: [.string(replica), .int(keepFor.wholeMilliseconds), .string(record.id)] + Self.fields(of: record))
    }

    /// See `JobStore.release`.
    public func release(_ id: String, replica: String, callsDone: Int) async {
        _ = try? await run(releaseScript, keys: [jobKey(id)], arguments: [.string(replica), .int(callsDone)])
    }

    // MARK: Encoding

    /// The record's fields as hash field/value pairs (the result as bytes).
    private static func fields(of record: JobRecord) -> [RESPArgument] {
        var pairs: [RESPArgument] = [
            "owner", .string(record.owner), "method", .string(record.method), "request", .string(record.request),
            "submitted", .string(record.submitted), "state", .string(record.state.rawValue), "calls_done", .int(record.callsDone),
            "calls_total", .int(record.callsTotal), "created_at", .int(record.createdAtMs),
        ]
        if let finished = record.finishedAtMs { pairs += ["finished_at", .int(finished)] }
        if let result = record.result { pairs += ["result", .bytes(ByteBuffer(bytes: result))] }
        if let error = record.error { pairs += ["error", .string(error)] }
        return pairs
    }

    /// A record from a hash's field/value array; nil when missing or damaged.
    private static func record(id: String, _ value: RESPValue) -> JobRecord? {
        guard let array = value.array, !array.isEmpty else { return nil }
        var fields: [String: RESPValue] = [:]
        for index in stride(from: 0, to: array.count - 1, by: 2) {
            if let name = array[index].string { fields[name] = array[index + 1] }
        }
        guard let owner = fields["owner"]?.string, let method = fields["method"]?.string, let request = fields["request"]?.string,
            let submitted = fields["submitted"]?.string, let state = fields["state"]?.string.flatMap(JobState.init(rawValue:)),
            let created = fields["created_at"]?.string.flatMap({ Int64($0) })
        else { return nil }
        var record = JobRecord(
            id: id, owner: owner, method: method, request: request, submitted: submitted,
            callsTotal: fields["calls_total"]?.string.flatMap({ Int($0) }) ?? 0, createdAtMs: created)
        record.state = state
        record.callsDone = fields["calls_done"]?.string.flatMap({ Int($0) }) ?? 0
        record.finishedAtMs = fields["finished_at"]?.string.flatMap({ Int64($0) })
        record.result = fields["result"]?.bytes.map { Array($0.readableBytesView) }
        record.error = fields["error"]?.string
        return record
    }

    // MARK: Talking to Redis

    private func run(_ script: RedisScript, keys: [String], arguments: [RESPArgument]) async throws(GatewayError) -> RESPValue {
        do {
            return try await script.run(on: redis, keys: keys, arguments: arguments)
        } catch {
            throw .storeUnavailable
        }
    }
}

/// The Lua scripts of `RedisJobStore`; times are Redis' (`TIME`) in milliseconds, except the
/// creation and end times, which are the replicas' wall clocks.
enum RedisJobScripts {
    private static let now = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        -- A key of the wrong type (a stray write) is deleted, not left to fail every script.
        local function members(key)
          local ids = redis.pcall('ZRANGE', key, 0, -1)
          if type(ids) == 'table' and ids['err'] then
            redis.call('DEL', key)
            return {}
          end
          return ids
        end
        -- A job's state, nil when its hash is missing or damaged (then deleted).
        local function stateOf(key)
          local state = redis.pcall('HGET', key, 'state')
          if type(state) == 'table' and state['err'] then
            redis.call('DEL', key)
            return nil
          end
          return state or nil
        end

        """

    /// KEYS: job, active, owner. ARGV: id, max active, keep ms, created ms, max kept, field/value
    /// pairs. 1 when created, 0 at the limit; the owner's oldest ended jobs past `max kept` are dropped.
    static let create =
        now + """
            local active, ended = 0, {}
            local ids = members(KEYS[3])
            members(KEYS[2])
            local prefix = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1])
            for i = 1, #ids do
              local state = stateOf(prefix .. ids[i])
              if not state then
                redis.call('ZREM', KEYS[3], ids[i])
              elseif state == 'queued' or state == 'running' then
                active = active + 1
              else
                ended[#ended + 1] = ids[i]
              end
            end
            if active >= tonumber(ARGV[2]) then return 0 end
            for i = 1, active + #ended + 1 - tonumber(ARGV[5]) do
              if ended[i] then
                redis.call('DEL', prefix .. ended[i])
                redis.call('ZREM', KEYS[3], ended[i])
              end
            end
            redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
            redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
            redis.call('HSET', KEYS[1], unpack(ARGV, 6))
            redis.call('PEXPIRE', KEYS[1], ARGV[3])
            return 1
            """

    /// KEYS: active. ARGV: replica, lease ms, job key prefix. The oldest job queued or under an
    /// expired lease, claimed: `{id, fields}`; ids of ended or expired jobs leave `active`.
    static let claim =
        now + """
            local ids = members(KEYS[1])
            for i = 1, #ids do
              local key = ARGV[3] .. ids[i]
              local state = stateOf(key)
              if not state or (state ~= 'queued' and state ~= 'running') then
                redis.call('ZREM', KEYS[1], ids[i])
              else
                local leaseUntil = tonumber(redis.call('HGET', key, 'lease_until') or '0') or 0
                if state == 'queued' or leaseUntil <= now then
                  redis.call('HSET', key, 'state', 'running', 'lease_owner', ARGV[1], 'lease_until', now + tonumber(ARGV[2]))
                  return {ids[i], redis.call('HGETALL', key)}
                end
              end
            end
            return false
            """

    /// KEYS: job. ARGV: replica, lease ms, calls done. The state, or false when the lease is not the replica's.
    static let renew =
        now + """
            if not stateOf(KEYS[1]) then return false end
            if redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[1] then return false end
            local state = redis.call('HGET', KEYS[1], 'state')
            if state == 'running' then redis.call('HSET', KEYS[1], 'lease_until', now + tonumber(ARGV[2])) end
            local done = tonumber(redis.call('HGET', KEYS[1], 'calls_done') or '0') or 0
            if tonumber(ARGV[3]) > done then redis.call('HSET', KEYS[1], 'calls_done', ARGV[3]) end
            return state
            """

    /// KEYS: job, active. ARGV: replica, keep ms, id, field/value pairs. Ends the job unless another
    /// replica holds it or it ended (a cancel came first).
    static let finish =
        now + """
            if stateOf(KEYS[1]) ~= 'running' then return 0 end
            if redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[1] then return 0 end
            redis.call('HSET', KEYS[1], unpack(ARGV, 4))
            redis.call('HDEL', KEYS[1], 'lease_owner', 'lease_until')
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            redis.call('ZREM', KEYS[2], ARGV[3])
            return 1
            """

    /// KEYS: job, active. ARGV: owner, now ms (wall clock), keep ms, id. Cancels the owner's job unless it ended.
    static let cancel =
        now + """
            local state = stateOf(KEYS[1])
            if not state or redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
            if state ~= 'queued' and state ~= 'running' then return 0 end
            redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished_at', ARGV[2])
            redis.call('PEXPIRE', KEYS[1], ARGV[3])
            redis.call('ZREM', KEYS[2], ARGV[4])
            return 1
            """

    /// KEYS: job. ARGV: replica, calls done. The replica's lease ends now.
    static let release =
        now + """
            if not stateOf(KEYS[1]) or redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[1] then return 0 end
            redis.call('HSET', KEYS[1], 'lease_until', 0)
            local done = tonumber(redis.call('HGET', KEYS[1], 'calls_done') or '0') or 0
            if tonumber(ARGV[2]) > done then redis.call('HSET', KEYS[1], 'calls_done', ARGV[2]) end
            return 1
            """

    /// KEYS: owner. ARGV: job key prefix. `{id, fields, …}` newest first, without results; expired ids pruned.
    static let list =
        now + """
            local ids = members(KEYS[1])
            local answer = {}
            for i = #ids, 1, -1 do
              local key = ARGV[1] .. ids[i]
              if not stateOf(key) then
                redis.call('ZREM', KEYS[1], ids[i])
              else
                local fields = redis.call('HGETALL', key)
                local kept = {}
                for j = 1, #fields, 2 do
                  if fields[j] ~= 'result' then
                    kept[#kept + 1] = fields[j]
                    kept[#kept + 1] = fields[j + 1]
                  end
                end
                answer[#answer + 1] = ids[i]
                answer[#answer + 1] = kept
              end
            end
            return answer
            """
}
