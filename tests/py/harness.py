"""Harness for the nats-py tests: one server process per test, from a config file.

conftest.py hands the `server` fixture to pytest; the tests import the helpers from here.

The server binary comes from $NATS_SERVER_UNDER_TEST (natrix or the reference nats-server; both
take the same flags and config format). Each test writes its config into a temporary folder,
starts `<bin> -c <conf> -a 127.0.0.1 -p -1`, waits for "Server is ready" on stderr, reads the
port from "Listening for client connections on host:port", and the fixture kills the process
when the test ends, whatever its outcome.
"""

import asyncio
import os
import queue
import re
import ssl
import subprocess
import threading
import time
from pathlib import Path

import nats
import pytest

CERTS = Path(__file__).resolve().parent.parent / "certs"

START_TIMEOUT_S = 10
# Every client call in the tests is bounded by this, so a hung server fails the test instead of
# the suite.
CLIENT_TIMEOUT_S = 5

LISTENING = re.compile(r"Listening for client connections on (\S+):(\d+)")


def cert(name):
    """Path of a fixture in tests/certs, as a string for config files and ssl."""
    return str(CERTS / name)


class Server:
    """A running server; `url` is where clients connect."""

    def __init__(self, proc, port, log):
        self.proc = proc
        self.port = port
        self.log = log

    def url(self, scheme="nats"):
        return f"{scheme}://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=START_TIMEOUT_S)


def _read_lines(stream, lines):
    for line in iter(stream.readline, ""):
        lines.put(line.rstrip("\n"))
    stream.close()


@pytest.fixture
def server(tmp_path):
    """Starts a server from config text; returns a function `start(conf) -> Server`."""
    binary = os.environ.get("NATS_SERVER_UNDER_TEST")
    if not binary:
        pytest.fail("set NATS_SERVER_UNDER_TEST to the server binary to test")
    started = []

    def start(conf):
        conf_path = tmp_path / f"server{len(started)}.conf"
        conf_path.write_text(conf)
        proc = subprocess.Popen(
            [binary, "-c", str(conf_path), "-a", "127.0.0.1", "-p", "-1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = queue.Queue()
        threading.Thread(target=_read_lines, args=(proc.stderr, lines), daemon=True).start()
        log = []
        port = None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            log.append(line)
            m = LISTENING.search(line)
            if m:
                port = int(m.group(2))
            if "Server is ready" in line:
                break
        else:
            proc.kill()
        srv = Server(proc, port, log)
        started.append(srv)
        if port is None or proc.poll() is not None:
            srv.stop()
            text = "\n".join(log)
            pytest.fail(f"{binary} did not start with config:\n{conf}\nlog:\n{text}")
        return srv

    yield start
    for srv in started:
        srv.stop()


def run(coro):
    """Runs one test coroutine with a fresh event loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout=4 * CLIENT_TIMEOUT_S))


async def connect(url, **options):
    """nats-py connect that fails at once instead of retrying: every test connects once."""
    options.setdefault("allow_reconnect", False)
    options.setdefault("max_reconnect_attempts", 0)
    options.setdefault("connect_timeout", CLIENT_TIMEOUT_S)
    return await nats.connect(url, **options)


async def assert_round_trip(nc, subject="check.round_trip"):
    """A message published on `nc` comes back to a subscription on `nc`."""
    sub = await nc.subscribe(subject)
    await nc.publish(subject, b"hello")
    msg = await sub.next_msg(timeout=CLIENT_TIMEOUT_S)
    assert msg.data == b"hello"
    await sub.unsubscribe()


def client_tls(ca="ca.pem", cert_name=None, key_name=None):
    """An ssl context that trusts `ca` and, when given, presents a client certificate."""
    ctx = ssl.create_default_context(cafile=cert(ca))
    if cert_name:
        ctx.load_cert_chain(cert(cert_name), cert(key_name))
    return ctx
