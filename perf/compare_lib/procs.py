"""Child processes for perf/compare: the servers under test and natrix-bench.

Every child is registered while it lives, asks the kernel to kill it if this script dies
(PR_SET_PDEATHSIG), and is stopped by `stop_all()` on any way out (normal end, exception,
Ctrl-C, SIGTERM). A server is started fresh for every run and stopped right after it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

# Both natrix and nats-server log this line on stderr once the listener is bound.
LISTEN_RE = re.compile(r"Listening for client connections on ([0-9.]+):(\d+)")

# Processes that would skew a measurement if they were running already.
WATCHED_COMMS = ("natrix", "nats-server", "natrix-bench")

SERVER_START_TIMEOUT_S = 15.0
SERVER_STOP_TIMEOUT_S = 5.0

_live: dict[int, subprocess.Popen] = {}


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when this script's thread goes away."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def spawn(argv: list[str], env: dict | None = None, **popen_kwargs) -> subprocess.Popen:
    """Popen that registers the child for cleanup."""
    proc = subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent, **popen_kwargs)
    _live[proc.pid] = proc
    return proc


def stop(proc: subprocess.Popen, timeout_s: float = SERVER_STOP_TIMEOUT_S) -> str:
    """SIGTERM, then SIGKILL after `timeout_s`. Returns how it ended: 'exited' (before we
    asked), 'sigterm' or 'sigkill'."""
    try:
        if proc.poll() is not None:
            return "exited"
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
            return "sigterm"
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return "sigkill"
    finally:
        _live.pop(proc.pid, None)


def stop_all() -> None:
    """Stops every child still registered (on the way out)."""
    for proc in list(_live.values()):
        stop(proc, timeout_s=2.0)


def live_pids() -> set[int]:
    return set(_live)


def stray_processes(ignore: set[int] = frozenset()) -> list[tuple[int, str]]:
    """Running natrix / nats-server / natrix-bench processes that are not ours:
    [(pid, command line)]."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == me or pid in ignore:
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            if comm not in WATCHED_COMMS:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or a kernel thread
            continue
        found.append((pid, cmdline.strip() or comm))
    return found


@dataclass
class RunningServer:
    proc: subprocess.Popen
    port: int
    log_path: Path
    argv: list[str]
    info: dict = field(default_factory=dict)
    stopped_by: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _wait_for_port(proc: subprocess.Popen, log_path: Path, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        match = LISTEN_RE.search(log_path.read_text(errors="replace"))
        if match:
            return int(match.group(2))
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening")
        time.sleep(0.01)
    raise RuntimeError(f"server did not log its port within {timeout_s:.0f} s")


def _read_info(port: int, timeout_s: float) -> dict:
    """Connects once and reads the INFO line: the server is accepting clients."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
                data = b""
                while b"\r\n" not in data:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed before INFO")
                    data += chunk
            line = data.split(b"\r\n", 1)[0]
            if not line.startswith(b"INFO "):
                raise RuntimeError(f"expected INFO, got {line[:80]!r}")
            return json.loads(line[5:])
        except (OSError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextlib.contextmanager
def running_server(argv: list[str], env: dict, log_path: Path):
    """Starts a server, waits until it logs its port and answers with INFO, yields a
    RunningServer, and stops it (SIGTERM, then SIGKILL) however the block ends. The way it
    stopped is left in `server.stopped_by`."""
    with open(log_path, "wb") as log:
        proc = spawn(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    server = RunningServer(proc=proc, port=0, log_path=log_path, argv=argv)
    try:
        server.port = _wait_for_port(proc, log_path, SERVER_START_TIMEOUT_S)
        server.info = _read_info(server.port, SERVER_START_TIMEOUT_S)
        yield server
    finally:
        server.stopped_by = stop(proc)


@dataclass
class BenchOutcome:
    ok: bool
    result: dict | None
    error: str | None
    wall_s: float
    returncode: int | None


def run_bench(argv: list[str], timeout_s: float) -> BenchOutcome:
    """Runs natrix-bench once and parses its one JSON object from stdout."""
    started = time.monotonic()
    proc = spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop(proc, timeout_s=1.0)
        return BenchOutcome(False, None, f"natrix-bench did not finish within {timeout_s:.0f} s",
                            time.monotonic() - started, None)
    finally:
        if proc.poll() is None:
            stop(proc, timeout_s=1.0)
        _live.pop(proc.pid, None)
    wall = time.monotonic() - started
    err_text = err.decode(errors="replace").strip()
    out_text = out.decode(errors="replace").strip()
    result = None
    try:
        parsed = json.loads(out_text)
        if isinstance(parsed, dict):
            result = parsed
    except ValueError:
        pass
    if proc.returncode == 0 and result is not None:
        return BenchOutcome(True, result, None, wall, 0)
    # natrix-bench prints its JSON (with an "error" key) even when a run fails; keep it.
    reason = (result or {}).get("error") or err_text[-800:] or f"unreadable output {out_text[:300]!r}"
    return BenchOutcome(False, result, f"natrix-bench exited {proc.returncode}: {reason}", wall, proc.returncode)
