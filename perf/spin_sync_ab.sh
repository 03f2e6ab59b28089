#!/bin/bash
# A/B of natrix's --spin_us (200 against 50) with 2 shards when commits wait for fdatasync:
# JetStream with `sync_interval: always` and NATS Streaming's file store. Rounds interleave
# the two values; one line per run (msgs/s, p50 µs, server ns per message). Uses the release
# binaries in target/release; every server gets a fresh store in a temp dir and is stopped.
# Usage: perf/spin_sync_ab.sh [ROUNDS]
set -u
cd "$(dirname "$0")/.."
N=target/release/natrix
B=target/release/natrix-bench
CONF=$(mktemp)
echo 'jetstream { sync_interval: always }' > "$CONF"
trap 'rm -f "$CONF"' EXIT
one() { # spin mode workload...
  spin=$1; mode=$2; shift 2
  d=$(mktemp -d); port=$((20000 + RANDOM % 20000))
  if [ "$mode" = js ]; then extra=(-js -sd "$d" -c "$CONF"); else extra=(-cid test-cluster -st FILE --dir "$d"); fi
  taskset -c 0,1 "$N" --shards 2 --spin_us "$spin" -a 127.0.0.1 -p "$port" "${extra[@]}" >/dev/null 2>&1 &
  pid=$!
  sleep 0.4
  out=$("$B" "$@" --server "127.0.0.1:$port" --server-pid "$pid" 2>&1)
  tp=$(echo "$out" | grep -m1 throughput | awk '{print $2}')
  p50=$(echo "$out" | grep -m1 'latency' | awk '{print $4}')
  cpu=$(echo "$out" | grep -m1 'server CPU' | awk '{print $5}')
  echo "spin=$spin $mode $*: $tp msgs/s p50 ${p50:--} server ns/msg $cpu"
  kill "$pid"; wait "$pid" 2>/dev/null; rm -rf "$d"
}
for _ in $(seq "${1:-3}"); do
  for spin in 200 50; do
    one "$spin" js jspub --size 128 --msgs 1000 --window 1
    one "$spin" js jspub --size 128 --msgs 5000 --window 256
    one "$spin" js jsconsume --size 128 --msgs 8000 --batch 100
    one "$spin" js jsconsume --size 128 --msgs 1000 --batch 1
    one "$spin" js jsconsume --size 128 --msgs 8000 --batch 100 --ack-sync
    one "$spin" js jspush --size 128 --msgs 10000
    one "$spin" js jsworkqueue --size 128 --msgs 1000 --publishers 2 --window 64 --clients 4 --batch 10
    one "$spin" stan stanpub --size 128 --msgs 1000 --window 1
    one "$spin" stan stansub --size 128 --msgs 10000
  done
done
