/// The Lua scripts of the Redis budget: each runs atomically in Redis, on Redis' clock (`TIME`),
/// so every replica sees one schedule. Times are microseconds of the Redis server's clock.
///
/// Keys per account, none with a TTL (so that a `volatile-*` eviction policy never takes them):
/// `inflight` (sorted set: grant id → grant time), `done` (sorted set: grant id → completion
/// time), `replicas` (sorted set: replica id → when it last ran a script), `guard` (hash:
/// `block`, no grant before this time; `share`, until then each replica keeps to its share as
/// well; `unseen`, until then calls Redis never saw may be in a window; `orphans`, the same for
/// calls of a replica that went silent; `generation`), `pause` (string: no grant before this
/// time), `demand` (hash: replica id → `calls:time`, the calls it waits on or admitted, and
/// `i:`replica id → `calls:time`, how many of them are interactive, as it told them then; for
/// projections and for holding background grants back, so a damaged one is simply made again) and `background` (string: the
/// time of the last background grant, for their pacing; damaged: ignored). Each sorted set holds
/// a marker of the guard's generation at score 0, below every time. A background grant's id
/// begins with `b`.
///
/// The rule is the in-process one (`SlidingWindowSchedule`): a call counts from its grant until a
/// full window after it completed; a new grant is allowed when, for every limit, in-flight calls
/// plus completions in the last window are fewer than `calls`. An in-flight grant whose replica
/// died counts as completed when its lease ends (its call cannot outlive the upstream timeout).
///
/// The guard covers what Redis cannot know. A guard, a sorted set or its marker missing or
/// damaged (a restart without persistence, `FLUSHALL`, an eviction, a stray write, a value no
/// script writes) while this replica had seen a guard, a generation other than the one it saw,
/// or a replica that learnt the server was replaced (`mode` 1: a new `run_id`, e.g. a restart
/// from an older snapshot) means calls of the last window may be missing: no replica grants
/// until every such call has left its window (the longest window plus the longest call,
/// `recovery`). A guard missing for a replica that never saw one is a first start: it is made,
/// and every replica keeps to its share for `recovery` (a flush it cannot tell from a first
/// start costs at most what the others grant before their next look, once a second).
///
/// Calls Redis never saw: a replica back from its fallback share (`mode` 2) made some, each
/// within its share: `unseen` is set to `recovery` from now, and every replica keeps to its share
/// until then, so that the replicas together stay within each limit. A replica cut off from
/// Redis while the others reach it makes none during its fallback's block (`recovery` from its
/// first failure, after it was last heard), then may make some within its share, and stops when
/// its fallback has lasted `forget` less a `recovery`. Its silence (`silent`, shortly before that
/// block could end) keeps `orphans` at `recovery` from now until it is forgotten (`forget`
/// after it was last heard): every replica keeps to its share, and a replica too young to know
/// its own calls of that time (the silent one may be its previous process) grants nothing until
/// its own record covers them. A replica stopped gracefully removes its mark; one restarted
/// under the same id renews it.

/// Common arguments: horizon µs (longest window), recovery µs, mode (0, 1 or 2), lease µs (the
/// longest call), the generation this replica saw (0: none), a new generation should one be
/// made, this replica's id, `silent` µs, `forget` µs. Every script answers
/// `now, block, share, lost, generation, unseen, orphans` first (`lost` 1 when this run found the state
/// lost and blocked it).
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
        local silent = tonumber(ARGV[8])
        local forget = tonumber(ARGV[9])
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
        -- An exclusive lower bound of a score range, every digit kept (`..` would round to 14).
        local function after(x) return '(' .. string.format('%.0f', x) end
        -- A time this script could have written: finite, not negative, not past `limit`; else nil.
        local function time(value, limit)
          if value == nil or value ~= value or value < 0 or value > limit then return nil end
          return value
        end
        local fields = checked(redis.pcall('HMGET', KEYS[4], 'block', 'share', 'generation', 'unseen', 'orphans'), KEYS[4]) or {}
        -- Up to a minute past `recovery` is a clock stepped back, clamped below; further is damage.
        local latest = now + recovery + 60000000
        local block = time(tonumber(fields[1]), latest)
        local share = time(tonumber(fields[2]), latest)
        local generation = time(tonumber(fields[3]), 2 ^ 53)
        local unseen = time(tonumber(fields[4]), latest)
        local orphans = time(tonumber(fields[5]), latest)
        if generation ~= nil and (generation < 1 or generation ~= math.floor(generation)) then generation = nil end
        if (fields[1] or fields[2] or fields[3] or fields[4] or fields[5]) and not (block and share and generation and unseen and orphans) then
          redis.call('DEL', KEYS[4])
          damaged = true
          block, share, generation, unseen, orphans = nil, nil, nil, nil, nil
        end
        -- Each time set holds a marker of the guard's generation (score 0, below every time):
        -- a set missing it was lost (deleted, evicted) with the calls it held.
        for k = 1, 3 do
          local future = checked(redis.pcall('ZRANGEBYSCORE', KEYS[k], after(now), '+inf'), KEYS[k]) or {}
          for i = 1, #future do redis.call('ZADD', KEYS[k], now, future[i]) end
          if generation and not redis.call('ZSCORE', KEYS[k], 'g:' .. string.format('%.0f', generation)) then damaged = true end
        end
        local paused = checked(redis.pcall('GET', KEYS[5]), KEYS[5])
        if paused and not time(tonumber(paused), now + 3600000000) then
          redis.call('DEL', KEYS[5])
          paused = nil
        end
        paused = tonumber(paused) or 0
        local lost = 0
        local made = generation == nil
        if made then
          generation = tonumber(ARGV[6])
          if seen == 0 and not damaged then
            block, share, unseen, orphans = 0, now + recovery, 0, 0
          else
            lost = 1
          end
        elseif seen ~= 0 and seen ~= generation then
          lost = 1
        end
        if damaged or mode == '1' then lost = 1 end
        if block then
          block, share = math.min(block, now + recovery), math.min(share, now + recovery)
          unseen, orphans = math.min(unseen, now + recovery), math.min(orphans, now + recovery)
        end
        local before = {block, share, unseen, orphans}
        if lost == 1 then
          block = math.max(block or 0, now + recovery)
          share = math.max(share or 0, block)
          unseen = unseen or 0
          orphans = orphans or 0
        end
        -- Replicas run a script at least once a second: one silent for `silent` (shortly before its
        -- fallback's block would end) may be cut off from Redis and calling on its share, unseen,
        -- until it is forgotten. Looked at before this replica's own mark is renewed: a process
        -- restarted under the same id sees what its previous one may have done.
        redis.call('ZREMRANGEBYSCORE', KEYS[3], '(0', after(now - forget))
        if redis.call('ZCOUNT', KEYS[3], '(0', after(now - silent)) > 0 then orphans = now + recovery end
        if mode == '2' then unseen = math.max(unseen, now + recovery) end
        redis.call('ZADD', KEYS[3], now, ARGV[7])
        if made or lost == 1 then
          for k = 1, 3 do
            redis.call('ZREMRANGEBYSCORE', KEYS[k], 0, 0)
            redis.call('ZADD', KEYS[k], 0, 'g:' .. string.format('%.0f', generation))
          end
        end
        if made or block ~= before[1] or share ~= before[2] or unseen ~= before[3] or orphans ~= before[4] then
          redis.call('HSET', KEYS[4], 'block', block, 'share', share, 'generation', generation, 'unseen', unseen, 'orphans', orphans)
        end
        local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '(0', now - lease, 'WITHSCORES')
        for i = 1, #expired, 2 do
          redis.call('ZREM', KEYS[1], expired[i])
          redis.call('ZADD', KEYS[2], expired[i + 1] + lease, expired[i])
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '(0', after(now - horizon))
        local answer = {now, block, share, lost, generation, unseen, orphans}
        -- Calls a replica waits on or has admitted: `demand` holds `count:time` under its id, and the
        -- interactive part of them as `count:time` under `i:` and its id (a replica of an earlier
        -- version reads that as another replica's demand: it overcounts, never undercounts).
        local function tell(demand, interactive)
          if demand == nil or demand ~= demand then return end
          if interactive == nil or interactive ~= interactive then interactive = demand end
          local function told(x) return string.format('%.0f', math.max(0, math.min(x, 1000000))) .. ':' .. string.format('%.0f', now) end
          local written = redis.pcall('HSET', KEYS[6], ARGV[7], told(demand), 'i:' .. ARGV[7], told(interactive))
          if type(written) == 'table' and written['err'] then
            redis.call('DEL', KEYS[6])
            redis.call('HSET', KEYS[6], ARGV[7], told(demand), 'i:' .. ARGV[7], told(interactive))
          end
        end
        -- The other replicas' demand, all of it and its interactive part (all of it for a replica
        -- that does not tell that part), as each told it within the last 2 s (those still asking do,
        -- at least twice a second); older or unreadable entries are removed, a damaged key deleted.
        local function othersDemand()
          local entries = redis.pcall('HGETALL', KEYS[6])
          if type(entries) == 'table' and entries['err'] then
            redis.call('DEL', KEYS[6])
            return 0, 0
          end
          local total, parts, interactiveTold = 0, {}, {}
          for i = 1, #entries, 2 do
            local count, at = string.match(entries[i + 1], '^(%d+):(%d+)$')
            count, at = tonumber(count), tonumber(at)
            local replica = string.match(entries[i], '^i:(.*)$')
            if count == nil or at == nil or at < now - 2000000 then
              redis.call('HDEL', KEYS[6], entries[i])
            elseif replica then
              if replica ~= ARGV[7] and at <= now then interactiveTold[replica] = math.min(count, 1000000) end
            elseif entries[i] ~= ARGV[7] and at <= now then
              total = total + math.min(count, 1000000)
              parts[entries[i]] = math.min(count, 1000000)
            end
          end
          local interactiveTotal = 0
          for replica, count in pairs(parts) do interactiveTotal = interactiveTotal + (interactiveTold[replica] or count) end
          return total, interactiveTotal
        end
        """

    /// ARGV after the common nine: grant id (`b…` for background work), whether this replica's
    /// share allows a call now (1/0), this replica's demand after this call and its interactive
    /// part (see `state`; told with this call until it is granted), the share of grants reserved for background work (millionths), the
    /// background pacing µs, then pairs of (calls, window µs). Answers `…, 1` when granted, else
    /// `…, 0, wait µs` (wait 0: in-flight calls fill a limit, look again shortly) or `…, 2, wait µs`
    /// (the replica must keep to its share, which allows no call now). A background grant waits
    /// for its pacing; while another replica has interactive calls waiting, it is made only when
    /// background work had less than its reserved share of the grants within the horizon.
    static let grant =
        prelude + """

            local function answered(status, wait)
              answer[8] = status
              answer[9] = wait
              return answer
            end
            local background = string.sub(ARGV[10], 1, 1) == 'b'
            -- Until it is granted, the call asked for is part of the demand told (an interactive call
            -- left out while it waits would let other replicas' background work take its slots).
            local demandAfter, interactiveAfter = tonumber(ARGV[12]), tonumber(ARGV[13])
            if demandAfter ~= nil and interactiveAfter ~= nil then
              tell(demandAfter + 1, interactiveAfter + (background and 0 or 1))
            end
            if block > now then return answered(0, block - now) end
            if math.max(share, unseen, orphans) > now and ARGV[11] ~= '1' then return answered(2, 0) end
            if paused > now then return answered(0, paused - now) end
            if background then
              local _, othersInteractive = othersDemand()
              if othersInteractive > 0 then
                if tonumber(ARGV[14]) <= 0 then return answered(0, 50000) end
                -- Only its reserved share of the grants within the horizon, however they bunch.
                local made, backgroundMade = 0, 0
                for k = 1, 2 do
                  local from = k == 1 and '(0' or after(now - horizon)
                  local ids = redis.call('ZRANGEBYSCORE', KEYS[k], from, '+inf')
                  for i = 1, #ids do
                    made = made + 1
                    if string.sub(ids[i], 1, 1) == 'b' then backgroundMade = backgroundMade + 1 end
                  end
                end
                if backgroundMade * 1000000 >= tonumber(ARGV[14]) * (made + 1) then return answered(0, 50000) end
              else
                local last = redis.pcall('GET', KEYS[7])
                last = type(last) == 'string' and time(tonumber(last), now) or 0
                local due = last + tonumber(ARGV[15])
                if due > now then return answered(0, due - now) end
              end
            end
            local inflight = redis.call('ZCOUNT', KEYS[1], '(0', '+inf')
            local earliest = now
            for i = 16, #ARGV, 2 do
              local calls = tonumber(ARGV[i])
              local window = tonumber(ARGV[i + 1])
              local room = calls - inflight
              if room <= 0 then return answered(0, 0) end
              local recent = redis.call('ZCOUNT', KEYS[2], after(now - window), '+inf')
              if recent >= room then
                local leaving = redis.call('ZRANGEBYSCORE', KEYS[2], after(now - window), '+inf', 'WITHSCORES', 'LIMIT', recent - room, 1)
                local free = tonumber(leaving[2]) + window
                if free > earliest then earliest = free end
              end
            end
            if earliest > now then return answered(0, earliest - now) end
            redis.call('ZADD', KEYS[1], now, ARGV[10])
            if background then redis.call('SET', KEYS[7], string.format('%.0f', now)) end
            tell(demandAfter, interactiveAfter)
            return answered(1, 0)
            """

    /// ARGV after the common nine: grant id. The call counts as completed now (never earlier than
    /// a completion already recorded for it).
    static let complete =
        prelude + """

            redis.call('ZREM', KEYS[1], ARGV[10])
            local known = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[10]) or '0')
            if known < now then redis.call('ZADD', KEYS[2], now, ARGV[10]) end
            return answer
            """

    /// ARGV after the common nine: grant id. The call never reached the upstream: it leaves the
    /// calls in flight and counts in no window.
    static let withdraw =
        prelude + """

            redis.call('ZREM', KEYS[1], ARGV[10])
            return answer
            """

    /// ARGV after the common nine: pause µs from now. Keeps the later pause.
    static let pause =
        prelude + """

            local untilTime = now + math.min(tonumber(ARGV[10]), 3600000000)
            if untilTime > paused then redis.call('SET', KEYS[5], string.format('%.0f', untilTime)) end
            return answer
            """

    /// ARGV after the common nine, optional: this replica's demand (calls waiting or admitted,
    /// for the others' projections) and its interactive part. Answers `…, paused until, in flight,
    /// the other replicas' demand, its interactive part, completion times…` (completions within
    /// the horizon, oldest first), for projections.
    static let state =
        prelude + """

            tell(tonumber(ARGV[10]), tonumber(ARGV[11]))
            answer[8] = paused
            answer[9] = redis.call('ZCOUNT', KEYS[1], '(0', '+inf')
            answer[10], answer[11] = othersDemand()
            local done = redis.call('ZRANGEBYSCORE', KEYS[2], '(0', '+inf', 'WITHSCORES')
            for i = 2, #done, 2 do answer[#answer + 1] = tonumber(done[i]) end
            return answer
            """
}
