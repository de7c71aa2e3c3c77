/// The Lua scripts of the Redis budget: each runs atomically in Redis, on Redis' clock (`TIME`),
/// so every replica sees one schedule. Times are microseconds of the Redis server's clock.
///
/// Keys per account, none with a TTL (so that a `volatile-*` eviction policy never takes them):
/// `inflight` (sorted set: grant id → lease end), `done` (sorted set: grant id → completion
/// time), `pause` (string: no grant before this time) and `guard` (hash: `block`, no grant before
/// this time; `share`, until then each replica keeps to its share as well).
///
/// The rule is the in-process one (`SlidingWindowSchedule`): a call counts from its grant until a
/// full window after it completed; a new grant is allowed when, for every limit, in-flight calls
/// plus completions in the last window are fewer than `calls`. An in-flight grant whose replica
/// died counts as completed when its lease ends (its call cannot outlive the upstream timeout).
///
/// The guard covers what Redis cannot know. It carries a generation, made when the guard is.
/// A guard missing or damaged (a restart without persistence, `FLUSHALL`, an eviction, a stray
/// write) while this replica had seen one, a generation other than the one it saw, or a replica
/// that learnt the server was replaced (`mode` 1: a new `run_id`, e.g. a restart from an older
/// snapshot) means calls of the last window may be missing: no replica grants until every such
/// call has left its window (the longest window plus the longest call, `recovery`). A guard
/// missing for a replica that never saw one is a first start: it is made, and every replica
/// keeps to its share for `recovery` (a flush it cannot tell from a first start costs at most
/// what the others grant before their next look, once a second). A replica back from its
/// fallback share (`mode` 2) made calls Redis never saw, each within its share: every replica
/// keeps to its share for `recovery` too, so that the replicas together stay within each limit.
///
/// Common arguments: horizon µs (longest window), recovery µs, mode (0, 1 or 2), lease µs (the
/// longest call), the generation this replica saw (0: none), a new generation should one be
/// made. Every script answers `now, block, share, lost, generation` first (`lost` 1 when this
/// run found the state lost and blocked it).
enum RedisBudgetScripts {
    /// Shared by every script: damaged keys repaired (and the state then counted as lost), the
    /// guard read or set, impossible times clamped, expired leases moved to `done`, old
    /// completions trimmed.
    private static let prelude = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local horizon = tonumber(ARGV[1])
        local recovery = tonumber(ARGV[2])
        local mode = ARGV[3]
        local lease = tonumber(ARGV[4])
        local seen = tonumber(ARGV[5])
        local damaged = false
        -- A key of the wrong type (a stray write) is deleted, and the state counted as lost.
        local function checked(reply, key)
          if type(reply) == 'table' and reply['err'] then
            redis.call('DEL', key)
            damaged = true
            return nil
          end
          return reply
        end
        local fields = checked(redis.pcall('HMGET', KEYS[4], 'block', 'share', 'generation'), KEYS[4]) or {}
        local block = tonumber(fields[1])
        local share = tonumber(fields[2])
        local generation = tonumber(fields[3])
        local future = checked(redis.pcall('ZRANGEBYSCORE', KEYS[1], '(' .. (now + lease), '+inf'), KEYS[1]) or {}
        for i = 1, #future do redis.call('ZADD', KEYS[1], now + lease, future[i]) end
        future = checked(redis.pcall('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf'), KEYS[2]) or {}
        for i = 1, #future do redis.call('ZADD', KEYS[2], now, future[i]) end
        local paused = tonumber(checked(redis.pcall('GET', KEYS[3]), KEYS[3])) or 0
        local lost = 0
        if block == nil or share == nil or generation == nil then
          generation = tonumber(ARGV[6])
          if seen == 0 and not damaged then
            block = 0
            share = now + recovery
          else
            lost = 1
          end
        elseif seen ~= 0 and seen ~= generation then
          lost = 1
        end
        if damaged or mode == '1' then lost = 1 end
        local before = {block, share}
        if lost == 1 then
          block = math.max(block or 0, now + recovery)
          share = math.max(share or 0, block)
        end
        if mode == '2' then share = math.max(share, now + recovery) end
        if block > now + recovery then block = now + recovery end
        if share > now + recovery then share = now + recovery end
        if block ~= before[1] or share ~= before[2] or tonumber(fields[3]) ~= generation then
          redis.call('HSET', KEYS[4], 'block', block, 'share', share, 'generation', generation)
        end
        local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES')
        for i = 1, #expired, 2 do
          redis.call('ZREM', KEYS[1], expired[i])
          redis.call('ZADD', KEYS[2], expired[i + 1], expired[i])
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - horizon))
        if paused > now + 3600000000 then
          paused = now + 3600000000
          redis.call('SET', KEYS[3], paused)
        end
        local answer = {now, block, share, lost, generation}
        """

    /// ARGV after the common six: grant id, whether this replica's share allows a call now (1/0),
    /// then pairs of (calls, window µs). Answers `…, 1` when granted, else `…, 0, wait µs` (wait
    /// 0: in-flight calls fill a limit, look again shortly) or `…, 2, wait µs` (the replica must
    /// keep to its share, which allows no call now).
    static let grant =
        prelude + """

            local function answered(status, wait)
              answer[6] = status
              answer[7] = wait
              return answer
            end
            if block > now then return answered(0, block - now) end
            if share > now and ARGV[8] ~= '1' then return answered(2, 0) end
            if paused > now then return answered(0, paused - now) end
            local inflight = redis.call('ZCARD', KEYS[1])
            local earliest = now
            for i = 9, #ARGV, 2 do
              local calls = tonumber(ARGV[i])
              local window = tonumber(ARGV[i + 1])
              local room = calls - inflight
              if room <= 0 then return answered(0, 0) end
              local recent = redis.call('ZCOUNT', KEYS[2], '(' .. (now - window), '+inf')
              if recent >= room then
                local leaving = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. (now - window), '+inf', 'WITHSCORES', 'LIMIT', recent - room, 1)
                local free = tonumber(leaving[2]) + window
                if free > earliest then earliest = free end
              end
            end
            if earliest > now then return answered(0, earliest - now) end
            redis.call('ZADD', KEYS[1], now + lease, ARGV[7])
            return answered(1, 0)
            """

    /// ARGV after the common six: grant id. The call counts as completed now (never earlier than
    /// a completion already recorded for it).
    static let complete =
        prelude + """

            redis.call('ZREM', KEYS[1], ARGV[7])
            local known = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[7]) or '0')
            if known < now then redis.call('ZADD', KEYS[2], now, ARGV[7]) end
            return answer
            """

    /// ARGV after the common six: pause µs from now. Keeps the later pause.
    static let pause =
        prelude + """

            local untilTime = now + math.min(tonumber(ARGV[7]), 3600000000)
            if untilTime > paused then redis.call('SET', KEYS[3], untilTime) end
            return answer
            """

    /// Answers `…, paused until, in flight, completion times…` (completions within the horizon,
    /// oldest first), for projections.
    static let state =
        prelude + """

            answer[6] = paused
            answer[7] = redis.call('ZCARD', KEYS[1])
            local done = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '+inf', 'WITHSCORES')
            for i = 2, #done, 2 do answer[#answer + 1] = tonumber(done[i]) end
            return answer
            """
}
