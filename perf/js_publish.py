#!/usr/bin/env python3
"""JetStream publish with acks, natrix and nats-server side by side in one run.

A raw-protocol client (stdlib only) creates a file stream, then publishes N messages of
SIZE bytes with at most WINDOW unacknowledged, and counts acks parsed from the MSG frames.
Window 1 is the synchronous publish (one in flight), a larger window the asynchronous one.
Each server runs on a fresh store directory, with its default sync_interval and with
`sync_interval: always`, in interleaved rounds. The client is Python, so at high rates it is
the bottleneck: the figures are lower bounds for the faster server.

    perf/js_publish.py --natrix target/release/natrix --nats-server .venv/bin/nats-server
"""
import argparse, json, os, socket, subprocess, tempfile, time

from natsraw import Conn, free_port


def run(port, n, window, size):
    c = Conn(port, inbox="_A")
    cfg = json.dumps({"name": "B", "subjects": ["b.>"], "storage": "file"}).encode()
    c.s.sendall(b"PUB $JS.API.STREAM.CREATE.B _A.c %d\r\n%s\r\n" % (len(cfg), cfg))
    r = json.loads(c.msg()[1])
    assert "error" not in r, r
    payload = b"x" * size
    sent = acked = 0
    last = 0
    t0 = time.perf_counter()
    while acked < n:
        out = []
        while sent < n and sent - acked < window:
            out.append(b"PUB b.x _A.%d %d\r\n%s\r\n" % (sent, size, payload))
            sent += 1
        if out:
            c.s.sendall(b"".join(out))
        ack = json.loads(c.msg()[1])
        assert "error" not in ack, ack
        assert ack["seq"] == last + 1, (ack, last)
        last = ack["seq"]
        acked += 1
    dt = time.perf_counter() - t0
    return n / dt


def start(cmd, conf):
    p = subprocess.Popen(cmd + ["-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.8)
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--natrix", required=True)
    ap.add_argument("--nats-server", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", type=int, default=16)
    a = ap.parse_args()
    cases = [("sync p=1", 1, 2000), ("async w=256", 256, 40000)]
    results = {}
    for rnd in range(a.rounds):
        for sync in ("default", "always"):
            for name, cmd in (("natrix", [a.natrix]), ("nats-server", [a.nats_server])):
                if rnd % 2:
                    pass
                for label, window, n in cases:
                    with tempfile.TemporaryDirectory() as d:
                        port = free_port()
                        conf = os.path.join(d, "js.conf")
                        extra = ", sync_interval: always" if sync == "always" else ""
                        with open(conf, "w") as f:
                            f.write('port: %d\njetstream { store_dir: "%s"%s }\n' % (port, d, extra))
                        p = start(cmd, conf)
                        try:
                            rate = run(port, n, window, a.size)
                        finally:
                            p.kill()
                            p.wait()
                        results.setdefault((sync, label, name), []).append(rate)
    print("| sync_interval | publish | natrix msg/s | nats-server msg/s | ratio (medians) |")
    print("|---|---|---|---|---|")
    for sync in ("default", "always"):
        for label, _, _ in cases:
            nx = sorted(results[(sync, label, "natrix")])
            ns = sorted(results[(sync, label, "nats-server")])
            med = lambda v: v[len(v) // 2]
            print("| %s | %s | %.0f (%.0f–%.0f) | %.0f (%.0f–%.0f) | %.2f× |" % (
                sync, label, med(nx), nx[0], nx[-1], med(ns), ns[0], ns[-1], med(nx) / med(ns)))


if __name__ == "__main__":
    main()
