"""Distributed counters through nats-py: a stream with `allow_msg_counter` takes `Nats-Incr`
publishes, and each PubAck carries the subject's new total in `val` (a decimal string, past
64 bits too); a publish without an increment is refused with 10169."""

import pytest
from nats.js.api import StreamConfig
from nats.js.errors import APIError

from harness import CLIENT_TIMEOUT_S, connect, run


def js_conf(tmp_path):
    store = tmp_path / "js"
    return f'jetstream {{\n  store_dir: "{store}"\n}}\n'


def test_counter_acks_carry_the_total(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc = await connect(srv.url())
        js = nc.jetstream(timeout=CLIENT_TIMEOUT_S)
        await js.add_stream(StreamConfig(name="K", subjects=["k.>"], allow_msg_counter=True))
        info = await js.stream_info("K")
        assert info.config.allow_msg_counter is True
        total = 0
        for incr in [9223372036854775807, 9223372036854775807, -5]:
            ack = await js.publish("k.n", b"", headers={"Nats-Incr": str(incr)})
            total += incr
            assert ack.val == str(total)
        with pytest.raises(APIError) as e:
            await js.publish("k.n", b"x")
        assert e.value.err_code == 10169
        last = await js.get_last_msg("K", "k.n")
        assert last.data == b'{"val":"%d"}' % total
        assert last.headers["Nats-Incr"] == "-5"
        await nc.close()

    run(body())
