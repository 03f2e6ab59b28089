"""Durable subscriptions: resumed after close() and after a reconnect, forgotten by
unsubscribe(), seed 000's durable queue group, and the file store across a kill -9:
asyncio-nats-streaming 0.4.0 against natrix.

Each test names the place in shared/reference/stan-protocol.md whose behaviour it checks."""

import asyncio

from stan_harness import CLIENT_TIMEOUT_S, Inbox, connect, publish_all, run

QUIET_S = 0.8


def events(start, stop):
    return [f"event-{i}".encode() for i in range(start, stop + 1)]


def test_durable_closed_resumes_at_its_position_with_unacked_first(natrix):
    """§4.8 sub.close() and §11 idea 16: a plain durable gets 1..3 and acks only 1, is closed
    (subclose), 4..5 are published meanwhile; subscribing again with the same client ID and
    durable name and another start position resumes: 2 and 3 come again flagged redelivered,
    then 4 and 5, and nothing from before."""
    srv = natrix()

    async def body():
        c = await connect(srv, "durable-client")
        first = Inbox()
        options = {"durable_name": "orders-service", "manual_acks": True, "ack_wait": 30}
        sub = await c.sc.subscribe(
            "ticket:created", cb=first.cb, deliver_all_available=True, **options
        )
        await publish_all(c, "ticket:created", events(1, 3))
        await first.wait_for(3)
        await c.sc.ack(first.got[0][1])
        await sub.close()
        await publish_all(c, "ticket:created", events(4, 5))
        again = Inbox(c, ack=True)
        await c.sc.subscribe("ticket:created", cb=again.cb, start_at="new_only", **options)
        await again.wait_for(4)
        assert await again.quiet(QUIET_S) == []
        assert again.seqs() == [2, 3, 4, 5]
        assert again.redelivered() == [2, 3]
        await c.close()

    run(body())


def test_durable_resumes_after_the_client_closes_and_connects_again(natrix):
    """§4.8 (connection close) and §3.5: when the client closes, its plain durable goes offline
    with its position; the same client ID connecting again and subscribing with the same
    durable name resumes after the last acked message, whatever start position it asks."""
    srv = natrix()

    async def body():
        c = await connect(srv, "reconnecting")
        first = Inbox(c, ack=True)
        options = {"durable_name": "d", "manual_acks": True}
        await c.sc.subscribe("log", cb=first.cb, deliver_all_available=True, **options)
        await publish_all(c, "log", events(1, 3))
        await first.wait_for(3)
        await c.close()
        other = await connect(srv, "publisher")
        await publish_all(other, "log", events(4, 6))
        c = await connect(srv, "reconnecting")
        again = Inbox(c, ack=True)
        await c.sc.subscribe("log", cb=again.cb, deliver_all_available=True, **options)
        await again.wait_for(3)
        assert await again.quiet(QUIET_S) == []
        assert again.seqs() == [4, 5, 6]
        assert again.redelivered() == []
        await c.close()
        await other.close()

    run(body())


def test_durable_of_another_client_id_is_a_new_durable(natrix):
    """§4.1 (the plain durable key includes the clientID) and §11 idea 18: the same durable name
    from another client ID does not resume the first one's position; it starts at its own
    start position."""
    srv = natrix()

    async def body():
        a = await connect(srv, "client-a")
        got_a = Inbox(a, ack=True)
        await a.sc.subscribe("log", cb=got_a.cb, durable_name="d", manual_acks=True,
                             deliver_all_available=True)
        await publish_all(a, "log", events(1, 3))
        await got_a.wait_for(3)
        await a.close()
        b = await connect(srv, "client-b")
        got_b = Inbox(b, ack=True)
        await b.sc.subscribe("log", cb=got_b.cb, durable_name="d", manual_acks=True,
                             deliver_all_available=True)
        await got_b.wait_for(3)
        assert got_b.seqs() == [1, 2, 3]
        await b.close()

    run(body())


def test_unsubscribe_forgets_the_durable(natrix):
    """§4.8 sub.unsubscribe() and §11 idea 17: unsubscribe deletes the durable's state, so the
    next subscribe with the same name starts fresh at its own start position: all available
    gives 1.., new-only gives nothing old."""
    srv = natrix()

    async def body():
        c = await connect(srv, "forgetful")
        first = Inbox(c, ack=True)
        options = {"durable_name": "d", "manual_acks": True}
        sub = await c.sc.subscribe("log", cb=first.cb, deliver_all_available=True, **options)
        await publish_all(c, "log", events(1, 3))
        await first.wait_for(3)
        await sub.unsubscribe()
        await publish_all(c, "log", events(4, 4))
        fresh = Inbox(c, ack=True)
        sub = await c.sc.subscribe("log", cb=fresh.cb, deliver_all_available=True, **options)
        await fresh.wait_for(4)
        assert await fresh.quiet(QUIET_S) == []
        assert fresh.seqs() == [1, 2, 3, 4]
        await sub.unsubscribe()
        new_only = Inbox(c, ack=True)
        await c.sc.subscribe("log", cb=new_only.cb, start_at="new_only", **options)
        assert await new_only.quiet(QUIET_S) == []
        await c.close()

    run(body())


def test_seed_durable_queue_group_keeps_its_position_while_no_member_is_up(natrix):
    """§4.7 (the last member of a durable queue group leaving by close keeps a shadow) and §4.4
    (the start position is ignored when joining an existing group), seed 000's listener: a
    durable queue group `orders-service:orders-service-queue-group` with
    setDeliverAllAvailable; the only listener acks 1..2 and closes; 3..4 are published; a
    listener with a new random client ID joins and gets 3 and 4 only."""
    srv = natrix()
    group = {
        "queue": "orders-service-queue-group",
        "durable_name": "orders-service",
        "manual_acks": True,
        "deliver_all_available": True,
        "ack_wait": 30,
    }

    async def body():
        pub = await connect(srv, "publisher")
        first = await connect(srv, "listener-1a2b")
        got = Inbox(first, ack=True)
        await first.sc.subscribe("ticket:created", cb=got.cb, **group)
        await publish_all(pub, "ticket:created", events(1, 2))
        await got.wait_for(2)
        await asyncio.sleep(0.2)  # the acks are plain publishes; let them land first
        await first.close()
        await publish_all(pub, "ticket:created", events(3, 4))
        second = await connect(srv, "listener-3c4d")
        again = Inbox(second, ack=True)
        await second.sc.subscribe("ticket:created", cb=again.cb, **group)
        await again.wait_for(2)
        assert await again.quiet(QUIET_S) == []
        assert again.seqs() == [3, 4]
        assert again.redelivered() == []
        await second.close()
        await pub.close()

    run(body())


def test_file_store_keeps_the_durable_position_and_unacked_messages_across_kill_9(natrix, tmp_path):
    """§3.6 and §11 idea 30: with the file store (`-st FILE --dir`), a server killed with
    SIGKILL and started again on the same port keeps the channel, the client and the durable;
    the client carries on without a new ConnectRequest once its NATS connection reconnects,
    publishes continue the sequences, and the durable's unacked message comes again, flagged
    redelivered, before the message published after the restart."""
    srv = natrix("-st", "FILE", "--dir", str(tmp_path / "stan"))

    async def body():
        c = await connect(srv, "survivor", allow_reconnect=True)
        got = Inbox()
        options = {"durable_name": "d", "manual_acks": True, "ack_wait": 2}
        await c.sc.subscribe("kept", cb=got.cb, deliver_all_available=True, **options)
        await publish_all(c, "kept", events(1, 3))
        await got.wait_for(3)
        await c.sc.ack(got.got[0][1])
        await c.sc.ack(got.got[1][1])
        await asyncio.sleep(0.3)  # the acks reach the server before the kill
        before = len(got.got)
        await c.restart_server(srv)
        ack = await c.sc.publish("kept", b"event-4", ack_wait=3 * CLIENT_TIMEOUT_S)
        assert ack.error == ""
        await got.wait_for(before + 2, timeout=3 * CLIENT_TIMEOUT_S)
        after = [(m.seq, m.proto.redelivered) for _, m in got.got[before:]]
        assert after[:2] == [(3, True), (4, False)], after
        await c.close()

    run(body())
