#!/usr/bin/env bash
# The whole test suite N times in a row under CPU load (BUSY busy loops beside
# it, default one per core), each run followed by the leftover check; stops at
# the first failing run. Finds tests whose timing only holds on an idle machine.
# Usage: bash scripts/test-under-load.sh [runs=5] [busy=$(nproc)]
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
busy="${2:-$(nproc)}"
export CI=true TURBO_TELEMETRY_DISABLED=1
logs="$(mktemp -d "${TMPDIR:-/tmp}/test-under-load-XXXXXX")"
snapshot="node_modules/.cache/check-leftovers/under-load.json"
pids=()
stop_load() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done; }
trap stop_load EXIT
for _ in $(seq "$busy"); do node -e 'for (;;) {}' & pids+=($!); done
for i in $(seq "$runs"); do
  node scripts/check-leftovers.mjs --snapshot "$snapshot" >/dev/null
  started=$SECONDS
  if npx -y pnpm@10.34.9 turbo run test --force --continue >"$logs/run-$i.log" 2>&1 \
    && node scripts/check-leftovers.mjs --since "$snapshot" >>"$logs/run-$i.log" 2>&1; then
    echo "run $i of $runs: passed in $((SECONDS - started)) s (load $(cut -d' ' -f1 /proc/loadavg))"
    rm -f "$logs/run-$i.log"
  else
    echo "run $i of $runs: FAILED after $((SECONDS - started)) s; log kept: $logs/run-$i.log"
    sed 's/\x1b\[[0-9;]*m//g' "$logs/run-$i.log" | grep -E ' FAIL |Error:|check-leftovers' | head -20
    exit 1
  fi
done
rmdir "$logs"
echo "$runs runs in a row passed under $busy busy loops"
