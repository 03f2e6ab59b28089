#!/usr/bin/env python3
"""Start-up recovery of a big JetStream stream (issue 10), natrix and nats-server in one run.

For each server: start it on a fresh store (`-js -sd <tempdir>`, servers on CPUs 0,1), fill
the stream NATRIX_BENCH with --msgs messages of --size bytes through `natrix-bench jspub`
(window 256, every publish acknowledged), then

1. SIGKILL it and start it again on the same store: the crash recovery;
2. SIGTERM that one and start it again: the restart after a clean shutdown.

Each restart is timed from the spawn to the first `$JS.API.STREAM.INFO.NATRIX_BENCH` answer
that reports every message (polled every 5 ms over a raw connection). The resident set after
each start is read from /proc (at once and 5 s later); the later one's growth over the same server's on an empty store, divided
by the message count, bounds the RAM the server spends per stored message from above.

    perf/recovery.py --natrix target/release/natrix --nats-server .venv/bin/nats-server \\
        --bench target/release/natrix-bench --msgs 10000000
"""
import argparse, json, os, shutil, signal, socket, subprocess, sys, tempfile, time

from natsraw import free_port, rss_kib


STREAM = "NATRIX_BENCH"
POLL_S = 0.005
SETTLE_S = 5


def read_reply(sock, buf):
    """Reads one MSG frame; returns (payload, rest of the buffer)."""
    while True:
        while b"\r\n" in buf:
            line, rest = buf.split(b"\r\n", 1)
            if line.startswith(b"MSG "):
                size = int(line.split()[-1])
                while len(rest) < size + 2:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed")
                    rest += chunk
                return rest[:size], rest[size + 2:]
            if line == b"PING":
                sock.sendall(b"PONG\r\n")
            if line.startswith(b"-ERR"):
                raise ConnectionError(line.decode())
            buf = rest
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk


def stream_messages(port):
    """The stream's message count from STREAM.INFO, -1 if the server answers that it has no
    such stream, None while it does not answer."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        return None
    try:
        sock.sendall(b'CONNECT {"verbose":false,"headers":true}\r\nSUB _R.recovery 1\r\n'
                     + f"PUB $JS.API.STREAM.INFO.{STREAM} _R.recovery 0\r\n\r\n".encode())
        payload, _ = read_reply(sock, b"")
        info = json.loads(payload)
        if "error" in info:
            return -1  # serving, but no such stream (yet)
        return info.get("state", {}).get("messages")
    except (OSError, ValueError, ConnectionError):
        return None
    finally:
        sock.close()


def start(cmd, log):
    return subprocess.Popen(["taskset", "-c", "0,1", *cmd], stdout=log, stderr=subprocess.STDOUT)


def wait_for(port, want, proc, limit_s):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        got = stream_messages(port)
        if got is not None and got >= want:
            return got
        time.sleep(POLL_S)
    raise RuntimeError(f"stream not served with {want} messages within {limit_s} s")


def stop(proc, sig):
    proc.send_signal(sig)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(name, cmd_for, args):
    store = tempfile.mkdtemp(prefix=f"natrix-recovery-{name}-")
    port = free_port()
    cmd = cmd_for(port, store)
    log = open(os.path.join(store, "..", f"{os.path.basename(store)}.log"), "w")
    row = {"server": name, "msgs": args.msgs, "size": args.size}
    proc = None
    try:
        proc = start(cmd, log)
        wait_for(port, -1, proc, 30)
        row["rss_empty_kib"] = rss_kib(proc.pid)
        fill = subprocess.run(
            [args.bench, "jspub", "--server", f"127.0.0.1:{port}", "--size", str(args.size),
             "--msgs", str(args.msgs), "--window", "256", "--timeout", str(args.fill_timeout_s)],
            capture_output=True, text=True)
        if fill.returncode != 0:
            raise RuntimeError(f"fill failed: {fill.stdout[-500:]} {fill.stderr[-500:]}")
        row["fill"] = next((l.strip() for l in fill.stdout.splitlines() if "throughput" in l), "")
        row["rss_filled_kib"] = rss_kib(proc.pid)
        row["store_bytes"] = sum(os.path.getsize(os.path.join(d, f))
                                 for d, _, fs in os.walk(store) for f in fs)
        for label, sig in (("after_sigkill", signal.SIGKILL), ("after_sigterm", signal.SIGTERM)):
            stop(proc, sig)
            t0 = time.monotonic()
            proc = start(cmd, log)
            got = wait_for(port, args.msgs, proc, args.recover_timeout_s)
            row[f"{label}_s"] = round(time.monotonic() - t0, 3)
            row[f"{label}_messages"] = got
            row[f"{label}_rss_kib"] = rss_kib(proc.pid)
            time.sleep(SETTLE_S)  # allocators hand freed memory back after a delay
            row[f"{label}_rss_settled_kib"] = rss_kib(proc.pid)
        return row
    finally:
        if proc is not None and proc.poll() is None:
            stop(proc, signal.SIGKILL)
        log.close()
        shutil.rmtree(store, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--natrix", default="target/release/natrix")
    ap.add_argument("--nats-server", default=".venv/bin/nats-server")
    ap.add_argument("--bench", default="target/release/natrix-bench")
    ap.add_argument("--msgs", type=int, default=10_000_000)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--fill-timeout-s", type=int, default=600)
    ap.add_argument("--recover-timeout-s", type=int, default=300)
    args = ap.parse_args()
    servers = {
        "natrix": lambda port, store: [args.natrix, "-a", "127.0.0.1", "-p", str(port),
                                       "-js", "-sd", store],
        "nats-server": lambda port, store: [args.nats_server, "-a", "127.0.0.1", "-p", str(port),
                                            "-js", "-sd", store],
    }
    for name, cmd_for in servers.items():
        row = measure(name, cmd_for, args)
        grown = row["after_sigterm_rss_settled_kib"] - row["rss_empty_kib"]
        row["rss_bytes_per_msg_after_sigterm"] = round(grown * 1024 / args.msgs, 1)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    sys.exit(main())
