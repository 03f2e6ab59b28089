"""Subject delete markers through nats-py's KV (issue 10 point 5): a bucket whose stream has
`subject_delete_marker_ttl` sees a key that outlived `max_age` come back from the watcher as a
PURGE (the server's `Nats-Marker-Reason: MaxAge` marker), and nats-py makes such a bucket
itself (`limit_marker_ttl`) only when the server's JetStream API level is 1 or more.

The stream is made through add_stream with what nats-py would ask for, since nats-py refuses
`limit_marker_ttl` below API level 1."""

import asyncio

from nats.js.api import DiscardPolicy, KeyValueConfig
from nats.js.errors import KeyValueLimitMarkerTTLNotSupportedError

from harness import CLIENT_TIMEOUT_S, connect, run


def js_conf(tmp_path):
    store = tmp_path / "js"
    return f'jetstream {{\n  store_dir: "{store}"\n}}\n'


def test_kv_watch_sees_a_max_age_marker_as_a_purge(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc = await connect(srv.url())
        js = nc.jetstream(timeout=CLIENT_TIMEOUT_S)
        await js.add_stream(
            name="KV_mk",
            subjects=["$KV.mk.>"],
            max_msgs_per_subject=1,
            max_age=1.0,
            allow_rollup_hdrs=True,
            deny_delete=True,
            allow_direct=True,
            discard=DiscardPolicy.NEW,
            allow_msg_ttl=True,
            subject_delete_marker_ttl=1.0,
        )
        kv = await js.key_value("mk")
        rev = await kv.put("k", b"v")
        w = await kv.watch("k")
        first = await w.updates(timeout=5)
        assert (first.operation, first.value, first.revision) == (None, b"v", rev)
        gone = await w.updates(timeout=10)
        if gone is None:  # the end of the initial values
            gone = await w.updates(timeout=10)
        assert (gone.key, gone.operation, gone.revision) == ("k", "PURGE", rev + 1)
        await w.stop()

        level = (await js.account_info()).api.level or 0
        try:
            await js.create_key_value(KeyValueConfig(bucket="mk2", limit_marker_ttl=1.0))
            made = True
        except KeyValueLimitMarkerTTLNotSupportedError:
            made = False
        assert made == (level >= 1), (made, level)
        await nc.close()

    run(body())
