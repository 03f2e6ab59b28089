"""Stream republish through nats-py: a Key-Value bucket with `republish` (headers only), whose
changes a plain subscriber of the destination reads as nats-server sends them — the key's
subject mapped onto the destination (`$KV.cfg.>` to `changes.>`: `changes.<key>`), `Nats-Stream`, `Nats-Subject`, `Nats-Sequence`,
`Nats-Last-Sequence` of the key and `Nats-Msg-Size` instead of the value, and a delete's
`KV-Operation: DEL` header kept. Runs against natrix and nats-server (tests/python_clients.rs)."""

import asyncio

from nats.js.api import KeyValueConfig, RePublish

from harness import CLIENT_TIMEOUT_S, connect, run


def js_conf(tmp_path):
    store = tmp_path / "js"
    return f'jetstream {{\n  store_dir: "{store}"\n}}\n'


def test_kv_changes_are_republished_headers_only(server, tmp_path):
    srv = server(js_conf(tmp_path))

    async def body():
        nc = await connect(srv.url())
        js = nc.jetstream(timeout=CLIENT_TIMEOUT_S)
        watcher = await connect(srv.url())
        sub = await watcher.subscribe("changes.>")
        await watcher.flush()
        kv = await js.create_key_value(
            KeyValueConfig(
                bucket="cfg",
                republish=RePublish(src="$KV.cfg.>", dest="changes.>", headers_only=True),
            )
        )
        await kv.put("color", b"red")
        await kv.put("size", b"XL")
        await kv.put("color", b"blue!")
        await kv.delete("size")
        got = []
        for _ in range(4):
            m = await asyncio.wait_for(sub.next_msg(), CLIENT_TIMEOUT_S)
            h = m.headers or {}
            got.append(
                (
                    m.subject,
                    m.data,
                    h.get("Nats-Stream"),
                    h.get("Nats-Subject"),
                    h.get("Nats-Sequence"),
                    h.get("Nats-Last-Sequence"),
                    h.get("Nats-Msg-Size"),
                    h.get("KV-Operation"),
                )
            )
            assert h.get("Nats-Time-Stamp", "").endswith("Z"), h
        assert got == [
            ("changes.color", b"", "KV_cfg", "$KV.cfg.color", "1", "0", "3", None),
            ("changes.size", b"", "KV_cfg", "$KV.cfg.size", "2", "0", "2", None),
            ("changes.color", b"", "KV_cfg", "$KV.cfg.color", "3", "1", "5", None),
            ("changes.size", b"", "KV_cfg", "$KV.cfg.size", "4", "2", "0", "DEL"),
        ], got
        await watcher.close()
        await nc.close()

    run(body())
