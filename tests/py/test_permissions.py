"""Permission violations through nats-py: the server answers `-ERR 'Permissions Violation for
...'` (reference §5), nats-py hands it to the error callback, and the connection stays up."""

import asyncio

from harness import CLIENT_TIMEOUT_S, assert_round_trip, connect, run

CONF = """
authorization {
  users: [
    {
      user: limited
      password: limited-pass
      permissions: {
        publish: { allow: "allowed.>", deny: "allowed.secret" }
        subscribe: "allowed.>"
      }
    }
  ]
}
"""


async def connect_limited(srv, errors):
    async def error_cb(e):
        errors.append(str(e))

    return await connect(srv.url(), user="limited", password="limited-pass", error_cb=error_cb)


async def wait_for_error(errors, count=1):
    for _ in range(CLIENT_TIMEOUT_S * 100):
        if len(errors) >= count:
            return
        await asyncio.sleep(0.01)


def test_publish_violation_reported_without_disconnect(server):
    srv = server(CONF)
    errors = []

    async def attempt():
        nc = await connect_limited(srv, errors)
        sub = await nc.subscribe("allowed.>")
        await nc.publish("forbidden.subject", b"dropped")
        await nc.publish("allowed.secret", b"dropped too: deny wins")
        await nc.flush(timeout=CLIENT_TIMEOUT_S)
        await wait_for_error(errors, 2)
        assert nc.is_connected
        await nc.publish("allowed.ok", b"delivered")
        msg = await sub.next_msg(timeout=CLIENT_TIMEOUT_S)
        assert (msg.subject, msg.data) == ("allowed.ok", b"delivered")
        await nc.close()

    run(attempt())
    text = "\n".join(errors).lower()
    assert 'permissions violation for publish to "forbidden.subject"' in text, errors
    assert 'permissions violation for publish to "allowed.secret"' in text, errors


def test_subscribe_violation_reported_without_disconnect(server):
    srv = server(CONF)
    errors = []

    async def attempt():
        nc = await connect_limited(srv, errors)
        await nc.subscribe("forbidden.>")
        await nc.flush(timeout=CLIENT_TIMEOUT_S)
        await wait_for_error(errors)
        assert nc.is_connected
        await assert_round_trip(nc, "allowed.after")
        await nc.close()

    run(attempt())
    text = "\n".join(errors).lower()
    assert 'permissions violation for subscription to "forbidden.>"' in text, errors
