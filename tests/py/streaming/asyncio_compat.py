"""Gives back the `loop=` argument that Python 3.10 removed from four asyncio calls, so the
NATS Streaming client of 2019 runs unchanged on this machine's Python 3.11.

asyncio-nats-streaming 0.4.0 and asyncio-nats-client 0.11.5 (the `nats` package it was
written against) pass `loop=` to `asyncio.Queue`, `asyncio.wait_for`, `asyncio.sleep` and
`asyncio.open_connection`. Up to Python 3.9 those took it (deprecated since 3.8); 3.10 turned
it into a TypeError, so on 3.11 `connect()` fails before a byte reaches the server. The
libraries themselves are installed from PyPI as published and are not edited.

The shim is strict: it drops `loop` only when it is None or the running loop, which is what
3.9 did with it anyway (both libraries only ever pass the loop they run on); any other loop
raises, so it cannot hide a real difference. On Python < 3.10 it does nothing.
"""

import asyncio
import functools
import sys


def _check_loop(loop):
    if loop is None:
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop is not running:
        raise RuntimeError("asyncio_compat: loop= is not the running loop; refusing to drop it")


def _dropping_loop(fn):
    @functools.wraps(fn)
    def call(*args, loop=None, **kwargs):
        _check_loop(loop)
        return fn(*args, **kwargs)

    return call


class _Queue(asyncio.Queue):
    def __init__(self, maxsize=0, *, loop=None):
        _check_loop(loop)
        super().__init__(maxsize)


def install():
    """Applies the shim once (idempotent); a no-op before Python 3.10."""
    if sys.version_info < (3, 10) or getattr(asyncio, "_natrix_loop_compat", False):
        return
    asyncio.Queue = _Queue
    asyncio.wait_for = _dropping_loop(asyncio.wait_for)
    asyncio.sleep = _dropping_loop(asyncio.sleep)
    asyncio.open_connection = _dropping_loop(asyncio.open_connection)
    asyncio._natrix_loop_compat = True
