#!/usr/bin/env bash
# `make soak` / `make soak-asan`: the gateway and moengage-sim (with faults) on loopback under a
# mixed wrk load (scripts/soak.lua) for SOAK_SECONDS; reports requests, answers by code, upstream
# calls, the simulator's rate-limit breaches and the gateway's RSS at start, once the cache is
# full and at the end. Exits non-zero on a crash (process gone, non-zero exit, sanitizer report),
# a breach, an unexpected answer code or HTTP 5xx, or (release) anonymous RSS at the end above
# cache.max_bytes + 40 MB. Anonymous: VmRSS also counts the pages of the binary and the shared
# libraries mapped from files (about 44 MB idle: Swift, Foundation, ICU, libcrypto), which are
# shared, reclaimable and not the process's to bound; RssAnon is the memory it allocated.
#
#   scripts/soak.sh [release|asan]
#
# Environment: SOAK_SECONDS (120), SOAK_THREADS (2), SOAK_CONNECTIONS (16), SOAK_GATEWAY_PORT
# (19870), SOAK_SIM_PORT (19871), SOAK_SKIP_BUILD=1 (use the binaries built before), SOAK_BIN
# (take both binaries from this directory instead),
# SOAK_GATEWAY_WRAPPER (a command put before the gateway, e.g. "heaptrack -o /tmp/gw"),
# SOAK_LOG_DIR (where logs go; default a new directory under /tmp), SOAK_BEFORE_STOP (a command
# run once the load has ended, before the gateway is stopped, with GATEWAY_PID set: for
# investigations, e.g. gdb -p "$GATEWAY_PID" -batch -ex 'call (void) malloc_stats()').
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-release}
SOAK_SECONDS=${SOAK_SECONDS:-120}
THREADS=${SOAK_THREADS:-2}
CONNECTIONS=${SOAK_CONNECTIONS:-16}
GATEWAY_PORT=${SOAK_GATEWAY_PORT:-19870}
SIM_PORT=${SOAK_SIM_PORT:-19871}
# The simulator's rolling limits: the same as deploy/soak.yaml's rate_limits.
SOAK_RATE_LIMITS=20/1,600/60
SIM_FAIL_500=0.10
CACHE_MAX_BYTES=$(awk '/^cache:/ {c=1} c && /max_bytes:/ {print $2; exit}' deploy/soak.yaml)
RSS_LIMIT_KB=$(( (CACHE_MAX_BYTES + 40 * 1000 * 1000) / 1024 ))  # cache.max_bytes + 40 MB
[ "$THREADS" -le "$CONNECTIONS" ] || { echo "soak: SOAK_THREADS must be <= SOAK_CONNECTIONS" >&2; exit 2; }

case "$MODE" in
  release)
    BIN=.build/release
    build=(swift build -c release)
    ;;
  asan)
    BIN=.build/asan/release
    build=(swift build -c release --sanitize=address --scratch-path .build/asan)
    # Leak checking at exit too; any report ends the process with a non-zero status.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0}
    ;;
  *) echo "usage: scripts/soak.sh [release|asan]" >&2; exit 2 ;;
esac
BIN=${SOAK_BIN:-$BIN}  # another directory holding both binaries (e.g. a copy of an older build)
if [ "${SOAK_SKIP_BUILD:-0}" != 1 ]; then
  "${build[@]}" --product campaign-gateway
  "${build[@]}" --product moengage-sim
fi
command -v wrk >/dev/null || { echo "soak: wrk is missing (make soak installs it)" >&2; exit 2; }

LOG_DIR=${SOAK_LOG_DIR:-$(mktemp -d /tmp/soak.XXXXXX)}
mkdir -p "$LOG_DIR"
export SOAK_MOENGAGE_API_KEY=soak-api-key SOAK_CALLER_TOKEN=soak-token
config="$LOG_DIR/gateway.yaml"
sed -e "s/port: 19870/port: ${GATEWAY_PORT}/" -e "s#http://127.0.0.1:19871#http://127.0.0.1:${SIM_PORT}#" deploy/soak.yaml > "$config"

G="http://127.0.0.1:${GATEWAY_PORT}"
S="http://127.0.0.1:${SIM_PORT}"
gateway_bin=$(readlink -f "$BIN/campaign-gateway")

"$BIN/moengage-sim" --port "$SIM_PORT" --workspace "SOAK_WORKSPACE:${SOAK_MOENGAGE_API_KEY}" --campaigns 120 \
  --rate-limits "$SOAK_RATE_LIMITS" --fail500 "$SIM_FAIL_500" > "$LOG_DIR/sim.log" 2>&1 &
sim=$!
# shellcheck disable=SC2086 # the wrapper is a command line
${SOAK_GATEWAY_WRAPPER:-} "$gateway_bin" serve --config "$config" > "$LOG_DIR/gateway.log" 2>&1 &
launcher=$!
sampler=""
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  kill "$sim" 2>/dev/null
  [ -n "${gateway:-}" ] && kill "$gateway" 2>/dev/null
  [ -n "${launcher:-}" ] && kill "$launcher" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT

# The gateway's own pid: the launched process, or its descendant running the binary under a wrapper.
find_gateway() {
  local queue=("$launcher") pid child
  while [ ${#queue[@]} -gt 0 ]; do
    pid=${queue[0]}; queue=("${queue[@]:1}")
    [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$gateway_bin" ] && { echo "$pid"; return 0; }
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do queue+=("$child"); done
  done
  return 1
}
ready=""
for _ in $(seq 1 300); do
  if curl -sf "$G/readyz" >/dev/null 2>&1 && curl -sf "$S/_sim/campaigns" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$launcher" 2>/dev/null || break
  sleep 0.2
done
gateway=$(find_gateway || true)
if [ -z "$ready" ] || [ -z "$gateway" ]; then
  echo "soak: FAIL: the gateway or the simulator did not start (logs in $LOG_DIR)" >&2
  tail -20 "$LOG_DIR/gateway.log" >&2
  exit 1
fi

mb() { awk -v kb="$1" 'BEGIN { printf "%.1f MB", kb * 1024 / 1e6 }'; }
anon_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
metric() { awk -v name="$1" '$1 == name {printf "%d\n", $2; found=1} END {if (!found) print 0}'; }

curl -s "$S/_sim/campaigns" | jq -r '.campaigns[].campaign_id' > "$LOG_DIR/ids.txt"
curl -s "$G/metrics" > "$LOG_DIR/metrics-start.txt"
rss_start=$(rss_kb "$gateway")
anon_start=$(anon_kb "$gateway")

# Samples every second: seconds, RSS (kB), anonymous RSS (kB), cache bytes, replay-cache bytes,
# malloc's bytes in use and held.
(
  started=$(date +%s)
  while kill -0 "$gateway" 2>/dev/null; do
    m=$(curl -s -m 2 "$G/metrics" || true)
    echo "$(( $(date +%s) - started )) $(rss_kb "$gateway") $(anon_kb "$gateway") $(metric campaign_gateway_cache_bytes <<<"$m")" \
      "$(metric campaign_gateway_answer_replay_bytes <<<"$m") $(metric campaign_gateway_malloc_in_use_bytes <<<"$m") $(metric campaign_gateway_malloc_held_bytes <<<"$m")"
    sleep 1
  done
) > "$LOG_DIR/samples.txt" &
sampler=$!

echo "soak: $MODE, ${SOAK_SECONDS}s, wrk -t$THREADS -c$CONNECTIONS, $(wc -l < "$LOG_DIR/ids.txt") campaigns, limits $SOAK_RATE_LIMITS, 500s ${SIM_FAIL_500}, logs $LOG_DIR"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SOAK_SECONDS}s" --timeout 10s -s scripts/soak.lua "$G" -- "$LOG_DIR/ids.txt" "$SOAK_CALLER_TOKEN" \
  > "$LOG_DIR/wrk.txt" 2>&1 || true
sleep 1
failures=()
if ! kill -0 "$gateway" 2>/dev/null; then
  failures+=("the gateway crashed during the run")
fi
rss_end=$(rss_kb "$gateway")
anon_end=$(anon_kb "$gateway")
rss_peak=$(hwm_kb "$gateway")
curl -s "$G/metrics" > "$LOG_DIR/metrics-end.txt" || true
curl -s "$S/_sim/calls" > "$LOG_DIR/sim-calls.json" || true
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true; sampler=""
if [ -n "${SOAK_BEFORE_STOP:-}" ]; then
  GATEWAY_PID=$gateway bash -c "$SOAK_BEFORE_STOP" || true
fi

# Stop the gateway (SIGTERM: graceful) and take its exit status.
gateway_status=0
if kill -0 "$gateway" 2>/dev/null; then
  kill -TERM "$gateway"
  wait "$launcher" 2>/dev/null || gateway_status=$?
else
  wait "$launcher" 2>/dev/null || gateway_status=$?
fi
gateway=""
launcher=""
[ "$gateway_status" -eq 0 ] || failures+=("the gateway exited with status $gateway_status")
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|Fatal error|Segmentation fault|SUMMARY: AddressSanitizer' "$LOG_DIR/gateway.log"; then
  failures+=("a crash or sanitizer report in $LOG_DIR/gateway.log")
fi

# The cache is full at the first sample holding 95 % of cache.max_bytes (else: the sample at 30 s).
full_line=$(awk -v cap="$CACHE_MAX_BYTES" '$4 >= cap * 0.95 {print; exit}' "$LOG_DIR/samples.txt")
[ -n "$full_line" ] || full_line=$(awk '$1 >= 30 {print; exit}' "$LOG_DIR/samples.txt")
read -r full_at rss_full anon_full _ <<<"${full_line:-? 0 0}"

echo
cat "$LOG_DIR/wrk.txt" | grep -vE '^soak-' || true
echo
echo "== answers by code (campaign_gateway_requests_total, summed over methods)"
by_code() { awk -F'[{}]' '/^campaign_gateway_requests_total\{/ { split($2, a, ","); for (i in a) if (a[i] ~ /^code=/) { gsub(/code=|"/, "", a[i]); code=a[i] } ; split($3, v, " "); n[code] += v[1] } END { for (c in n) print c, n[c] }' "$1" | sort; }
join -a1 -a2 -e0 -o 0,1.2,2.2 <(by_code "$LOG_DIR/metrics-start.txt") <(by_code "$LOG_DIR/metrics-end.txt") \
  | awk '{ d = $3 - $2; if (d > 0) printf "  %-22s %d\n", $1, d; total += d } END { printf "  %-22s %d\n", "total", total }' | tee "$LOG_DIR/codes.txt"
echo "== upstream calls (campaign_gateway_upstream_calls_total)"
grep '^campaign_gateway_upstream_calls_total{' "$LOG_DIR/metrics-end.txt" | sed 's/^campaign_gateway_upstream_calls_total/  /' || true
grep -E '^soak-' "$LOG_DIR/wrk.txt" | sed 's/^/  /' || true
breaches=$(jq '.breaches | length' "$LOG_DIR/sim-calls.json" 2>/dev/null || echo "?")
sim_calls=$(jq '.calls | length' "$LOG_DIR/sim-calls.json" 2>/dev/null || echo "?")
sim_500=$(jq '[.calls[] | select(.status == 500)] | length' "$LOG_DIR/sim-calls.json" 2>/dev/null || echo "?")
echo "== upstream: $sim_calls calls received by the simulator, $sim_500 answered 500 by fault injection, breaches: $breaches"
echo "== gateway RSS: start $(mb "$rss_start"), cache full (at ${full_at}s) $(mb "$rss_full"), end $(mb "$rss_end"), peak $(mb "$rss_peak")"
echo "   anonymous RSS: start $(mb "$anon_start"), cache full $(mb "$anon_full"), end $(mb "$anon_end") (limit at the end: $(mb "$RSS_LIMIT_KB"))"
echo "   at the end: cache $(metric campaign_gateway_cache_bytes < "$LOG_DIR/metrics-end.txt") B of $CACHE_MAX_BYTES, replay cache $(metric campaign_gateway_answer_replay_bytes < "$LOG_DIR/metrics-end.txt") B," \
  "malloc in use $(metric campaign_gateway_malloc_in_use_bytes < "$LOG_DIR/metrics-end.txt") B, held $(metric campaign_gateway_malloc_held_bytes < "$LOG_DIR/metrics-end.txt") B"

[ "$breaches" = 0 ] || failures+=("upstream rate-limit breaches: $breaches")
# Expected answers under this load: ok, the malformed requests' codes, the budget's -32029 and
# deadlines for misses it cannot serve in time, upstream_failed (500s past the retries),
# cancelled (wrk closes its connections at the end). Anything else is a failure.
unexpected=$(awk '$1 !~ /^(ok|parse_error|invalid_request|method_not_found|invalid_params|rate_budget_exhausted|deadline_exceeded|upstream_failed|cancelled|total)$/ {print $1 "=" $2}' "$LOG_DIR/codes.txt" | tr '\n' ' ')
[ -z "$unexpected" ] || failures+=("unexpected answer codes: $unexpected")
http5xx=$(grep -oE '(^| )5[0-9][0-9]=[0-9]+' "$LOG_DIR/wrk.txt" | tr -d ' ' | tr '\n' ' ' || true)
[ -z "$http5xx" ] || failures+=("HTTP 5xx answers: $http5xx")
grep -q 'soak-summary: requests=[1-9]' "$LOG_DIR/wrk.txt" || failures+=("wrk made no requests")
if [ "$MODE" = release ] && [ "$anon_end" -gt "$RSS_LIMIT_KB" ]; then
  failures+=("anonymous RSS at the end $(mb "$anon_end") > cache.max_bytes + 40 MB ($(mb "$RSS_LIMIT_KB"))")
fi

if [ ${#failures[@]} -gt 0 ]; then
  for failure in "${failures[@]}"; do echo "soak: FAIL: $failure" >&2; done
  exit 1
fi
echo "soak: PASS ($MODE; logs in $LOG_DIR)"
