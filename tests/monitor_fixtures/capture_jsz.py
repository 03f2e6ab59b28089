"""Captures the jsz_* fixtures from a reference nats-server:

    nats-server -js -sd <tmp> -a 127.0.0.1 -p 14569 -m 18224 -c nosys.conf
    python3 capture_jsz.py 14569 18224

Sets up, through the JetStream API (nats-py): stream ORDERS (file, orders.>, 3 messages),
stream EVENTS (memory, events.*, max_bytes 1048576, 2 messages), durable pull consumer
ORDERS/pull (1 message fetched, unacked) and durable push consumer EVENTS/push; then writes
each /jsz variant, /varz and /accountz?acc=$G as the server sent them.
"""

import asyncio
import sys
import urllib.request

import nats
from nats.js.api import ConsumerConfig, StorageType, StreamConfig, AckPolicy

VARIANTS = {
    "jsz_enabled": "/jsz",
    "jsz_accounts": "/jsz?accounts=true",
    "jsz_streams": "/jsz?streams=true",
    "jsz_consumers": "/jsz?consumers=true",
    "jsz_config": "/jsz?consumers=true&config=true",
    "jsz_acc": "/jsz?acc=$G&streams=true",
    "jsz_acc_missing": "/jsz?acc=nope&accounts=true",
    "jsz_offset": "/jsz?accounts=true&offset=1",
    "jsz_leader_only": "/jsz?leader-only=true",
    "js_varz": "/varz",
    "js_accountz_acc": "/accountz?acc=$G",
}


async def setup(port):
    nc = await nats.connect(f"nats://127.0.0.1:{port}")
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="ORDERS", subjects=["orders.>"]))
    await js.add_stream(
        StreamConfig(
            name="EVENTS",
            subjects=["events.*"],
            storage=StorageType.MEMORY,
            max_bytes=1048576,
        )
    )
    for i in range(3):
        await js.publish(f"orders.{i}", b"order-%d" % i)
    for i in range(2):
        await js.publish("events.x", b"event-%d" % i)
    psub = await js.pull_subscribe("orders.>", durable="pull", stream="ORDERS")
    await psub.fetch(1)
    await js.add_consumer(
        "EVENTS",
        ConsumerConfig(
            durable_name="push",
            deliver_subject="push.deliver",
            ack_policy=AckPolicy.EXPLICIT,
        ),
    )
    await nc.flush()
    return nc


async def main():
    port, mport = sys.argv[1], sys.argv[2]
    nc = await setup(port)
    await asyncio.sleep(0.5)
    for name, q in VARIANTS.items():
        url = f"http://127.0.0.1:{mport}{q}"
        try:
            body = urllib.request.urlopen(url).read()
            ext = "json"
        except urllib.error.HTTPError as e:
            body = e.read()
            ext = "txt"
        with open(f"{name}.{ext}", "wb") as f:
            f.write(body)
    await nc.close()


asyncio.run(main())
