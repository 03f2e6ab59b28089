"""Authentication through nats-py: tokens, users with plain and bcrypt passwords, nkeys and
no_auth_user (reference §12). A refused CONNECT is `-ERR 'Authorization Violation'`, which
nats-py 2.16 raises from connect() as a plain nats.errors.Error carrying that text (not as its
AuthorizationError class), so the tests match the text."""

import asyncio

import nats.errors
import pytest
from harness import assert_round_trip, connect, run

# Test-only nkey users; the seeds are public by being here.
NKEY_SEED = "SUAA75BGVKSP5FO7G6N3KN5XVQJKPJ2G5UCPYHC6AG2SWR6NVB32TUNXLA"
NKEY_PUBLIC = "UBWV5BI2W5FMCICQ6QXJKFE4UIJCZ6PUZPTKJYQ2XNF342OXNGVDLXYR"
OTHER_NKEY_SEED = "SUAF35P6QKI62WNIMLEQMY7XCM4UZHKIUBBCUH45I2ZYXD7C4SWQJMB45A"

# bcrypt (cost 10) of "bcrypt-pass".
BCRYPT_HASH = "$2b$10$MqIeMkurw4l3pRLyWxbcceysrGImRANqmOYksdyOXzZI62f7UVhrC"


def assert_refused(srv, **options):
    async def attempt():
        with pytest.raises(nats.errors.Error, match="(?i)authorization violation"):
            await connect(srv.url(), **options)

    run(attempt())


def assert_accepted(srv, **options):
    async def attempt():
        nc = await connect(srv.url(), **options)
        await assert_round_trip(nc)
        await nc.close()

    run(attempt())


TOKEN_CONF = "authorization { token: s3cret-token }\n"


def test_token_accepted(server):
    assert_accepted(server(TOKEN_CONF), token="s3cret-token")


def test_wrong_token_refused(server):
    assert_refused(server(TOKEN_CONF), token="not-the-token")


def test_missing_token_refused(server):
    assert_refused(server(TOKEN_CONF))


def test_token_in_url_accepted(server):
    srv = server(TOKEN_CONF)

    async def attempt():
        nc = await connect(f"nats://s3cret-token@127.0.0.1:{srv.port}")
        await assert_round_trip(nc)
        await nc.close()

    run(attempt())


USER_CONF = "authorization { user: alice, password: alice-pass }\n"


def test_user_password_accepted(server):
    assert_accepted(server(USER_CONF), user="alice", password="alice-pass")


def test_wrong_password_refused(server):
    assert_refused(server(USER_CONF), user="alice", password="wrong")


def test_unknown_user_refused(server):
    assert_refused(server(USER_CONF), user="mallory", password="alice-pass")


USERS_CONF = f"""
authorization {{
  users: [
    {{ user: alice, password: alice-pass }}
    {{ user: bob, password: "{BCRYPT_HASH}" }}
  ]
}}
"""


def test_users_list_plain_password_accepted(server):
    assert_accepted(server(USERS_CONF), user="alice", password="alice-pass")


def test_bcrypt_password_accepted(server):
    assert_accepted(server(USERS_CONF), user="bob", password="bcrypt-pass")


def test_wrong_bcrypt_password_refused(server):
    assert_refused(server(USERS_CONF), user="bob", password="bcrypt-pas")


def test_bcrypt_hash_itself_is_not_a_password(server):
    assert_refused(server(USERS_CONF), user="bob", password=BCRYPT_HASH)


NKEY_CONF = f"""
authorization {{
  users: [ {{ nkey: {NKEY_PUBLIC} }} ]
}}
"""


def test_nkey_user_accepted(server):
    assert_accepted(server(NKEY_CONF), nkeys_seed_str=NKEY_SEED)


def test_unknown_nkey_refused(server):
    assert_refused(server(NKEY_CONF), nkeys_seed_str=OTHER_NKEY_SEED)


def test_nkey_server_refuses_no_credentials(server):
    assert_refused(server(NKEY_CONF))


NO_AUTH_USER_CONF = """
authorization {
  users: [
    { user: alice, password: alice-pass }
    {
      user: guest, password: guest-pass
      permissions: { publish: "public.>", subscribe: "public.>" }
    }
  ]
}
no_auth_user: guest
"""


def test_no_auth_user_binds_connections_without_credentials(server):
    srv = server(NO_AUTH_USER_CONF)
    violations = []

    async def error_cb(e):
        violations.append(str(e))

    async def attempt():
        # Bound to guest: public.> works, and the guest's permissions apply to the rest.
        nc = await connect(srv.url(), error_cb=error_cb)
        await assert_round_trip(nc, "public.hello")
        await nc.subscribe("private.hello")
        await nc.flush(timeout=5)
        # nats-py runs error callbacks as tasks of their own: the -ERR that came before the
        # PONG may not have been handed to error_cb yet when flush returns.
        for _ in range(500):
            if violations:
                break
            await asyncio.sleep(0.01)
        await nc.close()

    run(attempt())
    assert any("permissions violation" in v.lower() for v in violations), violations


def test_no_auth_user_still_checks_given_credentials(server):
    srv = server(NO_AUTH_USER_CONF)
    assert_accepted(srv, user="alice", password="alice-pass")
    assert_refused(srv, user="alice", password="wrong")
