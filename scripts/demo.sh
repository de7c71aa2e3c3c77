#!/usr/bin/env bash
# Starts moengage-sim and the gateway on loopback with deploy/demo.yaml, prints curl calls, waits for Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/demo-lib.sh
SIM_PORT=${SIM_PORT:-9090}
GATEWAY_PORT=${GATEWAY_PORT:-8080}
GRPC_PORT=${GRPC_PORT:-9091}

config=$(mktemp --suffix=.yaml)
sed -e "s/port: 8080/port: ${GATEWAY_PORT}/" -e "s/port: 9091/port: ${GRPC_PORT}/" -e "s#http://127.0.0.1:9090#http://127.0.0.1:${SIM_PORT}#" deploy/demo.yaml > "$config"

"$BIN/moengage-sim" --port "$SIM_PORT" --workspace "DEMO_WORKSPACE:${DEMO_MOENGAGE_API_KEY}" \
  --report-secret "DEMO_WORKSPACE:${DEMO_MOENGAGE_SECRET_KEY}" --migma-key "${DEMO_MIGMA_API_KEY}:DEMO_MIGMA" > /tmp/moengage-sim.log 2>&1 &
sim=$!
"$BIN/campaign-gateway" serve --config "$config" > /tmp/campaign-gateway.log 2>&1 &
gateway=$!
cleanup() { kill "$gateway" "$sim" 2>/dev/null || true; wait 2>/dev/null || true; rm -f "$config"; }
trap cleanup EXIT INT TERM

for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:${GATEWAY_PORT}/readyz" >/dev/null 2>&1 && curl -sf "http://127.0.0.1:${SIM_PORT}/_sim/campaigns" >/dev/null 2>&1 && break
  sleep 0.2
done
ids=$(demo_campaign_ids "$SIM_PORT")
G="http://127.0.0.1:${GATEWAY_PORT}"
AUTH="Authorization: Bearer ${DEMO_CALLER_TOKEN}"

# A job round trip: a quarter of every campaign, submitted, then polled until it is done.
submit='{"jsonrpc":"2.0","id":1,"method":"jobs.submit","params":{"workspace":"demo","start_date":"2025-01-01","end_date":"2025-03-31","view":"summary"}}'
submitted=$(curl -s "${G}/rpc" -H "${AUTH}" -d "$submit")
job=$(printf '%s' "$submitted" | grep -o '"job_id":"[0-9a-f]*"' | cut -d'"' -f4)
answer=""
for _ in $(seq 1 600); do
  answer=$(curl -s "${G}/rpc" -H "${AUTH}" -d "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"jobs.get\",\"params\":{\"job_id\":\"${job}\"}}")
  printf '%s' "$answer" | grep -q '"state":"\(done\|failed\|cancelled\)"' && break
  sleep 0.2
done
cat <<MSG

A job round trip, just made:
curl -s ${G}/rpc -H '${AUTH}' -d '${submit}'
${submitted}
curl -s ${G}/rpc -H '${AUTH}' -d '{"jsonrpc":"2.0","id":2,"method":"jobs.get","params":{"job_id":"${job}"}}'
$(printf '%s' "$answer" | cut -c1-600)…
MSG
cat <<MSG

campaign-gateway is up on ${G} (logs: /tmp/campaign-gateway.log), moengage-sim on http://127.0.0.1:${SIM_PORT} (logs: /tmp/moengage-sim.log).
Paste these:

# Stats for three campaigns over March 2025 (JSON-RPC)
curl -s ${G}/rpc -H '${AUTH}' -d '{"jsonrpc":"2.0","id":1,"method":"campaigns.getStats","params":{"workspace":"demo","campaign_ids":[${ids}],"start_date":"2025-03-01","end_date":"2025-03-30"}}'

# The same through the Connect path, as summary figures
curl -s ${G}/gateway.v1.CampaignService/GetStats -H '${AUTH}' -H 'Content-Type: application/json' -d '{"workspace":"demo","campaign_ids":[${ids}],"start_date":"2025-03-01","end_date":"2025-03-30","view":"summary"}'

# 75 days = 3 windows, merged (run it twice: the second answer comes from the cache)
curl -s ${G}/rpc -H '${AUTH}' -d '{"jsonrpc":"2.0","id":2,"method":"campaigns.getStats","params":{"workspace":"demo","campaign_ids":[${ids}],"start_date":"2025-03-01","end_date":"2025-05-14"}}'

# The plan only, nothing spent: every campaign active over a year
curl -s ${G}/rpc -H '${AUTH}' -d '{"jsonrpc":"2.0","id":3,"method":"campaigns.getStats","params":{"workspace":"demo","start_date":"2025-01-01","end_date":"2025-12-31","dry_run":true}}'

# Campaign metadata: scheduled campaigns, with their reachability; periodic ones with children
curl -s ${G}/rpc -H '${AUTH}' -d '{"jsonrpc":"2.0","id":4,"method":"campaigns.list","params":{"workspace":"demo","status":["SCHEDULED"]}}'
curl -s ${G}/rpc -H '${AUTH}' -d '{"jsonrpc":"2.0","id":5,"method":"campaigns.list","params":{"workspace":"demo","delivery_type":["PERIODIC"],"include_child_campaigns":true}}'

# Daily reports, parsed; and one raw zip
curl -s ${G}/rpc -H '${AUTH}' -d '{"jsonrpc":"2.0","id":6,"method":"reports.getDaily","params":{"workspace":"demo","start_date":"2025-03-01","end_date":"2025-03-03"}}'
curl -s -o /tmp/20250301.zip -w '%{http_code} %{content_type}\n' ${G}/reports/daily/demo/20250301.zip -H '${AUTH}'

# Migma stats for the same campaigns
curl -s ${G}/rpc -H '${AUTH}' -d '{"jsonrpc":"2.0","id":7,"method":"campaigns.getStats","params":{"workspace":"newsletters","campaign_ids":[${ids}]}}'

# The methods (OpenRPC), the ops endpoints, the simulator's call log
curl -s ${G}/rpc -H '${AUTH}' -d '{"jsonrpc":"2.0","id":8,"method":"rpc.discover"}'
curl -s ${G}/healthz; curl -s ${G}/readyz; curl -s ${G}/metrics
curl -s http://127.0.0.1:${SIM_PORT}/_sim/calls

# Native gRPC on 127.0.0.1:${GRPC_PORT} (grpcurl, where installed, reads the API through server reflection), and Connect GET
grpcurl -plaintext -H '${AUTH}' -d '{"workspace":"demo","campaignIds":[${ids}],"startDate":"2025-03-01","endDate":"2025-03-30","view":"summary"}' 127.0.0.1:${GRPC_PORT} gateway.v1.CampaignService/GetStats
grpcurl -plaintext 127.0.0.1:${GRPC_PORT} list
curl -s -G ${G}/gateway.v1.CampaignService/GetStats -H '${AUTH}' --data-urlencode encoding=json --data-urlencode 'message={"workspace":"demo","campaignIds":[${ids}],"startDate":"2025-03-01","endDate":"2025-03-30","view":"summary"}'

Ctrl-C stops both.
MSG
wait "$gateway"
