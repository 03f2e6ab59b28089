#!/usr/bin/env python3
"""Where a JetStream publisher's connection sits: on the shard that owns the stream, or not.

natrix owns every stream on shard 0 and hands connections to shards round-robin, so a
publisher lands either beside the stream (its publishes and acks never leave the shard) or
on shard 1 (each publish crosses to shard 0 and each ack back). This runs natrix-bench
`jspub` (16 B, window 256, 1 M messages by default; `--window 1` for the synchronous
publisher; file stream, default sync_interval) in both
placements, alternating, on a fresh store each time, on 2 shards. The placement is chosen
by the connections handed out before the publisher's: natrix deals connection ids 1, 2, 3,
... to shards 0, 1, 0, ... (`runtime::spawn_accept_thread`); the readiness probe here takes
id 1 and natrix-bench's admin connection (stream create) the next, so its publisher lands
on shard 0, beside the stream; with one idle connection held open as well, on shard 1.
Prints msgs/s and the server's CPU per message (utime+stime from /proc, spinning included).

    perf/js_placement.py --natrix target/release/natrix --bench target/release/natrix-bench
"""
import argparse, json, os, socket, subprocess, tempfile, time, urllib.request

from natsraw import cpu_s, free_port, wait_port


def one(args, idle_conns):
    port, mport = free_port(), free_port()
    with tempfile.TemporaryDirectory() as sd:
        srv = subprocess.Popen(
            [args.natrix, "-a", "127.0.0.1", "-p", str(port), "-m", str(mport), "-js",
             "-sd", sd] + args.extra,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        idle = []
        try:
            wait_port(port, srv, 10)
            # The probe above took one hand-out; hold `idle_conns` more open.
            for _ in range(idle_conns):
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
                s.recv(4096)
                idle.append(s)
            c0 = cpu_s(srv.pid)
            out = subprocess.run(
                [args.bench, "jspub", "--server", f"127.0.0.1:{port}", "--size", str(args.size),
                 "--msgs", str(args.msgs), "--window", str(args.window), "--json"],
                capture_output=True, text=True, timeout=120)
            c1 = cpu_s(srv.pid)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            return r["msgs_per_s"], (c1 - c0) * 1e6 / args.msgs, r["latency_us"]["p50"]
        finally:
            for s in idle:
                s.close()
            srv.kill()
            srv.wait()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--natrix", default="target/release/natrix")
    p.add_argument("--bench", default="target/release/natrix-bench")
    p.add_argument("--msgs", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--window", type=int, default=256, help="1: synchronous publish")
    p.add_argument("--size", type=int, default=16)
    p.add_argument("extra", nargs="*", help="more natrix arguments (after --)")
    args = p.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    rows = {0: [], 1: []}
    for _ in range(args.rounds):
        for k in (0, 1):
            rows[k].append(one(args, k))
    for k, name in ((0, "publisher and stream on shard 0"), (1, "publisher on shard 1, stream on 0")):
        rates = sorted(r for r, _, _ in rows[k])
        cpus = sorted(c for _, c, _ in rows[k])
        p50s = sorted(p for _, _, p in rows[k])
        print(f"{name}: msgs/s median {rates[len(rates)//2]:.0f} "
              f"(min {rates[0]:.0f}, max {rates[-1]:.0f}); server CPU µs/msg median "
              f"{cpus[len(cpus)//2]:.2f} (min {cpus[0]:.2f}, max {cpus[-1]:.2f}); ack p50 µs median "
              f"{p50s[len(p50s)//2]:.1f} (min {p50s[0]:.1f}, max {p50s[-1]:.1f})")


if __name__ == "__main__":
    main()
