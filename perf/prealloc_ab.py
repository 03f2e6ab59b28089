#!/usr/bin/env python3
"""Interleaved A/B of two natrix binaries on JetStream with sync_interval: always, as run for
perf/results/2026-12-07-prealloc.md. Usage: prealloc_ab.py ROUNDS OUT.jsonl [ROW,ROW...]
Binaries from NATRIX_A ("main"), NATRIX_B ("prealloc") and NATRIX_BENCH."""
import json, os, shutil, socket, subprocess, sys, tempfile, time, statistics
BENCH = os.environ.get("NATRIX_BENCH", "target/release/natrix-bench")
BINS = {"main": os.environ.get("NATRIX_A", "/work/wt/natrix-main-prealloc"),
        "prealloc": os.environ.get("NATRIX_B", "target/release/natrix")}
WORKLOADS = [
    ("jspub-w1", ["jspub", "--size", "128", "--msgs", "2000", "--window", "1"]),
    ("jspub-w256", ["jspub", "--size", "128", "--msgs", "20000", "--window", "256"]),
    ("jsconsume-acksync", ["jsconsume", "--size", "128", "--msgs", "8000", "--batch", "100", "--ack-sync"]),
]
rounds, out = int(sys.argv[1]), sys.argv[2]
only = sys.argv[3].split(",") if len(sys.argv) > 3 else None
conf_dir = tempfile.mkdtemp(prefix="ab-conf-")
conf = os.path.join(conf_dir, "always.conf")
open(conf, "w").write("jetstream {\n  sync_interval: always\n}\n")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def run(key, wl):
    sd = tempfile.mkdtemp(prefix="ab-sd-", dir="/tmp")
    port = free_port()
    srv = subprocess.Popen([BINS[key], "-a", "127.0.0.1", "-p", str(port), "-c", conf, "-js", "-sd", sd],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close(); break
            except OSError:
                time.sleep(0.05)
        load = os.getloadavg()[0]
        r = subprocess.run([BENCH, *wl, "--server", f"127.0.0.1:{port}", "--server-pid", str(srv.pid),
                            "--timeout", "120", "--json"], capture_output=True, text=True)
        j = json.loads(r.stdout.strip().splitlines()[-1])
        j["load1"] = load
        return j
    finally:
        srv.kill(); srv.wait(); shutil.rmtree(sd, ignore_errors=True)

res = {}
with open(out, "a") as f:
    for rnd in range(rounds):
        for name, wl in WORKLOADS:
            if only and name not in only:
                continue
            order = ["main", "prealloc"] if rnd % 2 == 0 else ["prealloc", "main"]
            for key in order:
                j = run(key, wl)
                j.update(binary=key, row=name, round=rnd)
                f.write(json.dumps(j) + "\n"); f.flush()
                lat = j["latency_us"] or {}
                print(f"r{rnd} {name:18s} {key:9s} load {j['load1']:.2f} msgs/s {j['msgs_per_s']:9.0f} "
                      f"p50 {lat.get('p50', 0):7.0f} us p90 {lat.get('p90', 0):7.0f} "
                      f"server µs/msg {j['server_ns_per_msg']/1000:6.1f} err {j['error']}", flush=True)
                res.setdefault((name, key), []).append(j)
print("medians:")
for (name, key), js in sorted(res.items()):
    med = lambda xs: statistics.median(xs)
    print(f"{name:18s} {key:9s} n={len(js)} msgs/s {med([j['msgs_per_s'] for j in js]):9.0f} "
          f"p50 {med([(j['latency_us'] or {}).get('p50', 0) for j in js]):7.0f} us "
          f"server µs/msg {med([j['server_ns_per_msg'] for j in js])/1000:6.1f}")
shutil.rmtree(conf_dir, ignore_errors=True)
