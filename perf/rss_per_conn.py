#!/usr/bin/env python3
"""Resident memory per idle connection with one subscription, natrix against nats-server.

Starts each server on an ephemeral port, reads its VmRSS, opens N connections that each send
CONNECT, one SUB and a PING and wait for the PONG, lets them sit idle, reads VmRSS again and
prints (after - before) / N. Usage:

    perf/rss_per_conn.py [--conns N] [--idle-s S] NAME=BINARY[:EXTRA ARGS] ...

e.g. perf/rss_per_conn.py natrix=target/release/natrix:--shards=2 \
         nats-server=/work/main/.venv/bin/nats-server
"""
import argparse, re, resource, socket, subprocess, time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def start(binary, extra):
    args = [binary, "-a", "127.0.0.1", "-p", "-1" if "nats-server" in binary else "0"] + extra
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    port, deadline = None, time.time() + 10
    while time.time() < deadline:
        line = p.stderr.readline()
        m = re.search(r"Listening for client connections on [^\s]+:(\d+)", line)
        if m:
            port = int(m.group(1))
        if "Server is ready" in line:
            break
    if port is None:
        p.kill()
        raise RuntimeError(f"{binary} did not start")
    return p, port


def read_until(s, want):
    got = b""
    while want not in got:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("closed")
        got += chunk


def measure(binary, extra, conns, idle_s):
    p, port = start(binary, extra)
    try:
        time.sleep(0.5)
        before = rss_kib(p.pid)
        socks = []
        for i in range(conns):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB rss.%d 1\r\nPING\r\n' % i)
            socks.append(s)
            if i % 500 == 499:
                read_until(s, b"PONG\r\n")
        for i, s in enumerate(socks):
            if i % 500 != 499:
                read_until(s, b"PONG\r\n")
        time.sleep(idle_s)
        after = rss_kib(p.pid)
        for s in socks:
            s.close()
        return before, after
    finally:
        p.kill()
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--idle-s", type=float, default=2.0)
    ap.add_argument("servers", nargs="+")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"| server | connections | RSS before (KiB) | RSS after (KiB) | KiB per connection |")
    print(f"|---|---|---|---|---|")
    for spec in a.servers:
        name, _, rest = spec.partition("=")
        binary, _, extra = rest.partition(":")
        extra = [x for x in extra.replace("=", " ").split() if x]
        before, after = measure(binary, extra, a.conns, a.idle_s)
        print(f"| {name} | {a.conns} | {before} | {after} | {(after - before) / a.conns:.1f} |")


if __name__ == "__main__":
    main()
