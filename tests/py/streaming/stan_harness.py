"""Harness for the asyncio-nats-streaming tests: natrix serving NATS Streaming, one process per
test, and small helpers around the client.

The server binary is $NATS_SERVER_UNDER_TEST (tests/stan_python_client.rs passes natrix; there
is no nats-streaming-server binary on the registries, so there is no reference run). The
fixture starts `<bin> -a 127.0.0.1 -p <port> --shards 2 -cid test-cluster <extra...>`, reads
the port from "Listening for client connections on host:port", then waits until
`_STAN.discover.test-cluster` answers (any answer: the probe sends an undecodable
ConnectRequest, which gets "stan: invalid connection request"), because the client sends its
ConnectRequest once and gives up after 2 s.
Every server a test started is killed when the test ends, whatever its outcome.
"""

import asyncio
import os
import queue
import re
import socket
import subprocess
import threading
import time

import pytest
from nats.aio.client import Client as NATS
from stan.aio.client import Client as STAN

CLUSTER_ID = "test-cluster"
# Two shards, so clients of one test may land on different cores (the harder case for queue
# groups and acks, which then cross shards).
SHARDS = 2
START_TIMEOUT_S = 10
STAN_READY_TIMEOUT_S = 10
# Every wait in a test is bounded by this, so a hung server fails the test, not the suite.
CLIENT_TIMEOUT_S = 5
# A whole test body.
TEST_TIMEOUT_S = 40

LISTENING = re.compile(r"Listening for client connections on (\S+):(\d+)")


def _read_lines(stream, lines):
    for line in iter(stream.readline, ""):
        lines.put(line.rstrip("\n"))
    stream.close()


def _stan_answers(port, deadline):
    """A raw NATS connection that saw `_STAN.discover.<cid>` answer, or None by `deadline`."""
    while time.monotonic() < deadline:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=1)
        except OSError:
            time.sleep(0.05)
            continue
        sock.settimeout(0.25)
        sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB _INBOX.ready.* 1\r\n')
        seen = b""
        n = 0
        while time.monotonic() < deadline:
            n += 1
            sock.sendall(
                f"PUB _STAN.discover.{CLUSTER_ID} _INBOX.ready.{n} 1\r\n".encode() + b"\xff\r\n"
            )
            try:
                seen += sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if b"MSG _INBOX.ready." in seen:
                return sock
            seen = seen[-64:]
        sock.close()
    return None


class Server:
    """natrix serving STAN; `url` is where clients connect."""

    def __init__(self, binary, args, tmp_path):
        self.binary = binary
        self.args = args
        self.tmp_path = tmp_path
        self.port = None
        self.proc = None
        self.log = []
        self._lines = None
        self._probe = None

    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def start(self):
        """Starts natrix (on the same port as before after a kill); waits for STAN."""
        port = str(self.port) if self.port else "-1"
        cmd = [
            self.binary, "-a", "127.0.0.1", "-p", port, "--shards", str(SHARDS),
            "-cid", CLUSTER_ID, *self.args,
        ]
        self.log.append("--- " + " ".join(cmd))
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = self._lines = queue.Queue()
        reader = threading.Thread(target=_read_lines, args=(self.proc.stderr, lines), daemon=True)
        reader.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        ready = False
        while time.monotonic() < deadline and not ready:
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.log.append(line)
            m = LISTENING.search(line)
            if m:
                self.port = int(m.group(2))
            ready = "Server is ready" in line
        if ready:
            self._probe = _stan_answers(self.port, time.monotonic() + STAN_READY_TIMEOUT_S)
        if not ready or self._probe is None:
            self.kill()
            text = "\n".join(self.log)
            pytest.fail(f"natrix did not serve STAN ({' '.join(cmd)}):\n{text}")
        return self

    def kill(self):
        """SIGKILLs natrix (no clean shutdown) and waits for it."""
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=START_TIMEOUT_S)
            self.proc = None
        self.drain_log()

    def drain_log(self):
        """Moves what natrix logged since start() into `log`."""
        while self._lines is not None:
            try:
                self.log.append(self._lines.get_nowait())
            except queue.Empty:
                break


@pytest.fixture
def natrix(tmp_path):
    """Starts natrix serving STAN: `start(*extra_flags) -> Server`."""
    binary = os.environ.get("NATS_SERVER_UNDER_TEST")
    if not binary:
        pytest.fail("set NATS_SERVER_UNDER_TEST to the natrix binary")
    started = []

    def start(*extra):
        srv = Server(binary, list(extra), tmp_path)
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        srv.kill()


def run(coro):
    """Runs one test body on a fresh event loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout=TEST_TIMEOUT_S))


class Conn:
    """One STAN session on its own NATS connection, as an app has it."""

    def __init__(self, nc, sc):
        self.nc = nc
        self.sc = sc

    async def close(self):
        """stan close() (the CloseRequest), then the NATS connection."""
        await self.sc.close()
        await self.nc.close()

    async def restart_server(self, srv):
        """SIGKILLs `srv` and starts it again on its port, off the event loop (so this client
        sees its connection drop meanwhile), then waits until the NATS connection is back: a
        publish this client makes before it has reconnected never reaches the new server
        (seen in natrix's -V trace: no PUB arrives)."""
        reconnects = self.nc.stats["reconnects"]
        await asyncio.to_thread(srv.kill)
        await asyncio.to_thread(srv.start)
        deadline = time.monotonic() + 3 * CLIENT_TIMEOUT_S
        while self.nc.stats["reconnects"] == reconnects or not self.nc.is_connected:
            if time.monotonic() > deadline:
                pytest.fail("the NATS connection did not come back after the restart")
            await asyncio.sleep(0.05)

    async def drop(self):
        """Closes only the NATS connection: the process died without a CloseRequest."""
        await self.nc.close()


async def connect(srv, client_id, **stan_options):
    """A NATS connection (no reconnects unless asked) and a STAN session on it."""
    reconnect = stan_options.pop("allow_reconnect", False)
    nc = NATS()
    await nc.connect(
        servers=[srv.url()],
        allow_reconnect=reconnect,
        max_reconnect_attempts=60 if reconnect else 0,
        reconnect_time_wait=0.2,
        connect_timeout=CLIENT_TIMEOUT_S,
    )
    sc = STAN()
    try:
        await sc.connect(CLUSTER_ID, client_id, nats=nc, **stan_options)
    except Exception:
        await nc.close()
        raise
    return Conn(nc, sc)


class Inbox:
    """What one subscription received: (monotonic time, Msg), in arrival order.

    With `ack=True` it acks every message as it arrives (for a manual-ack subscription); without
    it a manual-ack subscription is the seed's failing handler, which never acks.
    """

    def __init__(self, conn=None, ack=False):
        self.conn = conn
        self.ack = ack
        self.got = []
        self._changed = asyncio.Event()

    async def cb(self, msg):
        self.got.append((time.monotonic(), msg))
        if self.ack:
            await self.conn.sc.ack(msg)
        self._changed.set()

    def seqs(self):
        return [m.seq for _, m in self.got]

    def redelivered(self):
        return [m.seq for _, m in self.got if m.proto.redelivered]

    async def wait_for(self, n, timeout=CLIENT_TIMEOUT_S):
        """Waits until at least `n` messages arrived; fails the test after `timeout`."""
        deadline = time.monotonic() + timeout
        while len(self.got) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"got {self.seqs()} within {timeout}s, wanted {n} messages")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def quiet(self, seconds):
        """Waits `seconds` and returns what arrived meanwhile (for messages that must not come)."""
        before = len(self.got)
        await asyncio.sleep(seconds)
        return [m.seq for _, m in self.got[before:]]


async def publish_all(conn, channel, payloads):
    """Publishes each payload and waits for its PubAck; returns the acks."""
    return [await conn.sc.publish(channel, p, ack_wait=CLIENT_TIMEOUT_S) for p in payloads]
