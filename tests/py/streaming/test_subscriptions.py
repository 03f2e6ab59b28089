"""Plain and queue subscriptions, start positions, MaxInflight and the subscribe errors:
asyncio-nats-streaming 0.4.0 against natrix.

Each test names the place in shared/reference/stan-protocol.md whose behaviour it checks."""

import asyncio
import time

import pytest
from stan.aio.errors import StanError

from stan_harness import Inbox, connect, publish_all, run

# How long a test watches for deliveries that must not come.
QUIET_S = 1.0


def payloads(n, start=1):
    return [f"event-{i}".encode() for i in range(start, start + n)]


def test_plain_subscription_starts_with_new_messages_only(natrix):
    """§4.4 NewOnly (the start position when none is asked for): messages stored before the
    subscription are not delivered; the ones after are, with the channel's sequences."""
    srv = natrix()

    async def body():
        c = await connect(srv, "plain")
        await publish_all(c, "news", payloads(2))
        inbox = Inbox()
        await c.sc.subscribe("news", cb=inbox.cb)
        assert await inbox.quiet(0.3) == []
        await publish_all(c, "news", payloads(2, start=3))
        await inbox.wait_for(2)
        assert inbox.seqs() == [3, 4]
        assert [m.data for _, m in inbox.got] == [b"event-3", b"event-4"]
        await c.close()

    run(body())


def test_every_plain_subscription_gets_every_message(natrix):
    """§4.1 (plain subscriptions are independent): two subscribers on one channel, one of them on
    another client, each get every message once."""
    srv = natrix()

    async def body():
        a = await connect(srv, "fan-a")
        b = await connect(srv, "fan-b")
        ia, ib = Inbox(), Inbox()
        await a.sc.subscribe("fan", cb=ia.cb)
        await b.sc.subscribe("fan", cb=ib.cb)
        await publish_all(a, "fan", payloads(5))
        await ia.wait_for(5)
        await ib.wait_for(5)
        assert await ia.quiet(QUIET_S) == []
        assert ia.seqs() == ib.seqs() == [1, 2, 3, 4, 5]
        await a.close()
        await b.close()

    run(body())


def test_queue_group_on_two_clients_shares_the_channel_exactly_once(natrix):
    """§4.5 (queue groups) and seed 000's first paragraph: two members of one queue group on two
    clients share the channel; each message reaches exactly one of them, and both get some
    (ties go round-robin)."""
    srv = natrix()

    async def body():
        a = await connect(srv, "worker-a")
        b = await connect(srv, "worker-b")
        ia, ib = Inbox(), Inbox()
        await a.sc.subscribe("ticket:created", queue="workers", cb=ia.cb)
        await b.sc.subscribe("ticket:created", queue="workers", cb=ib.cb)
        await publish_all(a, "ticket:created", payloads(20))
        deadline = time.monotonic() + 5
        while len(ia.got) + len(ib.got) < 20 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(QUIET_S)
        assert sorted(ia.seqs() + ib.seqs()) == list(range(1, 21))
        assert ia.seqs() and ib.seqs(), (ia.seqs(), ib.seqs())
        assert ia.redelivered() == ib.redelivered() == []
        await a.close()
        await b.close()

    run(body())


def test_unsubscribed_plain_subscription_gets_nothing_more(natrix):
    """§4.9: an UnsubscribeRequest for the subscription's ackInbox is answered with an empty
    SubscriptionResponse (the library raises on an error), and later messages are not sent
    to that subscription; another subscription on the channel still gets them."""
    srv = natrix()

    async def body():
        c = await connect(srv, "unsub")
        gone, stays = Inbox(), Inbox()
        sub = await c.sc.subscribe("unsub", cb=gone.cb)
        await c.sc.subscribe("unsub", cb=stays.cb)
        await publish_all(c, "unsub", payloads(1))
        await gone.wait_for(1)
        await sub.unsubscribe()
        await publish_all(c, "unsub", payloads(2, start=2))
        await stays.wait_for(3)
        assert await gone.quiet(0.5) == []
        assert gone.seqs() == [1]
        assert stays.seqs() == [1, 2, 3]
        await c.close()

    run(body())


@pytest.mark.parametrize(
    "options, want",
    [
        ({"deliver_all_available": True}, [1, 2, 3, 4, 5]),
        ({"start_at": "first"}, [1, 2, 3, 4, 5]),
        ({"start_at": "last_received"}, [5]),
        ({"start_at": "sequence", "sequence": 3}, [3, 4, 5]),
        ({"start_at": "sequence", "sequence": 1}, [1, 2, 3, 4, 5]),
        ({"start_at": "sequence", "sequence": 99}, []),
        ({"start_at": "new_only"}, []),
    ],
)
def test_start_position_picks_the_first_message_delivered(natrix, options, want):
    """§4.4: with five stored messages, First (deliver all available) starts at 1, LastReceived
    at the newest, SequenceStart exactly at a sequence inside the log (or new-only above the
    last), NewOnly after the last; then a new message follows, as sequence 6."""
    srv = natrix()

    async def body():
        c = await connect(srv, "starts")
        await publish_all(c, "log", payloads(5))
        inbox = Inbox()
        await c.sc.subscribe("log", cb=inbox.cb, **options)
        if want:
            await inbox.wait_for(len(want))
        assert await inbox.quiet(0.5) == []
        assert inbox.seqs() == want
        await publish_all(c, "log", payloads(1, start=6))
        await inbox.wait_for(len(want) + 1)
        assert inbox.seqs() == want + [6]
        await c.close()

    run(body())


def test_time_start_delivers_the_messages_newer_than_the_delta(natrix):
    """§4.4 TimeDeltaStart: start time = now - startTimeDelta; the first message delivered is
    the first stored at or after it. One message is 2.5 s old, one is new; a 1 s delta gets the
    new one only, a 10 s delta both."""
    srv = natrix()

    async def body():
        c = await connect(srv, "by-time")
        await publish_all(c, "timed", [b"old"])
        await asyncio.sleep(2.5)
        await publish_all(c, "timed", [b"new"])
        recent, all_of_it = Inbox(), Inbox()
        # The library sends int(now - time) seconds as the delta.
        await c.sc.subscribe("timed", cb=recent.cb, start_at="time", time=time.time() - 1)
        await c.sc.subscribe("timed", cb=all_of_it.cb, start_at="time", time=time.time() - 10)
        await recent.wait_for(1)
        await all_of_it.wait_for(2)
        assert await recent.quiet(0.5) == []
        assert recent.seqs() == [2]
        assert all_of_it.seqs() == [1, 2]
        await c.close()

    run(body())


def test_max_inflight_stalls_the_subscription_until_an_ack(natrix):
    """§4.5 and §11 idea 15: with MaxInflight 2 and ten stored messages nobody acks, exactly
    two are delivered; each ack releases one more, in order."""
    srv = natrix()

    async def body():
        c = await connect(srv, "stalled")
        await publish_all(c, "backlog", payloads(10))
        inbox = Inbox()
        await c.sc.subscribe(
            "backlog", cb=inbox.cb, deliver_all_available=True, manual_acks=True,
            max_inflight=2, ack_wait=30,
        )
        await inbox.wait_for(2)
        assert await inbox.quiet(QUIET_S) == []
        assert inbox.seqs() == [1, 2]
        await c.sc.ack(inbox.got[0][1])
        await inbox.wait_for(3)
        assert await inbox.quiet(0.5) == []
        assert inbox.seqs() == [1, 2, 3]
        for _, m in list(inbox.got[1:3]):
            await c.sc.ack(m)
        await inbox.wait_for(5)
        assert await inbox.quiet(0.5) == []
        assert inbox.seqs() == [1, 2, 3, 4, 5]
        await c.close()

    run(body())


@pytest.mark.parametrize(
    "channel, options, error",
    [
        ("ok", {"ack_wait": 0}, "stan: invalid ack wait time, should be >= 1s"),
        ("ok", {"max_inflight": 0}, "stan: invalid MaxInflight, should be >= 1"),
        ("foo.*", {}, "stan: invalid subject"),
        ("foo..bar", {}, "stan: invalid subject"),
        (
            "ok",
            {"durable_name": "has:colon", "queue": "q"},
            "stan: durable name of a durable queue subscriber can't contain the character ':'",
        ),
    ],
)
def test_bad_subscription_request_gets_the_exact_error(natrix, channel, options, error):
    """§4.2 (validation order) and §7 (Subscribe): a bad ack wait, MaxInflight, channel or durable
    queue name gets a SubscriptionResponse whose error is nats-streaming-server's text, which
    the library raises; the session still works afterwards."""
    srv = natrix()

    async def body():
        c = await connect(srv, "bad-sub")
        with pytest.raises(StanError) as err:
            await c.sc.subscribe(channel, cb=Inbox().cb, **options)
        assert str(err.value) == error
        inbox = Inbox()
        await c.sc.subscribe("ok", cb=inbox.cb)
        await publish_all(c, "ok", [b"x"])
        await inbox.wait_for(1)
        await c.close()

    run(body())


def test_second_active_durable_with_the_same_name_is_refused(natrix):
    """§4.1 and §11 idea 18: on one live client a second subscribe with an active durable key
    (clientID + channel + durable name) gets "stan: duplicate durable registration"."""
    srv = natrix()

    async def body():
        c = await connect(srv, "dup-durable")
        await c.sc.subscribe("orders", cb=Inbox().cb, durable_name="d")
        with pytest.raises(StanError) as err:
            await c.sc.subscribe("orders", cb=Inbox().cb, durable_name="d")
        assert str(err.value) == "stan: duplicate durable registration"
        await c.close()

    run(body())
