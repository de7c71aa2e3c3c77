#!/usr/bin/env bash
# Starts redis-server, moengage-sim and three gateway replicas sharing the Redis, all on loopback,
# prints curl calls showing one replica answering from another's fetch, waits for Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/demo-lib.sh
SIM_PORT=${SIM_PORT:-9090}
REDIS_PORT=${REDIS_PORT:-6390}
FIRST_PORT=${FIRST_PORT:-8081}

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; sleep 1; for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT INT TERM

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no > "$work/redis.log" 2>&1 &
pids+=($!)
"$BIN/moengage-sim" --port "$SIM_PORT" --workspace "DEMO_WORKSPACE:${DEMO_MOENGAGE_API_KEY}" \
  --report-secret "DEMO_WORKSPACE:${DEMO_MOENGAGE_SECRET_KEY}" --migma-key "${DEMO_MIGMA_API_KEY}:DEMO_MIGMA" > /tmp/moengage-sim.log 2>&1 &
pids+=($!)
for replica in 1 2 3; do
  port=$((FIRST_PORT + replica - 1))
  { sed -e "s/port: 8080/port: ${port}/" -e "s/port: 9091/port: $((port + 1000))/" -e "s#http://127.0.0.1:9090#http://127.0.0.1:${SIM_PORT}#" deploy/demo.yaml
    printf 'redis: {url: "redis://127.0.0.1:%s/0", key_prefix: "demo:", replicas_hint: 3}\n' "$REDIS_PORT"; } > "$work/replica-$replica.yaml"
  "$BIN/campaign-gateway" serve --config "$work/replica-$replica.yaml" > "/tmp/campaign-gateway-$replica.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 1 50); do
  ready=1
  for replica in 1 2 3; do curl -sf "http://127.0.0.1:$((FIRST_PORT + replica - 1))/readyz" > /dev/null 2>&1 || ready=0; done
  [ "$ready" = 1 ] && curl -sf "http://127.0.0.1:${SIM_PORT}/_sim/campaigns" > /dev/null 2>&1 && break
  sleep 0.2
done
ids=$(demo_campaign_ids "$SIM_PORT")
R1="http://127.0.0.1:${FIRST_PORT}"
R2="http://127.0.0.1:$((FIRST_PORT + 1))"
R3="http://127.0.0.1:$((FIRST_PORT + 2))"
AUTH="Authorization: Bearer ${DEMO_CALLER_TOKEN}"
Q="{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"campaigns.getStats\",\"params\":{\"workspace\":\"demo\",\"campaign_ids\":[${ids}],\"start_date\":\"2025-03-01\",\"end_date\":\"2025-04-14\"}}"
cat <<MSG

Three replicas share redis-server on 127.0.0.1:${REDIS_PORT}: ${R1}, ${R2}, ${R3}
(logs: /tmp/campaign-gateway-{1,2,3}.log), moengage-sim on http://127.0.0.1:${SIM_PORT}. Paste these:

# Replica 1 fetches: "upstream": {"calls": 2, ...} (3 campaigns over 45 days = 2 windows)
curl -s ${R1}/rpc -H '${AUTH}' -d '${Q}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["upstream"])'

# Replica 2 answers the same question from replica 1's fetch: "calls": 0, "cache_hits": 6
curl -s ${R2}/rpc -H '${AUTH}' -d '${Q}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["upstream"])'

# MoEngage (the simulator) saw two calls in all
curl -s http://127.0.0.1:${SIM_PORT}/_sim/calls | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["calls"]), "upstream calls")'

# Each replica's view of Redis, and the shared budget's keys
curl -s ${R3}/readyz
redis-cli -p ${REDIS_PORT} --scan --pattern 'demo:*' | head

Ctrl-C stops everything.
MSG
wait "${pids[2]}"
