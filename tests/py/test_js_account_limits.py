"""An account's JetStream limits (`accounts { A { jetstream { max_file, max_streams,
max_consumers } } }`) through nats-py: account info reports them, a second stream past
max_streams gets 10027, a publish past max_file gets 10002, a consumer past max_consumers is
refused. Runs against natrix and nats-server 2.15.1 like the rest of tests/py."""

import pytest
from nats.js.errors import BadRequestError, APIError

from harness import CLIENT_TIMEOUT_S, connect, run


def conf(tmp_path):
    store = tmp_path / "js"
    return (
        f'jetstream {{ store_dir: "{store}" }}\n'
        "accounts { A { jetstream { max_file: 1K, max_streams: 1, max_consumers: 1 }, "
        "users: [{user: a, password: a}] } }\n"
    )


def test_account_limits_are_reported_and_enforced(server, tmp_path):
    srv = server(conf(tmp_path))

    async def body():
        nc = await connect(srv.url().replace("nats://", "nats://a:a@"))
        js = nc.jetstream(timeout=CLIENT_TIMEOUT_S)
        info = await js.account_info()
        assert (info.limits.max_storage, info.limits.max_streams, info.limits.max_consumers) == (
            1000,
            1,
            1,
        )
        await js.add_stream(name="S", subjects=["s.>"])
        with pytest.raises(BadRequestError) as e:
            await js.add_stream(name="T", subjects=["t.>"])
        assert e.value.err_code == 10027
        stored = 0
        refused = None
        for _ in range(10):
            try:
                await js.publish("s.x", b"x" * 200)
                stored += 1
            except APIError as err:
                refused = err
                break
        assert stored == 4, stored
        assert refused is not None and refused.err_code == 10002, refused
        assert refused.description == "resource limits exceeded for account"
        await js.pull_subscribe("s.x", durable="one")
        with pytest.raises(APIError) as e:
            await js.pull_subscribe("s.x", durable="two")
        assert e.value.err_code == 10026, e.value
        await nc.close()

    run(body())
