# Shared by demo.sh and demo-cluster.sh (sourced).

# The debug binaries, and the demo's credentials (deploy/demo.yaml names them by env var).
BIN=.build/debug
export DEMO_MOENGAGE_API_KEY=demo-api-key
export DEMO_MOENGAGE_SECRET_KEY=demo-secret-key
export DEMO_MIGMA_API_KEY=demo-migma-key
export DEMO_CALLER_TOKEN=demo-token

# Prints three ids of campaigns active over the simulator's whole horizon, quoted and comma-separated.
demo_campaign_ids() {
  curl -s "http://127.0.0.1:$1/_sim/campaigns" | python3 -c '
import json, sys
always = [c["campaign_id"] for c in json.load(sys.stdin)["campaigns"] if c["active_from"] == "2025-01-01" and c["active_to"] == "2026-12-31"]
print(",".join("\"%s\"" % i for i in always[:3]))'
}
