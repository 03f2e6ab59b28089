"""Manual acks, ack wait and redelivery, and a queue member's unacked messages moving to the
others (seed 000's listeners): asyncio-nats-streaming 0.4.0 against natrix.

This library's generated protocol_pb2 predates MsgProto.redeliveryCount, so the tests count
redeliveries themselves and check the `redelivered` flag.

Each test names the place in shared/reference/stan-protocol.md whose behaviour it checks."""

import asyncio
import time

from stan_harness import Inbox, connect, publish_all, run

# The smallest ack wait the protocol allows (§4.6), in seconds as the library takes it.
ACK_WAIT_S = 1
# A redelivery may come this much earlier than the ack wait (the server's timer batches
# expiries within 15 ms, §4.6; the rest is the clocks of two processes).
EARLY_S = 0.1
# How long a killed queue member's messages may take to reach a live one (issue 12; with
# nats-streaming-server it is the ack wait or the heartbeats).
GHOST_REDELIVERY_MAX_S = 5


def test_unacked_message_is_redelivered_every_ack_wait_until_acked(natrix):
    """§4.6 and §11 idea 13: a manual-ack subscriber that does not ack gets the message again
    after each ack wait (1 s), flagged redelivered, at a cadence not shorter than the ack wait;
    once acked it comes no more, and a duplicate ack changes nothing."""
    srv = natrix()

    async def body():
        c = await connect(srv, "no-ack")
        inbox = Inbox()
        await c.sc.subscribe("jobs", cb=inbox.cb, manual_acks=True, ack_wait=ACK_WAIT_S)
        await publish_all(c, "jobs", [b"job-1"])
        await inbox.wait_for(3, timeout=5)
        times = [t for t, _ in inbox.got]
        flags = [m.proto.redelivered for _, m in inbox.got]
        assert inbox.seqs()[:3] == [1, 1, 1]
        assert flags[:3] == [False, True, True]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(g >= ACK_WAIT_S - EARLY_S for g in gaps[:2]), gaps
        assert all(g < ACK_WAIT_S + 1 for g in gaps[:2]), gaps
        last = inbox.got[-1][1]
        await c.sc.ack(last)
        await c.sc.ack(last)
        assert await inbox.quiet(ACK_WAIT_S + 0.6) == []
        await c.close()

    run(body())


def test_acked_messages_are_not_redelivered(natrix):
    """§4.6: manual acks sent as each message arrives, and the library's auto-ack (the default,
    purely client side), both stop redelivery: nothing comes again after the 1 s ack wait."""
    srv = natrix()

    async def body():
        c = await connect(srv, "acker")
        manual = Inbox(c, ack=True)
        auto = Inbox()
        await c.sc.subscribe("work", cb=manual.cb, manual_acks=True, ack_wait=ACK_WAIT_S)
        await c.sc.subscribe("work", cb=auto.cb, ack_wait=ACK_WAIT_S)
        await publish_all(c, "work", [b"a", b"b", b"c"])
        await manual.wait_for(3)
        await auto.wait_for(3)
        await asyncio.sleep(ACK_WAIT_S + 0.8)
        assert manual.seqs() == [1, 2, 3]
        assert auto.seqs() == [1, 2, 3]
        await c.close()

    run(body())


def test_unacked_message_moves_to_the_other_queue_member_after_the_ack_wait(natrix):
    """§4.6 (queue member) and seed 000's setManualAckMode paragraph: a member whose handler
    fails never acks; after the 1 s ack wait the message is re-offered to the best member of
    the group, the one that acks, flagged redelivered, and then it is done."""
    srv = natrix()

    async def body():
        failing = await connect(srv, "orders-failing")
        working = await connect(srv, "orders-working")
        bad = Inbox()
        good = Inbox(working, ack=True)
        group = {"queue": "orders-service-queue-group", "manual_acks": True,
                 "ack_wait": ACK_WAIT_S}
        await failing.sc.subscribe("ticket:created", cb=bad.cb, **group)
        await working.sc.subscribe("ticket:created", cb=good.cb, **group)
        await publish_all(working, "ticket:created", [b"ticket-1", b"ticket-2", b"ticket-3"])
        deadline = time.monotonic() + 5
        while sorted(set(good.seqs())) != [1, 2, 3] and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert sorted(set(good.seqs())) == [1, 2, 3], (bad.seqs(), good.seqs())
        assert bad.seqs(), "the failing member got nothing: the test shows nothing"
        assert set(bad.seqs()) <= set(good.redelivered()), (bad.seqs(), good.redelivered())
        await asyncio.sleep(ACK_WAIT_S + 0.5)
        assert sorted(set(good.seqs())) == [1, 2, 3]
        await failing.close()
        await working.close()

    run(body())


async def _queue_member_leaves(srv, leave):
    """Two members with a 30 s ack wait; the first gets message 1 and never acks; `leave` takes
    it away. Returns how long until message 1 reached the other member, and that delivery."""
    leaver = await connect(srv, "member-leaving")
    stayer = await connect(srv, "member-staying")
    gone, kept = Inbox(), Inbox(stayer, ack=True)
    group = {"queue": "g", "manual_acks": True, "ack_wait": 30, "durable_name": "orders"}
    await leaver.sc.subscribe("ticket:created", cb=gone.cb, **group)
    await publish_all(stayer, "ticket:created", [b"ticket-1"])
    await gone.wait_for(1)
    await stayer.sc.subscribe("ticket:created", cb=kept.cb, **group)
    assert await kept.quiet(0.3) == []
    left = time.monotonic()
    await leave(leaver)
    await kept.wait_for(1, timeout=GHOST_REDELIVERY_MAX_S + 1)
    took = kept.got[0][0] - left
    await publish_all(stayer, "ticket:created", [b"ticket-2"])
    await kept.wait_for(2)
    await stayer.close()
    return took, kept


def test_closed_queue_member_unacked_message_moves_to_the_other_member_at_once(natrix):
    """§4.7 and §11 idea 20: a queue member that closes (CloseRequest) with an unacked message
    leaves the group; the message is redelivered to the remaining member at once (the server
    sets its timer to 100 ms), flagged redelivered, long before the 30 s ack wait."""
    srv = natrix()

    async def body():
        took, kept = await _queue_member_leaves(srv, lambda c: c.close())
        assert took < 1, f"took {took:.2f}s"
        assert kept.seqs() == [1, 2]
        assert kept.redelivered() == [1]

    run(body())


def test_queue_member_whose_connection_dies_hands_its_message_on_within_5s(natrix):
    """Issue 12 point 3 (no ghost clients) with §4.7: a member's NATS connection closes without
    a CloseRequest (its process died); natrix drops that client after a short grace period and
    its unacked message reaches the remaining member in under 5 s, flagged redelivered
    (nats-streaming-server waits for heartbeats or the 30 s ack wait)."""
    srv = natrix()

    async def body():
        took, kept = await _queue_member_leaves(srv, lambda c: c.drop())
        assert took < GHOST_REDELIVERY_MAX_S, f"took {took:.2f}s"
        assert kept.seqs() == [1, 2]
        assert kept.redelivered() == [1]

    run(body())
