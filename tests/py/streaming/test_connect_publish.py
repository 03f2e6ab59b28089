"""Connect, publish with acks, pings: asyncio-nats-streaming 0.4.0 against natrix.

Each test names the place in shared/reference/stan-protocol.md whose behaviour it checks."""

import asyncio
import time

import pytest
from stan.aio.errors import StanError

from stan_harness import CLIENT_TIMEOUT_S, Inbox, connect, publish_all, run


def test_publishes_get_pub_acks_and_are_stored_in_order(natrix):
    """§1 PubMsg/PubAck and §4.5 "Publisher side": each publish is answered by a PubAck for its
    guid with no error (the client finds its waiting publish by that guid), and the channel
    holds the messages in publish order with sequences 1, 2, 3."""
    srv = natrix()

    async def body():
        c = await connect(srv, "pub-1")
        acks = await publish_all(c, "ticket:created", [b"ticket-1", b"ticket-2", b"ticket-3"])
        assert [a.error for a in acks] == ["", "", ""]
        assert len({a.guid for a in acks}) == 3
        assert all(a.guid for a in acks)
        inbox = Inbox()
        await c.sc.subscribe("ticket:created", cb=inbox.cb, deliver_all_available=True)
        await inbox.wait_for(3)
        assert inbox.seqs() == [1, 2, 3]
        assert [m.data for _, m in inbox.got] == [b"ticket-1", b"ticket-2", b"ticket-3"]
        assert [m.proto.subject for _, m in inbox.got] == ["ticket:created"] * 3
        assert inbox.redelivered() == []
        await c.close()

    run(body())


def test_many_publishes_in_flight_are_each_acked_once(natrix):
    """§4.5 "Publisher side" and §6 (client max pub acks in flight): 200 publishes sent without
    waiting for acks in between all get their own PubAck, and the store keeps their order."""
    srv = natrix()
    count = 200

    async def body():
        c = await connect(srv, "pub-many")
        acks = []
        all_acked = asyncio.Event()

        async def on_ack(ack):
            acks.append(ack)
            if len(acks) == count:
                all_acked.set()

        for i in range(count):
            await c.sc.publish("orders", f"order-{i}".encode(), ack_handler=on_ack)
        await asyncio.wait_for(all_acked.wait(), CLIENT_TIMEOUT_S)
        assert len({a.guid for a in acks}) == count
        assert {a.error for a in acks} == {""}
        inbox = Inbox()
        await c.sc.subscribe("orders", cb=inbox.cb, deliver_all_available=True)
        await inbox.wait_for(count)
        assert inbox.seqs() == list(range(1, count + 1))
        assert [m.data for _, m in inbox.got] == [f"order-{i}".encode() for i in range(count)]
        await c.close()

    run(body())


@pytest.mark.parametrize("channel", ["foo.*", "foo.>"])
def test_publish_to_an_invalid_channel_gets_the_exact_error(natrix, channel):
    """§7 (Publish) and §11 idea 8: a channel with a wildcard is not a valid literal channel and
    gets a PubAck whose error is "stan: invalid publish request" (not "invalid subject").

    The idea's `foo..bar` and `.foo` never reach STAN here: the NATS layer refuses a publish
    subject with an empty token with -ERR 'Invalid Publish Subject', as nats-server 2.15.1
    does, so this client only waits out its ack timeout."""
    srv = natrix()

    async def body():
        c = await connect(srv, "pub-bad")
        ack = await c.sc.publish(channel, b"x", ack_wait=CLIENT_TIMEOUT_S)
        assert ack.error == "stan: invalid publish request"
        ok = await c.sc.publish("fine", b"x", ack_wait=CLIENT_TIMEOUT_S)
        assert ok.error == ""
        await c.close()

    run(body())


@pytest.mark.parametrize("client_id", ["bad.id", "bad:id", "has space"])
def test_invalid_client_id_is_refused_with_the_exact_error(natrix, client_id):
    """§3.1 step 4 and §7 (Connect): a clientID outside [a-zA-Z0-9_-] is refused with the
    invalid-clientID text."""
    srv = natrix()

    async def body():
        with pytest.raises(StanError) as err:
            await connect(srv, client_id)
        assert str(err.value) == (
            "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed"
        )

    run(body())


def test_second_live_client_with_the_same_id_is_refused_and_the_first_keeps_working(natrix):
    """§3.2 and §11 idea 4: while the first client answers the duplicate probe on its heartbeat
    inbox (the library answers heartbeats), a second ConnectRequest with its ID is refused with
    "stan: clientID already registered" in about the 500 ms probe time; the first goes on."""
    srv = natrix()

    async def body():
        first = await connect(srv, "svc-1")
        started = time.monotonic()
        with pytest.raises(StanError) as err:
            await connect(srv, "svc-1")
        took = time.monotonic() - started
        assert str(err.value) == "stan: clientID already registered"
        assert took < 2, f"the refusal took {took:.2f}s"
        ack = await first.sc.publish("still", b"here", ack_wait=CLIENT_TIMEOUT_S)
        assert ack.error == ""
        await first.close()
        # Closed with a CloseRequest (§3.5): the ID is free at once.
        again = await connect(srv, "svc-1")
        await again.close()

    run(body())


def test_client_pings_are_answered(natrix):
    """§3.4: a protocol-1 client pings every pingInterval and closes itself once more than
    pingMaxOut pings go unanswered; natrix answers each, so 1 s pings with max out 1 keep the
    session for 3.5 s and publishes still get acks."""
    srv = natrix()

    async def body():
        lost = []

        async def on_lost(err):
            lost.append(str(err))

        c = await connect(srv, "pinger", ping_interval=1, ping_max_out=1, conn_lost_cb=on_lost)
        await asyncio.sleep(3.5)
        assert lost == []
        ack = await c.sc.publish("alive", b"x", ack_wait=CLIENT_TIMEOUT_S)
        assert ack.error == ""
        await c.close()

    run(body())


def test_ping_after_a_memory_store_restart_reports_the_client_as_gone(natrix):
    """§3.4 and §3.6: with the memory store a restarted server has forgotten the client; the
    client's next ping (the NATS connection reconnected on its own) is answered with
    "client has been replaced or is no longer registered", and the library reports the
    connection lost with that text. (After that the library has dropped its own session, so
    it cannot show the publish error of §3.6; tests/stan_wire.rs checks that one raw.)"""
    srv = natrix()

    async def body():
        lost = asyncio.Event()
        errors = []

        async def on_lost(err):
            errors.append(str(err))
            lost.set()

        c = await connect(
            srv, "forgotten", ping_interval=1, ping_max_out=30, conn_lost_cb=on_lost,
            allow_reconnect=True,
        )
        await c.restart_server(srv)
        await asyncio.wait_for(lost.wait(), 3 * CLIENT_TIMEOUT_S)
        assert errors == ["client has been replaced or is no longer registered"]
        await c.nc.close()

    run(body())
