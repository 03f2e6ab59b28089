#!/usr/bin/env python3
"""The cross-shard propagation window (issue 9 point 7), natrix and nats-server in one run.

Two raw connections (on natrix they land on different shards: connections are dealt out
round-robin): one sends `SUB w.<i>`, waits DELAY, and the other publishes on `w.<i>`
without any PING in between. A message that does not arrive within 200 ms is a miss: the SUB
had not reached the publisher's side yet. NATS promises nothing without a PING, so this
measures how wide the window is, not a guarantee.

    perf/propagation_window.py --natrix target/release/natrix --nats-server .venv/bin/nats-server
"""
import argparse, socket, subprocess, time

from natsraw import free_port


def conn(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.recv(4096)
    s.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
    b = b""
    while b"PONG" not in b:
        b += s.recv(4096)
    return s


def misses(port, delay_ms, tries):
    sub, pub = conn(port), conn(port)
    miss = 0
    for i in range(tries):
        subj = b"w.%d" % i
        sub.sendall(b"SUB " + subj + b" %d\r\n" % (i + 1))
        if delay_ms > 0:
            end = time.perf_counter() + delay_ms / 1000
            while time.perf_counter() < end:
                pass
        pub.sendall(b"PUB " + subj + b" 1\r\nx\r\n")
        sub.settimeout(0.2)
        got = b""
        try:
            while b"MSG" not in got:
                got += sub.recv(4096)
        except socket.timeout:
            miss += 1
    return miss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--natrix", required=True)
    ap.add_argument("--nats-server", required=True)
    ap.add_argument("--tries", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    delays = [0.0, 0.05, 0.1, 0.2, 0.5, 1.0]
    res = {}
    for _ in range(a.rounds):
        for name, cmd in (("natrix (2 shards)", [a.natrix, "--shards", "2"]), ("nats-server", [a.nats_server])):
            port = free_port()
            p = subprocess.Popen(cmd + ["-a", "127.0.0.1", "-p", str(port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.6)
            try:
                for d in delays:
                    res.setdefault((name, d), []).append(misses(port, d, a.tries))
            finally:
                p.kill()
                p.wait()
    print("| delay (busy-wait) | natrix (2 shards) misses | nats-server misses |")
    print("|---|---|---|")
    for d in delays:
        row = [",".join(str(m) for m in res[(n, d)]) for n in ("natrix (2 shards)", "nats-server")]
        print(f"| {d} ms | {row[0]} of {a.tries} | {row[1]} of {a.tries} |")


if __name__ == "__main__":
    main()
