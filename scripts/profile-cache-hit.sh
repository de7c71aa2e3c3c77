#!/usr/bin/env bash
# Profiles the gateway's cache-hit path with perf (sampling, call graphs), for BENCHMARKS.md.
# Usage: scripts/profile-cache-hit.sh [BIN_DIR] [SECONDS]   (default .build/release, 15)
# Starts moengage-sim and the gateway on loopback, warms the cache with one getStats (10 ids x
# 30 days), then samples the gateway while wrk sends that same cache hit from 4 connections, and
# prints the top frames by self time and by inclusive time (Swift names demangled).
# valgrind 3.19 cannot run these binaries (DWARF 5, and an internal crash in libdispatch's
# sigsuspend), so perf it is. Requires perf and wrk.
set -euo pipefail
BIN=${1:-.build/release}
SECONDS_TO_SAMPLE=${2:-15}
OUT=${OUT:-/tmp/gateway-cache-hit.perf}
SIM_PORT=${SIM_PORT:-19391}
GATEWAY_PORT=${GATEWAY_PORT:-19390}
work=$(mktemp -d)
cat > "$work/gateway.yaml" <<YAML
listen: {host: 127.0.0.1, port: ${GATEWAY_PORT}}
workspaces:
  bench: {base_url: "http://127.0.0.1:${SIM_PORT}", workspace_id: WS, api_key_env: PROFILE_KEY, rate_limits: [{calls: 1000, per_seconds: 60}]}
callers:
  - {name: bench, token_env: PROFILE_TOKEN, workspaces: ["*"]}
log: {level: warning}
YAML
export PROFILE_KEY=profile-key PROFILE_TOKEN=profile-token
"$BIN/moengage-sim" --port "$SIM_PORT" --workspace "WS:profile-key" --rate-limits 1000/60 > "$work/sim.log" 2>&1 &
sim=$!
"$BIN/campaign-gateway" serve --config "$work/gateway.yaml" > "$work/gateway.log" 2>&1 &
gateway=$!
cleanup() { kill "$gateway" "$sim" 2>/dev/null || true; sleep 2; kill -9 "$gateway" "$sim" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:${GATEWAY_PORT}/healthz" >/dev/null 2>&1 && curl -sf "http://127.0.0.1:${SIM_PORT}/_sim/campaigns" >/dev/null 2>&1 && break; sleep 0.2; done
ids=$(curl -s "http://127.0.0.1:${SIM_PORT}/_sim/campaigns" | python3 -c 'import json,sys; print(",".join("\"%s\"" % c["campaign_id"] for c in json.load(sys.stdin)["campaigns"][:10]))')
body="{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"campaigns.getStats\",\"params\":{\"campaign_ids\":[${ids}],\"start_date\":\"2025-03-01\",\"end_date\":\"2025-03-30\"}}"
status=$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:${GATEWAY_PORT}/rpc" -H "Authorization: Bearer ${PROFILE_TOKEN}" -d "$body" || true)
[ "$status" = 200 ] || { echo "warm-up call failed: HTTP $status"; tail -20 "$work/gateway.log"; exit 1; }
cat > "$work/hit.lua" <<LUA
wrk.method = "POST"
wrk.body = [[${body}]]
wrk.headers["Authorization"] = "Bearer ${PROFILE_TOKEN}"
LUA
wrk -t1 -c4 -d"$((SECONDS_TO_SAMPLE + 2))s" -s "$work/hit.lua" "http://127.0.0.1:${GATEWAY_PORT}/rpc" > "$work/wrk.log" &
wrkpid=$!
sleep 1
perf record -F 499 -g -p "$gateway" -o "$OUT" -- sleep "$SECONDS_TO_SAMPLE" 2> /dev/null
wait "$wrkpid"
echo "profile: $OUT; wrk: $(grep Requests/sec "$work/wrk.log")"
echo "## top frames by self time"
perf report -i "$OUT" --stdio --no-children --sort symbol --percent-limit 1.5 -g none 2>/dev/null | grep -v "^#" | grep -v "^$" | head -25 | swift demangle --simplified
echo "## top frames by inclusive time"
perf report -i "$OUT" --stdio --children --sort symbol --percent-limit 8 -g none 2>/dev/null | grep -v "^#" | grep -v "^$" | head -30 | swift demangle --simplified
