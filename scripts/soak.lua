-- wrk script of `make soak` (scripts/soak.sh): a mixed JSON-RPC load on POST /rpc.
--
--   wrk -s scripts/soak.lua URL -- IDS_FILE TOKEN
--
-- IDS_FILE holds the simulator's campaign ids, one a line (soak.sh writes it from /_sim/campaigns).
-- Each request is drawn at random:
--   ~10 % malformed: bodies that are not JSON, not JSON-RPC, unknown methods, bad params;
--   ~35 % repeats of a small fixed set of questions (cache hits, answer replays);
--   ~5 %  campaigns.list (one cached page set);
--   the rest getStats on a random id set (1-25 ids) over a random span (1-120 days) in
--   2025-2026 with a random attribution/metric/view: mostly misses at first, that fill the cache.
-- Every request carries timeout_ms, so a miss the rate budget cannot serve answers -32029
-- quickly instead of waiting. HTTP statuses are counted per thread and printed by done().

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_index", thread_count)
  table.insert(threads, thread)
end

local ids = {}
local token = "soak-token"
local hot = {}
statuses = {}

local attributions = { "VIEW_THROUGH", "CLICK_THROUGH", "IN_SESSION", "TOTAL_CONVERSIONS", "CLICK_CONVERSIONS" }
local metrics = { "TOTAL", "UNIQUE" }
local seq = 0

-- Days since 2025-01-01 as an ISO date (2025 and 2026 only; no leap day in either).
local month_days = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
local function iso(day_index)
  local year = 2025
  if day_index >= 365 then
    year = 2026
    day_index = day_index - 365
  end
  local month = 1
  while day_index >= month_days[month] do
    day_index = day_index - month_days[month]
    month = month + 1
  end
  return string.format("%04d-%02d-%02d", year, month, day_index + 1)
end

local function id_list(count)
  local chosen, seen = {}, {}
  while #chosen < count do
    local id = ids[math.random(#ids)]
    if not seen[id] then
      seen[id] = true
      table.insert(chosen, '"' .. id .. '"')
    end
  end
  return table.concat(chosen, ",")
end

local function rpc(method, params)
  seq = seq + 1
  return string.format('{"jsonrpc":"2.0","id":%d,"method":"%s","params":%s}', seq, method, params)
end

local function random_stats(id_count, span_days)
  local start = math.random(0, 729 - span_days)
  return string.format(
    '{"workspace":"soak","campaign_ids":[%s],"start_date":"%s","end_date":"%s","attribution_type":"%s","metric_type":"%s","view":"%s","timeout_ms":%d}',
    id_list(id_count), iso(start), iso(start + span_days - 1), attributions[math.random(#attributions)],
    metrics[math.random(#metrics)], math.random() < 0.8 and "full" or "summary", math.random(1000, 3000))
end

local malformed = {
  function() return '{"jsonrpc":"2.0","id":1,"method":"campaigns.getStats","params":{"workspace":"soak"' end, -- truncated
  function() return 'not json at all' end,
  function() return '' end,
  function() return '[]' end, -- empty batch
  function() return '{"jsonrpc":"1.0","id":1,"method":"campaigns.getStats","params":{}}' end,
  function() return rpc("campaigns.nope", '{"workspace":"soak"}') end,
  function() return rpc("campaigns.getStats", '{"workspace":"soak","campaign_ids":["' .. ids[1] .. '"],"start_date":"2025-13-01","end_date":"2025-12-31"}') end,
  function() return rpc("campaigns.getStats", '{"workspace":"soak","campaign_ids":["' .. ids[1] .. '"],"start_date":"2025-05-01","end_date":"2025-04-01"}') end,
  function() return rpc("campaigns.getStats", '{"workspace":"soak","campaign_ids":["' .. ids[1] .. '"],"start_date":"2025-01-01","end_date":"2026-12-31"}') end,
  function() return rpc("campaigns.getStats", '{"workspace":"nowhere","campaign_ids":["' .. ids[1] .. '"],"start_date":"2025-01-01","end_date":"2025-01-31"}') end,
  function() return rpc("campaigns.getStats", '{"workspace":"soak","campaign_ids":[1,2,3],"start_date":"2025-01-01","end_date":"2025-01-31"}') end,
  function() return rpc("campaigns.getStats", '{"workspace":"soak","campaign_ids":["' .. ids[1] .. '"],"start_date":"2025-01-01","end_date":"2025-01-31","metric_type":"MEDIAN"}') end,
  function() return rpc("campaigns.getStats", '"params as a string"') end,
}

function init(args)
  local ids_file = args[1] or error("usage: wrk -s soak.lua URL -- IDS_FILE TOKEN")
  token = args[2] or token
  for line in io.lines(ids_file) do
    if #line > 0 then table.insert(ids, line) end
  end
  assert(#ids >= 25, "need at least 25 campaign ids in " .. ids_file)
  math.randomseed(os.time() * 1000 + thread_index)
  -- The same 24 questions in every thread (seeded alike), so that repeats hit across threads.
  math.randomseed(20251127)
  for _ = 1, 24 do
    table.insert(hot, random_stats(math.random(1, 10), math.random(1, 60)))
  end
  math.randomseed(os.time() * 1000 + thread_index)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  local roll = math.random()
  local body
  if roll < 0.10 then
    body = malformed[math.random(#malformed)]()
  elseif roll < 0.45 then
    -- a fixed id; fixed params (answer replays hit on the exact body)
    seq = seq + 1
    body = string.format('{"jsonrpc":"2.0","id":%d,"method":"campaigns.getStats","params":%s}', seq % 8, hot[math.random(#hot)])
  elseif roll < 0.50 then
    body = rpc("campaigns.list", '{"workspace":"soak","timeout_ms":2000}')
  else
    body = rpc("campaigns.getStats", random_stats(math.random(1, 25), math.random(1, 120)))
  end
  return wrk.format(nil, "/rpc", nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local counted = thread:get("statuses")
    for status, count in pairs(counted) do
      total[status] = (total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do
    table.insert(parts, string.format("%d=%d", status, count))
  end
  table.sort(parts)
  io.write("soak-http-statuses: ", table.concat(parts, " "), "\n")
  io.write(string.format("soak-summary: requests=%d duration_s=%.1f connect_errors=%d read_errors=%d write_errors=%d timeouts=%d status_errors=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.duration / 1e6, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
