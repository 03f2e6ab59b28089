"""TLS through nats-py with the test PKI in tests/certs: the server certificate checked against
the test CA, client certificates when `verify` is on, `handshake_first`, and clients that do
not speak TLS to a server that requires it."""

import asyncio
import json
import ssl

import nats.errors
import pytest
from harness import CLIENT_TIMEOUT_S, assert_round_trip, cert, client_tls, connect, run


def tls_conf(cert_name="server.pem", key_name="server-key.pem", **extra):
    lines = [f'cert_file: "{cert(cert_name)}"', f'key_file: "{cert(key_name)}"']
    for key, value in extra.items():
        lines.append(f"{key}: {value}")
    return "tls {\n  " + "\n  ".join(lines) + "\n}\n"


VERIFY_CONF = tls_conf(ca_file=f'"{cert("ca.pem")}"', verify="true")

# What a failed handshake looks like to nats-py: the ssl module's errors, or the connection
# dropped underneath it.
TLS_FAILURES = (ssl.SSLError, ConnectionError, nats.errors.Error, asyncio.TimeoutError)


def assert_tls_round_trip(srv, scheme="tls", **options):
    async def attempt():
        nc = await connect(srv.url(scheme), **options)
        await assert_round_trip(nc)
        await nc.close()

    run(attempt())


def assert_tls_refused(srv, **options):
    async def attempt():
        with pytest.raises(TLS_FAILURES):
            nc = await connect(srv.url("tls"), **options)
            # TLS 1.3 finishes the client's side of the handshake before the server has checked
            # the client certificate, so the refusal can arrive only at the first round trip.
            await nc.flush(timeout=CLIENT_TIMEOUT_S)
            await nc.close()

    run(attempt())


@pytest.mark.parametrize(
    "cert_name,key_name",
    [
        ("server.pem", "server-key.pem"),  # EC key, PKCS#8
        ("server-rsa.pem", "server-rsa-key.pem"),  # RSA key, PKCS#1
        ("server-ec.pem", "server-ec-key.pem"),  # EC key, SEC1
    ],
)
def test_server_certificate_checked_against_test_ca(server, cert_name, key_name):
    assert_tls_round_trip(server(tls_conf(cert_name, key_name)), tls=client_tls())


def test_tls_required_upgrades_a_nats_url(server):
    # INFO says tls_required, so nats-py upgrades even on a nats:// URL.
    assert_tls_round_trip(server(tls_conf()), scheme="nats", tls=client_tls())


def plain_info(srv):
    """The INFO the server sends in the clear to a plain TCP client, as a dict."""

    async def attempt():
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        line = await asyncio.wait_for(reader.readline(), CLIENT_TIMEOUT_S)
        writer.close()
        return line

    line = run(attempt())
    assert line.startswith(b"INFO ") and line.endswith(b"\r\n"), line
    return json.loads(line[5:])


def test_info_says_tls_required(server):
    info = plain_info(server(tls_conf()))
    assert info["tls_required"] is True
    assert "tls_verify" not in info


def test_server_certificate_from_another_ca_refused(server):
    assert_tls_refused(server(tls_conf()), tls=client_tls(ca="untrusted-ca.pem"))


def test_verify_accepts_client_certificate_from_ca(server):
    srv = server(VERIFY_CONF)
    assert_tls_round_trip(srv, tls=client_tls(cert_name="client.pem", key_name="client-key.pem"))


def test_verify_refuses_client_without_certificate(server):
    assert_tls_refused(server(VERIFY_CONF), tls=client_tls())


def test_verify_refuses_client_certificate_from_another_ca(server):
    srv = server(VERIFY_CONF)
    assert_tls_refused(
        srv, tls=client_tls(cert_name="untrusted-client.pem", key_name="untrusted-client-key.pem")
    )


def test_verify_info_says_tls_verify(server):
    info = plain_info(server(VERIFY_CONF))
    assert info["tls_required"] is True and info["tls_verify"] is True


def test_ca_file_without_verify_does_not_ask_for_client_certificate(server):
    srv = server(tls_conf(ca_file=f'"{cert("ca.pem")}"'))
    assert_tls_round_trip(srv, tls=client_tls())


def test_handshake_first(server):
    srv = server(tls_conf(handshake_first="true"))
    assert_tls_round_trip(srv, tls=client_tls(), tls_handshake_first=True)


def test_handshake_first_sends_no_plain_info(server):
    srv = server(tls_conf(handshake_first="true"))

    async def attempt():
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        try:
            # The server waits for a ClientHello and says nothing in the clear.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(reader.read(1), 0.5)
        finally:
            writer.close()

    run(attempt())


def test_plain_client_refused_by_tls_server(server):
    """A client that never starts TLS: its CONNECT and PING are not a ClientHello, so the
    server closes the connection and never answers PONG."""
    srv = server(tls_conf())

    async def attempt():
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        info = await asyncio.wait_for(reader.readline(), CLIENT_TIMEOUT_S)
        assert info.startswith(b"INFO ")
        writer.write(b'CONNECT {"verbose":false,"tls_required":false}\r\nPING\r\n')
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), CLIENT_TIMEOUT_S)
        writer.close()
        return rest

    rest = run(attempt())
    assert b"PONG" not in rest, rest


def test_nats_py_without_tls_context_refused(server):
    # Without a context of its own nats-py upgrades with the system trust store, which does not
    # hold the test CA.
    assert_tls_refused(server(tls_conf()))
