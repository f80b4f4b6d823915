#!/usr/bin/env bash
# The overload figures as two clients of independent design see them, fresh and back to back:
#   1. fresh:        `bench/overload.ts` ROUNDS times (plain Node, then the demo, each started anew)
#   2. fresh:        `bench/probe.ts --rounds ROUNDS` (plain Node and the demo, pairs started anew)
#   3. back to back: one demo started once; the two clients alternate against it ROUNDS times each,
#                    2 s apart, so each run meets what the previous overload left behind
# Every server burns 5 ms of CPU per response, on core 0; the clients run on core 1.
#
#   bash bench/overload-rounds.sh                       # Node on PATH, 3 rounds, --max-lag-ms 100
#   NODE=/path/to/node ROUNDS=3 FLAGS="--max-lag-ms 100" bash bench/overload-rounds.sh
#
# Loopback only; the demo it starts is stopped by its PID, also on an interrupt.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE="${NODE:-node}"
ROUNDS="${ROUNDS:-3}"
FLAGS="${FLAGS:---max-lag-ms 100}"
[[ "$ROUNDS" =~ ^[1-9][0-9]?$ ]] || { echo "overload-rounds: ROUNDS must be an integer 1 to 99, got \"$ROUNDS\"" >&2; exit 2; }
"$NODE" --version >/dev/null || { echo "overload-rounds: NODE=\"$NODE\" does not run" >&2; exit 2; }
npx tsc -p tsconfig.build.json
echo "# overload rounds: $("$NODE" --version), demo flags: $FLAGS, $ROUNDS rounds, $(date -u +%FT%TZ)"

echo "## 1. bench/overload.ts, fresh servers"
for i in $(seq "$ROUNDS"); do "$NODE" build/bench/overload.js --demo-flags "$FLAGS" | grep '^| [pd]'; done

echo "## 2. bench/probe.ts, fresh servers"
"$NODE" build/bench/probe.js --demo-flags "$FLAGS" --rounds "$ROUNDS" | grep '^| [pd]\|ratio\|/ plain'

echo "## 3. back to back against one demo"
out="$(mktemp)"
# shellcheck disable=SC2086 # FLAGS is a list of flags
taskset -c 0 "$NODE" build/demo/server.js --port 0 --busy-ms 5 --limit 1000 $FLAGS >"$out" 2>/dev/null &
demo=$!
trap 'kill "$demo" 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q '^listening on' "$out" && break; sleep 0.1; done
port="$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out" | head -1)"
[ -n "$port" ] || { echo "overload-rounds: the demo did not start" >&2; exit 1; }
for i in $(seq "$ROUNDS"); do
  taskset -c 1 "$NODE" build/bench/overload.js --client --port "$port" --server-pid "$demo" --clients 200 --seconds 10 |
    "$NODE" -e 'const f = JSON.parse(require("fs").readFileSync(0, "utf8").trim().split("\n").pop());
      console.log(`| overload.ts client, round '"$i"' | ${f.servedPerSecond}/s | p50 ${f.servedMs.p50} p99 ${f.servedMs.p99} max ${f.servedMs.max} ms | over 1 s ${f.slowerThan1s} of ${f.attempts} | ${JSON.stringify(f.outcomes)} |`)'
  sleep 2
  "$NODE" build/bench/probe.js --port "$port" | grep '^| [^s-]' | sed "s/^| /| probe, round $i: /"
  sleep 2
done
