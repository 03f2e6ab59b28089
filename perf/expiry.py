#!/usr/bin/env python3
"""Stream expiry by max_age, natrix and nats-server side by side in one run.

For each server and each stream kind, a raw-protocol client (stdlib only) creates a file
stream with max_age, publishes N messages of SIZE bytes on SUBJECTS subjects (core PUB, no
acks, then a PING round trip and STREAM.INFO until all are stored), and waits until max_age
has taken them. It reports the server's CPU time (utime + stime from /proc) from the last
publish until the stream holds only what it should (nothing, or one marker per subject),
per expired message, and the wall time from the due time of the newest message.

Kinds: `idle` (no max_age; the same wait and polling, for the CPU a server spends anyway:
natrix's shards spin before they sleep), `plain` (max_age only: one purge in natrix), `ttl` (allow_msg_ttl: one message at a
time in both), `markers` (allow_msg_ttl + subject_delete_marker_ttl: one at a time, and a
marker per subject).

    perf/expiry.py --natrix target/release/natrix --nats-server .venv/bin/nats-server
"""
import argparse, json, os, socket, subprocess, tempfile, time

from natsraw import Conn, cpu_s, free_port


def start(bin_, store, port):
    args = [bin_, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise RuntimeError(f"{bin_} did not start")


def run(bin_, kind, n, size, subjects, max_age_s):
    port = free_port()
    with tempfile.TemporaryDirectory() as store:
        p = start(bin_, store, port)
        try:
            c = Conn(port)
            cfg = {"name": "X", "subjects": ["x.>"], "storage": "file"}
            if kind != "idle":
                cfg["max_age"] = max_age_s * 1_000_000_000
            if kind in ("ttl", "markers"):
                cfg["allow_msg_ttl"] = True
            if kind == "markers":
                cfg["subject_delete_marker_ttl"] = 3600 * 1_000_000_000
            r = c.request("$JS.API.STREAM.CREATE.X", cfg)
            assert "error" not in r, r
            payload = b"x" * size
            chunk = []
            for i in range(n):
                chunk.append(f"PUB x.{i % subjects} {size}\r\n".encode() + payload + b"\r\n")
                if len(chunk) == 1000:
                    c.s.sendall(b"".join(chunk))
                    chunk = []
            c.s.sendall(b"".join(chunk) + b"PING\r\n")
            while c.line() != b"PONG":
                pass
            # nats-server may drop un-acked publishes under load: take what was stored.
            last, still = -1, 0
            while still < 10:
                seq = c.request("$JS.API.STREAM.INFO.X", None)["state"]["last_seq"]
                still = still + 1 if seq == last else 0
                last = seq
                time.sleep(0.01)
            n = last
            t_stored = time.time()
            cpu0 = cpu_s(p.pid)
            want = subjects if kind == "markers" else 0
            give_up = time.time() + max_age_s + 120
            while True:
                st = c.request("$JS.API.STREAM.INFO.X", None)["state"]
                if time.time() > give_up:
                    raise RuntimeError(f"{bin_} {kind}: not expired: {st}")
                if kind == "idle" and time.time() > t_stored + max_age_s + 0.5:
                    break
                if kind != "idle" and st["messages"] == want and st["first_seq"] > n:
                    break
                time.sleep(0.02)
            t_done = time.time()
            cpu = cpu_s(p.pid) - cpu0
            late = t_done - (t_stored + max_age_s)
            return cpu, late, n
        finally:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--natrix", required=True)
    ap.add_argument("--nats-server", required=True)
    ap.add_argument("--msgs", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--subjects", type=int, default=100)
    ap.add_argument("--max-age", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--kinds", default="idle,plain,ttl,markers")
    ap.add_argument("--servers", default="natrix,nats-server")
    a = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    print(f"{a.msgs} msgs of {a.size} B on {a.subjects} subjects, max_age {a.max_age}s")
    print("| server | kind | round | msgs stored | CPU s from stored to expired | CPU ns/msg | done after due (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in range(a.rounds):
        for kind in a.kinds.split(","):
            for name, b in (("natrix", a.natrix), ("nats-server", a.nats_server)):
                if name not in a.servers.split(","):
                    continue
                cpu, late, n = run(b, kind, a.msgs, a.size, a.subjects, a.max_age)
                print(f"| {name} | {kind} | {r + 1} | {n} | {cpu:.2f} | {cpu / n * 1e9:.0f} | {late:+.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
