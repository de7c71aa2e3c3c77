/// The Lua scripts of the Redis budget: each runs atomically in Redis, on Redis' clock (`TIME`),
/// so every replica sees one schedule. Times are microseconds of the Redis server's clock.
///
/// Keys per account: `inflight` (sorted set: grant id → lease end), `done` (sorted set: grant id →
/// completion time), `pause` (string: no grant before this time). The rule is the in-process
/// one (`SlidingWindowSchedule`): a call counts from its grant until a full window after it
/// completed; a new grant is allowed when, for every limit, in-flight calls plus completions in
/// the last window are fewer than `calls`. An in-flight grant whose replica died counts as
/// completed when its lease ends (its call cannot outlive the upstream timeout).
enum RedisBudgetScripts {
    /// Shared by every script: `now`, expired leases moved to `done`, old completions trimmed.
    private static let prelude = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local horizon = tonumber(ARGV[1])
        local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES')
        for i = 1, #expired, 2 do
          redis.call('ZREM', KEYS[1], expired[i])
          redis.call('ZADD', KEYS[2], expired[i + 1], expired[i])
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - horizon))
        """

    /// KEYS: inflight, done, pause. ARGV: horizon µs (longest window), grant id, lease µs, then
    /// pairs of (calls, window µs). Returns `{1, now}` when granted, else `{0, wait µs}` (wait 0:
    /// in-flight calls fill a limit, look again shortly).
    static let grant =
        prelude + """

            local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
            if paused > now then return {0, paused - now} end
            local inflight = redis.call('ZCARD', KEYS[1])
            local earliest = now
            for i = 4, #ARGV, 2 do
              local calls = tonumber(ARGV[i])
              local window = tonumber(ARGV[i + 1])
              local room = calls - inflight
              if room <= 0 then return {0, 0} end
              local recent = redis.call('ZCOUNT', KEYS[2], '(' .. (now - window), '+inf')
              if recent >= room then
                local leaving = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. (now - window), '+inf', 'WITHSCORES', 'LIMIT', recent - room, 1)
                local free = tonumber(leaving[2]) + window
                if free > earliest then earliest = free end
              end
            end
            if earliest > now then return {0, earliest - now} end
            redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
            redis.call('PEXPIRE', KEYS[1], math.ceil((horizon + tonumber(ARGV[3])) / 1000))
            redis.call('PEXPIRE', KEYS[2], math.ceil((horizon + tonumber(ARGV[3])) / 1000))
            return {1, now}
            """

    /// KEYS: inflight, done. ARGV: horizon µs, grant id, age µs (0: completed now). The call
    /// counts as completed `age` ago (never earlier than a completion already recorded for it).
    static let complete =
        prelude + """

            local at = now - tonumber(ARGV[3])
            redis.call('ZREM', KEYS[1], ARGV[2])
            local known = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[2]) or '0')
            if known < at then redis.call('ZADD', KEYS[2], at, ARGV[2]) end
            redis.call('PEXPIRE', KEYS[2], math.ceil(horizon / 1000) + 1)
            return now
            """

    /// KEYS: inflight, done, pause. ARGV: horizon µs, pause µs from now. Keeps the later pause.
    static let pause =
        prelude + """

            local untilTime = now + tonumber(ARGV[2])
            local current = tonumber(redis.call('GET', KEYS[3]) or '0')
            if untilTime > current then
              redis.call('SET', KEYS[3], untilTime, 'PX', math.ceil(tonumber(ARGV[2]) / 1000) + 1)
            end
            return now
            """

    /// KEYS: inflight, done, pause. ARGV: horizon µs. Returns `{now, paused until, in flight,
    /// completion times…}` (completions within the horizon, oldest first), for projections.
    static let state =
        prelude + """

            local result = {now, tonumber(redis.call('GET', KEYS[3]) or '0'), redis.call('ZCARD', KEYS[1])}
            local done = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '+inf', 'WITHSCORES')
            for i = 2, #done, 2 do result[#result + 1] = tonumber(done[i]) end
            return result
            """
}
