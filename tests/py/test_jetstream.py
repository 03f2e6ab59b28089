"""JetStream streams and publish acks through nats-py (issue 10): add_stream, publish + ack,
stream_info, get_msg / get_last_msg, delete_msg, purge_stream, delete_stream, and seed 003's
work-queue stream (`TASKS`, subjects `tasks.>`, retention workqueue).

Each test starts its own server with a `jetstream { store_dir: ... }` block pointing into the
test's temporary folder, so nothing is shared between tests."""

import json

import pytest
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType
from nats.js.errors import BadRequestError, NotFoundError, ServiceUnavailableError

from harness import CLIENT_TIMEOUT_S, connect, run


def js_conf(tmp_path):
    store = tmp_path / "js"
    return f'jetstream {{\n  store_dir: "{store}"\n}}\n'


async def js_context(srv):
    nc = await connect(srv.url())
    return nc, nc.jetstream(timeout=CLIENT_TIMEOUT_S)


def test_add_stream_then_publish_acks_count_sequences(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        info = await js.add_stream(name="ORDERS", subjects=["orders.>"])
        assert info.config.name == "ORDERS"
        assert info.config.subjects == ["orders.>"]
        assert info.state.messages == 0
        for i in range(1, 6):
            ack = await js.publish("orders.new", f"order-{i}".encode())
            assert (ack.stream, ack.seq) == ("ORDERS", i)
            assert not ack.duplicate
        await nc.close()

    run(body())


def test_stream_info_counts_messages_bytes_and_sequences(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        await js.add_stream(name="INFO", subjects=["info.*"])
        for i in range(4):
            await js.publish(f"info.{i % 2}", b"payload")
        state = (await js.stream_info("INFO")).state
        assert state.messages == 4
        assert state.bytes > 0
        assert (state.first_seq, state.last_seq) == (1, 4)
        assert state.consumer_count == 0
        with pytest.raises(NotFoundError):
            await js.stream_info("MISSING")
        await nc.close()

    run(body())


def test_get_msg_by_sequence_and_get_last_msg_by_subject(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        await js.add_stream(name="GET", subjects=["get.>"])
        await js.publish("get.a", b"a1")
        await js.publish("get.b", b"b1", headers={"X-Note": "kept"})
        await js.publish("get.a", b"a2")
        msg = await js.get_msg("GET", 2)
        assert (msg.subject, msg.seq, msg.data) == ("get.b", 2, b"b1")
        assert msg.headers and msg.headers.get("X-Note") == "kept", msg.headers
        last = await js.get_last_msg("GET", "get.a")
        assert (last.seq, last.data) == (3, b"a2")
        with pytest.raises(NotFoundError):
            await js.get_msg("GET", 99)
        await nc.close()

    run(body())


def test_delete_msg_removes_only_that_sequence(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        await js.add_stream(name="DEL", subjects=["del.x"])
        for i in range(1, 4):
            await js.publish("del.x", f"d{i}".encode())
        assert await js.delete_msg("DEL", 2) is True
        with pytest.raises(NotFoundError):
            await js.get_msg("DEL", 2)
        assert (await js.get_msg("DEL", 3)).data == b"d3"
        state = (await js.stream_info("DEL")).state
        assert (state.messages, state.first_seq, state.last_seq) == (2, 1, 3)
        ack = await js.publish("del.x", b"d4")
        assert ack.seq == 4, "a deleted sequence is not handed out again"
        await nc.close()

    run(body())


def test_purge_stream_all_by_subject_and_keep(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        await js.add_stream(name="PURGE", subjects=["purge.*"])
        for subj in ["a", "a", "b", "a", "b", "a"]:
            await js.publish(f"purge.{subj}", subj.encode())
        assert await js.purge_stream("PURGE", subject="purge.b") is True
        state = (await js.stream_info("PURGE")).state
        assert (state.messages, state.last_seq) == (4, 6)
        assert await js.purge_stream("PURGE", keep=1) is True
        state = (await js.stream_info("PURGE")).state
        assert (state.messages, state.first_seq, state.last_seq) == (1, 6, 6)
        assert await js.purge_stream("PURGE") is True
        state = (await js.stream_info("PURGE")).state
        assert (state.messages, state.first_seq, state.last_seq) == (0, 7, 6)
        assert (await js.publish("purge.a", b"next")).seq == 7
        await nc.close()

    run(body())


def test_delete_stream_then_info_is_not_found(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        await js.add_stream(name="GONE", subjects=["gone.>"])
        await js.publish("gone.1", b"x")
        assert await js.delete_stream("GONE") is True
        with pytest.raises(NotFoundError):
            await js.stream_info("GONE")
        with pytest.raises(NotFoundError):
            await js.delete_stream("GONE")
        await nc.close()

    run(body())


def test_seed_003_tasks_work_queue_stream_takes_publishes_with_acks(server, tmp_path):
    srv = server(js_conf(tmp_path))
    config = dict(
        name="TASKS",
        subjects=["tasks.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        max_msgs=100000,
        max_age=24 * 60 * 60,  # nats-py takes seconds and sends nanoseconds
    )

    async def body():
        nc, js = await js_context(srv)
        info = await js.add_stream(**config)
        assert info.config.retention == RetentionPolicy.WORK_QUEUE
        assert info.config.storage == StorageType.FILE
        assert info.config.max_msgs == 100000
        assert info.config.max_age == 24 * 60 * 60
        # The seed adds the stream on every start: the same config again is accepted.
        again = await js.add_stream(**config)
        assert again.config.name == "TASKS"
        for i in range(1, 11):
            task = {"id": f"task-{i}", "type": "process", "data": {"value": i * 10}}
            ack = await js.publish("tasks.process", json.dumps(task).encode())
            assert (ack.stream, ack.seq) == ("TASKS", i)
        # No consumer has taken anything yet, so every task is still in the queue.
        state = (await js.stream_info("TASKS")).state
        assert (state.messages, state.first_seq, state.last_seq) == (10, 1, 10)
        first = json.loads((await js.get_msg("TASKS", 1)).data)
        assert first == {"id": "task-1", "type": "process", "data": {"value": 10}}
        await nc.close()

    run(body())


def test_publish_with_same_msg_id_is_acked_as_duplicate(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        await js.add_stream(name="DEDUP", subjects=["dedup.x"])
        first = await js.publish("dedup.x", b"one", headers={"Nats-Msg-Id": "id-1"})
        again = await js.publish("dedup.x", b"one again", headers={"Nats-Msg-Id": "id-1"})
        assert (first.seq, bool(first.duplicate)) == (1, False)
        assert (again.stream, again.seq, again.duplicate) == ("DEDUP", 1, True)
        assert (await js.stream_info("DEDUP")).state.messages == 1
        assert (await js.get_msg("DEDUP", 1)).data == b"one"
        await nc.close()

    run(body())


def test_wrong_expected_last_sequence_raises_10071(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        await js.add_stream(name="EXP", subjects=["exp.x"])
        await js.publish("exp.x", b"1")
        with pytest.raises(BadRequestError) as refused:
            await js.publish("exp.x", b"2", headers={"Nats-Expected-Last-Sequence": "7"})
        assert refused.value.err_code == 10071
        assert refused.value.description == "wrong last sequence: 1"
        ack = await js.publish("exp.x", b"2", headers={"Nats-Expected-Last-Sequence": "1"})
        assert ack.seq == 2
        await nc.close()

    run(body())


def test_discard_new_at_max_msgs_refuses_with_10077(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc, js = await js_context(srv)
        await js.add_stream(name="FULL", subjects=["full.x"], max_msgs=1, discard=DiscardPolicy.NEW)
        await js.publish("full.x", b"kept")
        with pytest.raises(ServiceUnavailableError) as refused:
            await js.publish("full.x", b"refused")
        assert refused.value.err_code == 10077
        state = (await js.stream_info("FULL")).state
        assert (state.messages, state.last_seq) == (1, 1)
        await nc.close()

    run(body())
