"""Subject delete markers through nats-py's KV (issue 10 point 5): a bucket made with
`limit_marker_ttl` (nats-py asks the server's JetStream API level first and needs 1 or more)
sees a key that outlived the bucket's ttl come back from the watcher as a PURGE: the server's
`Nats-Marker-Reason: MaxAge` marker."""

from nats.js.api import KeyValueConfig

from harness import CLIENT_TIMEOUT_S, connect, run


def js_conf(tmp_path):
    store = tmp_path / "js"
    return f'jetstream {{\n  store_dir: "{store}"\n}}\n'


def test_kv_watch_sees_a_max_age_marker_as_a_purge(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc = await connect(srv.url())
        js = nc.jetstream(timeout=CLIENT_TIMEOUT_S)
        kv = await js.create_key_value(KeyValueConfig(bucket="mk", ttl=1.0, limit_marker_ttl=1.0))
        info = await js.stream_info("KV_mk")
        assert (info.config.allow_msg_ttl, info.config.subject_delete_marker_ttl) == (True, 1.0)
        rev = await kv.put("k", b"v")
        w = await kv.watch("k")
        first = await w.updates(timeout=5)
        assert (first.operation, first.value, first.revision) == (None, b"v", rev)
        gone = await w.updates(timeout=10)
        if gone is None:  # the end of the initial values
            gone = await w.updates(timeout=10)
        assert (gone.key, gone.operation, gone.revision) == ("k", "PURGE", rev + 1)
        await w.stop()
        await nc.close()

    run(body())
