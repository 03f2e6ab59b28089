"""JetStream consumers, Key-Value and Object Store through nats-py (issue 11): pull_subscribe +
fetch, msg.metadata, ack / ack_sync / nak / nak(delay) / in_progress / term, seed 003's TASKS work
queue with the durable `task-processors`, a push subscription with a queue group, KV (create
bucket, put, get, update by revision, create-if-absent, delete, history, keys, watch) and Object
Store put / get / info / list / delete.

Each test starts its own server with its store in the test's temp folder."""

import asyncio
import json
import os
import time

import pytest
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    RetentionPolicy,
)
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.errors import TimeoutError as NatsTimeoutError

from harness import CLIENT_TIMEOUT_S, connect, run

def js_conf(tmp_path):
    store = tmp_path / "js"
    return f'jetstream {{\n  store_dir: "{store}"\n}}\n'


async def js_context(srv):
    nc = await connect(srv.url())
    return nc, nc.jetstream(timeout=CLIENT_TIMEOUT_S)


async def fetch_or_none(psub, batch, timeout):
    """fetch that returns [] where nats-py raises its timeout (nothing came)."""
    try:
        return await psub.fetch(batch, timeout=timeout)
    except NatsTimeoutError:
        return []


def test_pull_subscribe_fetch_and_metadata(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        await js.add_stream(name="ORDERS", subjects=["orders.>"])
        for i in range(1, 6):
            await js.publish("orders.new", f"order-{i}".encode())
        psub = await js.pull_subscribe("orders.new", durable="worker")
        msgs = await psub.fetch(3, timeout=2)
        assert [m.data for m in msgs] == [b"order-1", b"order-2", b"order-3"]
        md = msgs[0].metadata
        assert (md.stream, md.consumer) == ("ORDERS", "worker")
        assert (md.sequence.stream, md.sequence.consumer, md.num_delivered) == (1, 1, 1)
        assert [m.metadata.num_pending for m in msgs] == [4, 3, 2]
        for m in msgs:
            await m.ack_sync()
        info = await js.consumer_info("ORDERS", "worker")
        assert info.config.durable_name == "worker"
        assert info.config.filter_subject == "orders.new"
        assert info.config.ack_policy == AckPolicy.EXPLICIT
        assert (info.delivered.stream_seq, info.ack_floor.stream_seq) == (3, 3)
        assert (info.num_ack_pending, info.num_pending) == (0, 2)

        rest = await psub.fetch(10, timeout=1)
        assert [m.data for m in rest] == [b"order-4", b"order-5"]
        t0 = time.monotonic()
        assert await fetch_or_none(psub, 1, 1) == []
        assert time.monotonic() - t0 < 3
        await nc.close()

    run(body())


def test_nak_redelivers_and_nak_with_delay_waits(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        await js.add_stream(name="NAK", subjects=["nak.>"])
        await js.publish("nak.x", b"again")
        psub = await js.pull_subscribe("nak.x", durable="c")
        (m,) = await psub.fetch(1, timeout=2)
        await m.nak()
        (m,) = await psub.fetch(1, timeout=2)
        assert m.data == b"again"
        assert (m.metadata.num_delivered, m.metadata.sequence.consumer) == (2, 2)
        t0 = time.monotonic()
        await m.nak(delay=1)
        (m,) = await psub.fetch(1, timeout=4)
        took = time.monotonic() - t0
        assert m.metadata.num_delivered == 3
        assert 0.9 <= took < 3, took
        info = await js.consumer_info("NAK", "c")
        assert (info.num_ack_pending, info.num_redelivered) == (1, 1)
        await nc.close()

    run(body())


def test_term_stops_redelivery_and_in_progress_holds_it_off(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        await js.add_stream(name="TW", subjects=["tw.>"])
        await js.publish("tw.x", b"poison")
        await js.publish("tw.x", b"slow")
        psub = await js.pull_subscribe(
            "tw.x", durable="c", config=ConsumerConfig(ack_wait=1)
        )
        poison, slow = await psub.fetch(2, timeout=2)
        await poison.term()
        for _ in range(5):
            await asyncio.sleep(0.4)
            await slow.in_progress()
        # 2 s passed, twice the ack wait: neither came back.
        info = await js.consumer_info("TW", "c")
        assert info.num_redelivered == 0, info
        assert info.num_ack_pending == 1, info
        (again,) = await psub.fetch(1, timeout=3)
        assert again.data == b"slow"
        assert again.metadata.num_delivered == 2
        await again.ack_sync()
        assert await fetch_or_none(psub, 1, 1.5) == []
        info = await js.consumer_info("TW", "c")
        assert (info.ack_floor.stream_seq, info.num_ack_pending) == (2, 0)
        await nc.close()

    run(body())


def test_seed_003_tasks_work_queue_with_task_processors(server, tmp_path):
    """Seed 003's JetStream section in nats-py terms: stream TASKS on tasks.> with workqueue
    retention, max_msgs 100000 and max_age 24 h; ten JSON tasks on tasks.process; a durable
    pull consumer `task-processors` fetching up to 10 with a 5 s expiry, acking each task (it
    leaves the stream) and nak'ing one failure (it comes back)."""
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        await js.add_stream(
            name="TASKS",
            subjects=["tasks.>"],
            retention=RetentionPolicy.WORK_QUEUE,
            max_msgs=100000,
            max_age=24 * 60 * 60,
        )
        for i in range(1, 11):
            task = {"id": f"task-{i}", "type": "process", "data": {"value": i * 10}}
            ack = await js.publish("tasks.process", json.dumps(task).encode())
            assert (ack.stream, ack.seq) == ("TASKS", i)
        psub = await js.pull_subscribe("tasks.>", durable="task-processors", stream="TASKS")
        done, failed_once = [], False
        while len(done) < 10:
            msgs = await psub.fetch(10, timeout=5)
            for msg in msgs:
                task = json.loads(msg.data)
                if task["id"] == "task-3" and not failed_once:
                    failed_once = True
                    await msg.nak()
                    continue
                await msg.ack_sync()
                done.append(task["id"])
        assert sorted(done) == sorted(f"task-{i}" for i in range(1, 11))
        assert failed_once
        state = (await js.stream_info("TASKS")).state
        assert state.messages == 0, state
        assert (state.first_seq, state.last_seq) == (11, 10)
        with pytest.raises(Exception) as second:
            await js.add_consumer(
                "TASKS", ConsumerConfig(durable_name="other", ack_policy=AckPolicy.EXPLICIT)
            )
        assert getattr(second.value, "err_code", None) == 10099, second.value
        await nc.close()

    run(body())


def test_push_subscribe_with_a_queue_shares_messages(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        await js.add_stream(name="PQ", subjects=["pq.>"])
        got = {"a": [], "b": []}

        def handler(name):
            async def cb(msg):
                got[name].append(msg.data)
                await msg.ack()

            return cb

        await js.subscribe("pq.job", queue="workers", cb=handler("a"))
        await js.subscribe("pq.job", queue="workers", cb=handler("b"))
        for i in range(20):
            await js.publish("pq.job", f"j{i}".encode())
        deadline = time.monotonic() + 5
        while len(got["a"]) + len(got["b"]) < 20 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        all_msgs = got["a"] + got["b"]
        assert sorted(all_msgs) == sorted(f"j{i}".encode() for i in range(20)), got
        assert got["a"] and got["b"], got
        info = await js.consumer_info("PQ", "workers")
        assert info.config.deliver_group == "workers"
        await nc.close()

    run(body())


def test_kv_put_get_update_delete_history_keys(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        kv = await js.create_key_value(bucket="cfg", history=5)
        r1 = await kv.put("color", b"red")
        r2 = await kv.put("size", b"L")
        assert (r1, r2) == (1, 2)
        e = await kv.get("color")
        assert (e.key, e.value, e.revision) == ("color", b"red", 1)
        r3 = await kv.update("color", b"blue", last=r1)
        assert r3 == 3
        with pytest.raises(KeyWrongLastSequenceError):
            await kv.update("color", b"green", last=r1)
        with pytest.raises(Exception):
            await kv.create("size", b"M")
        assert await kv.create("shape", b"round") == 4
        hist = await kv.history("color")
        assert [h.value for h in hist] == [b"red", b"blue"]
        await kv.delete("size")
        with pytest.raises(KeyNotFoundError):
            await kv.get("size")
        assert sorted(await kv.keys()) == ["color", "shape"]
        assert await kv.create("size", b"S") > 4, "create after a delete"
        status = await kv.status()
        assert status.bucket == "cfg"
        si = await js.stream_info("KV_cfg")
        assert si.config.max_msgs_per_subject == 5
        assert si.config.allow_rollup_hdrs and si.config.deny_delete
        await nc.close()

    run(body())


def test_kv_watch_sends_the_initial_values_then_updates(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        kv = await js.create_key_value(bucket="w")
        await kv.put("a", b"1")
        await kv.put("b", b"2")
        watcher = await kv.watchall()
        initial = []
        while True:
            e = await watcher.updates(timeout=CLIENT_TIMEOUT_S)
            if e is None:
                break  # the initial values are done
            initial.append((e.key, e.value))
        assert initial == [("a", b"1"), ("b", b"2")]
        await kv.put("a", b"3")
        await kv.delete("b")
        e = await watcher.updates(timeout=CLIENT_TIMEOUT_S)
        assert (e.key, e.value, e.revision) == ("a", b"3", 3)
        e = await watcher.updates(timeout=CLIENT_TIMEOUT_S)
        assert (e.key, e.operation) == ("b", "DEL")
        await watcher.stop()
        await nc.close()

    run(body())


def test_object_store_put_get_info_list_delete(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        obs = await js.create_object_store("files")
        data = bytes(range(256)) * 1000  # 256 000 bytes: two 128 KiB chunks
        info = await obs.put("blob.bin", data)
        assert (info.name, info.size) == ("blob.bin", len(data))
        assert info.chunks == 2, info
        got = await obs.get("blob.bin")
        assert got.data == data
        await obs.put("small.txt", b"hello")
        names = sorted(o.name for o in await obs.list())
        assert names == ["blob.bin", "small.txt"]
        await obs.delete("small.txt")
        with pytest.raises(NotFoundError):
            await obs.get("small.txt")
        assert (await obs.get_info("blob.bin")).size == len(data)
        await nc.close()

    run(body())
