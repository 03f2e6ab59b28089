"""Push flow control through nats-py (issue 11, point 5): `js.subscribe(..., flow_control=True,
idle_heartbeat=...)` receives megabytes, far past the server's first 2 MiB flow-control window,
because nats-py answers each `100 FlowControl Request`; a server that ignored the answers would
stall after about 2 MiB.

Each test starts its own server with its store in the test's temp folder."""

import asyncio
import time

from harness import CLIENT_TIMEOUT_S, connect, run

MESSAGES = 60
PAYLOAD_BYTES = 100_000


def js_conf(tmp_path):
    store = tmp_path / "js"
    return f'jetstream {{\n  store_dir: "{store}"\n}}\n'


def test_push_subscription_with_flow_control_gets_every_message(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc = await connect(srv.url())
        js = nc.jetstream(timeout=CLIENT_TIMEOUT_S)
        await js.add_stream(name="FCPY", subjects=["fcpy.>"])
        payload = b"z" * PAYLOAD_BYTES
        for _ in range(MESSAGES):
            await js.publish("fcpy.x", payload)
        sub = await js.subscribe(
            "fcpy.x", durable="fc", flow_control=True, idle_heartbeat=1.0
        )
        started = time.monotonic()
        seqs = []
        for _ in range(MESSAGES):
            msg = await sub.next_msg(timeout=CLIENT_TIMEOUT_S)
            assert len(msg.data) == PAYLOAD_BYTES
            seqs.append(msg.metadata.sequence.stream)
            await msg.ack()
        assert seqs == list(range(1, MESSAGES + 1))
        assert time.monotonic() - started < 4 * CLIENT_TIMEOUT_S
        info = await js.consumer_info("FCPY", "fc")
        assert info.config.flow_control is True
        assert info.delivered.stream_seq == MESSAGES
        await nc.close()

    run(body())
