#!/usr/bin/env python3
"""`compression: s2` and `persist_mode: async`, natrix and nats-server side by side in one run.

For each server, on a fresh store directory each time:
- compression none / s2 (default sync_interval): publish N JSON orders of about 690 bytes
  (different per message, like an event stream) with at most WINDOW acks outstanding; then
  read every message back by sequence (`$JS.API.STREAM.MSG.GET`, one at a time); then stop
  the server cleanly and sum the bytes of its message files (`.blk`). nats-server compresses
  a block when it is sealed, in the background: the sum is taken after its clean stop.
- persist_mode default / async under `sync_interval: always`: the same publish.
The figures: publish msg/s and the server's CPU µs per message (user + system, from /proc),
read msg/s and CPU µs per read, and on-disk bytes. The client is Python: at high rates it is
the bottleneck, so CPU per message is the figure to compare, not msg/s.

    perf/js_compression.py --natrix target/release/natrix --nats-server .venv/bin/nats-server
"""
import argparse, base64, json, os, subprocess, tempfile, time

from natsraw import Conn, cpu_s, free_port


def order(i):
    items = ",".join(
        '{"sku":"SKU-%04d","qty":%d,"note":"standard shipping"}' % (k * 7, k % 3 + 1)
        for k in range(12)
    )
    return ('{"order":%d,"customer":"c-%d","items":[%s]}' % (i, i % 97, items)).encode()


def publish(c, n, window):
    sent = acked = 0
    while acked < n:
        out = []
        while sent < n and sent - acked < window:
            p = order(sent)
            out.append(b"PUB o.x _A.%d %d\r\n%s\r\n" % (sent, len(p), p))
            sent += 1
        if out:
            c.s.sendall(b"".join(out))
        ack = json.loads(c.msg()[1])
        assert "error" not in ack, ack
        acked += 1


def read_all(c, n):
    for seq in range(1, n + 1):
        r = c.request("$JS.API.STREAM.MSG.GET.O", {"seq": seq})
        assert base64.b64decode(r["message"]["data"]) == order(seq - 1), seq


def blk_bytes(root):
    total = 0
    for d, _, files in os.walk(root):
        total += sum(os.path.getsize(os.path.join(d, f)) for f in files if f.endswith(".blk"))
    return total


def case(cmd, cfg, n, window, sync_always, read):
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        conf = os.path.join(d, "js.conf")
        extra = ", sync_interval: always" if sync_always else ""
        with open(conf, "w") as f:
            f.write('port: %d\njetstream { store_dir: "%s/s"%s }\n' % (port, d, extra))
        p = subprocess.Popen(cmd + ["-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    c = Conn(port, inbox="_A")
                    break
                except OSError:
                    time.sleep(0.05)
            r = c.request("$JS.API.STREAM.CREATE.O", dict(cfg, name="O", subjects=["o.>"]))
            assert "error" not in r, r
            out = {}
            cpu0, t0 = cpu_s(p.pid), time.perf_counter()
            publish(c, n, window)
            t1, cpu1 = time.perf_counter(), cpu_s(p.pid)
            out["pub_rate"] = n / (t1 - t0)
            out["pub_cpu_us"] = (cpu1 - cpu0) / n * 1e6
            if read:
                read_all(c, n)
                t2, cpu2 = time.perf_counter(), cpu_s(p.pid)
                out["read_rate"] = n / (t2 - t1)
                out["read_cpu_us"] = (cpu2 - cpu1) / n * 1e6
        finally:
            p.terminate()
            p.wait()
        out["blk_bytes"] = blk_bytes(d)
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--natrix", required=True)
    ap.add_argument("--nats-server", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-n", type=int, default=30000)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--jsonl")
    a = ap.parse_args()
    servers = (("natrix", [a.natrix]), ("nats-server", [a.nats_server]))
    cases = [
        ("compression none", {"compression": "none"}, False, True),
        ("compression s2", {"compression": "s2"}, False, True),
        ("sync always, persist default", {}, True, False),
        ("sync always, persist async", {"persist_mode": "async"}, True, False),
    ]
    load = os.getloadavg()
    print("load average at start: %.2f %.2f %.2f; %d orders of %d B, window %d" % (
        load + (a.n, len(order(a.n // 2)), a.window)))
    results = {}
    for rnd in range(a.rounds):
        for label, cfg, sync_always, read in cases:
            for name, cmd in servers if rnd % 2 == 0 else servers[::-1]:
                r = case(cmd, cfg, a.n, a.window, sync_always, read)
                results.setdefault((label, name), []).append(r)
                if a.jsonl:
                    with open(a.jsonl, "a") as f:
                        f.write(json.dumps(dict(r, case=label, server=name, round=rnd)) + "\n")
    med = lambda rs, k: sorted(r[k] for r in rs)[len(rs) // 2]
    print("| case | server | publish msg/s | publish CPU µs/msg | read msg/s | read CPU µs/msg | .blk bytes |")
    print("|---|---|---|---|---|---|---|")
    for label, _, _, read in cases:
        for name, _ in servers:
            rs = results[(label, name)]
            rd = ("%.0f" % med(rs, "read_rate"), "%.1f" % med(rs, "read_cpu_us")) if read else ("–", "–")
            print("| %s | %s | %.0f | %.1f | %s | %s | %d |" % (
                label, name, med(rs, "pub_rate"), med(rs, "pub_cpu_us"), rd[0], rd[1], med(rs, "blk_bytes")))
    print("medians of %d rounds" % a.rounds)


if __name__ == "__main__":
    main()
