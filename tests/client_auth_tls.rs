//! Authentication, permissions and TLS as a real client (async-nats) sees them: token,
//! user/password, bcrypt and nkey users, wrong credentials refused at connect, permission
//! violations as async errors on a connection that stays usable, and TLS with a CA, with a
//! required client certificate and with the TLS handshake first. Plus what a plain TCP client
//! gets from a TLS-only server.
//!
//! `NATRIX_TEST_AGAINST_REFERENCE=1` runs every test against nats-server instead.

mod common;

use std::future::Future;
use std::time::Duration;

use async_nats::{Client, ConnectErrorKind, ConnectOptions, Event, ServerError};
use bytes::Bytes;
use common::procs::{cert, cert_str, Server, TempDir};
use common::RawClient;
use futures::StreamExt;
use tokio::sync::mpsc;

const SHARDS: usize = 2;
/// A whole test; past it the test fails instead of hanging.
const TEST_MAX: Duration = Duration::from_secs(15);
/// How long a client waits for one message or event.
const WAIT: Duration = Duration::from_secs(5);

async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_MAX, test)
        .await
        .expect("the test ran over its time limit");
}

/// Subscribes, publishes and receives once: the connection works end to end.
async fn round_trip(client: &Client, subject: &str) {
    let mut sub = client.subscribe(subject.to_string()).await.expect("sub");
    client.flush().await.expect("flush after sub");
    client
        .publish(subject.to_string(), Bytes::from_static(b"hello"))
        .await
        .expect("pub");
    let msg = tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("message in time")
        .expect("subscription open");
    assert_eq!(msg.payload, Bytes::from_static(b"hello"));
    sub.unsubscribe().await.expect("unsub");
}

/// Connecting with `options` fails with `kind`.
async fn refused(options: ConnectOptions, url: &str, kind: ConnectErrorKind) {
    match options.connect(url).await {
        Ok(_) => panic!("connect succeeded, wanted {kind:?}"),
        Err(e) => assert_eq!(e.kind(), kind, "wrong error: {e}"),
    }
}

/// Connecting with `options` fails (TLS failures surface as Tls or Io, depending on the side
/// that gives up first).
async fn fails(options: ConnectOptions, url: &str) {
    if let Ok(client) = options.connect(url).await {
        // A client that got through the handshake must at least not be able to talk.
        let flushed = tokio::time::timeout(WAIT, client.flush()).await;
        assert!(
            !matches!(flushed, Ok(Ok(()))),
            "connect and flush succeeded"
        );
    }
}

fn quick(options: ConnectOptions) -> ConnectOptions {
    options.connection_timeout(WAIT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_auth_accepts_the_token_and_refuses_others() {
    let server = Server::start(SHARDS, &["--auth", "t0ken-secret"]);
    let url = server.url();
    bounded(async {
        let client = quick(ConnectOptions::with_token("t0ken-secret".into()))
            .connect(&url)
            .await
            .expect("the right token connects");
        round_trip(&client, "token.ok").await;
        refused(
            quick(ConnectOptions::with_token("wrong".into())),
            &url,
            ConnectErrorKind::AuthorizationViolation,
        )
        .await;
        refused(
            quick(ConnectOptions::new()),
            &url,
            ConnectErrorKind::AuthorizationViolation,
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_password_auth_accepts_the_pair_and_refuses_a_wrong_password() {
    let server = Server::start(SHARDS, &["--user", "alice", "--pass", "s3cret"]);
    let url = server.url();
    bounded(async {
        let client = quick(ConnectOptions::with_user_and_password(
            "alice".into(),
            "s3cret".into(),
        ))
        .connect(&url)
        .await
        .expect("the right pair connects");
        round_trip(&client, "user.ok").await;
        for (user, pass) in [("alice", "wrong"), ("bob", "s3cret")] {
            refused(
                quick(ConnectOptions::with_user_and_password(
                    user.into(),
                    pass.into(),
                )),
                &url,
                ConnectErrorKind::AuthorizationViolation,
            )
            .await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcrypt_hashed_password_accepts_the_clear_password() {
    let hash = bcrypt::hash("b0b-pass", 4).expect("bcrypt");
    let dir = TempDir::new("bcrypt");
    let conf = dir.write(
        "auth.conf",
        &format!("authorization {{\n  users: [ {{ user: bob, password: \"{hash}\" }} ]\n}}\n"),
    );
    let server = Server::start(SHARDS, &["-c", &conf]);
    let url = server.url();
    bounded(async {
        let client = quick(ConnectOptions::with_user_and_password(
            "bob".into(),
            "b0b-pass".into(),
        ))
        .connect(&url)
        .await
        .expect("the clear password matches the hash");
        round_trip(&client, "bcrypt.ok").await;
        refused(
            quick(ConnectOptions::with_user_and_password(
                "bob".into(),
                "wrong".into(),
            )),
            &url,
            ConnectErrorKind::AuthorizationViolation,
        )
        .await;
        // The hash itself is not a password.
        refused(
            quick(ConnectOptions::with_user_and_password("bob".into(), hash)),
            &url,
            ConnectErrorKind::AuthorizationViolation,
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nkey_user_signs_the_nonce_and_another_key_is_refused() {
    let user = nkeys::KeyPair::new_user();
    let stranger = nkeys::KeyPair::new_user();
    let dir = TempDir::new("nkey");
    let conf = dir.write(
        "auth.conf",
        &format!(
            "authorization {{\n  users: [ {{ nkey: {} }} ]\n}}\n",
            user.public_key()
        ),
    );
    let server = Server::start(SHARDS, &["-c", &conf]);
    let url = server.url();
    // Every INFO carries a nonce to sign.
    let mut raw = RawClient::connect(&server.addr());
    let info = raw.read_info();
    assert!(
        info["nonce"].as_str().is_some_and(|n| !n.is_empty()),
        "{info}"
    );
    assert_eq!(info["auth_required"], true, "{info}");
    bounded(async {
        let seed = user.seed().expect("seed");
        let client = quick(ConnectOptions::with_nkey(seed))
            .connect(&url)
            .await
            .expect("the configured nkey connects");
        round_trip(&client, "nkey.ok").await;
        refused(
            quick(ConnectOptions::with_nkey(stranger.seed().expect("seed"))),
            &url,
            ConnectErrorKind::AuthorizationViolation,
        )
        .await;
    })
    .await;
}

/// Server errors (async `-ERR`s) of a client, as text.
fn error_events(options: ConnectOptions) -> (ConnectOptions, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let options = options.event_callback(move |event| {
        let tx = tx.clone();
        async move {
            if let Event::ServerError(ServerError::Other(text)) = event {
                let _ = tx.send(text);
            }
        }
    });
    (options, rx)
}

async fn next_error(errors: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(WAIT, errors.recv())
        .await
        .expect("an error event in time")
        .expect("event channel open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_violation_is_an_async_error_and_the_connection_stays_usable() {
    let dir = TempDir::new("perms");
    let conf = dir.write(
        "perms.conf",
        r#"authorization {
  users: [
    { user: carol, password: pw, permissions: {
        publish: { allow: ["ok.>", "_INBOX.>"], deny: ["ok.secret"] }
        subscribe: ["ok.>", "_INBOX.>"]
    } }
  ]
}
"#,
    );
    let server = Server::start(SHARDS, &["-c", &conf]);
    let url = server.url();
    bounded(async {
        let (options, mut errors) = error_events(quick(ConnectOptions::with_user_and_password(
            "carol".into(),
            "pw".into(),
        )));
        let client = options.connect(&url).await.expect("connect");
        let mut allowed = client.subscribe("ok.>").await.expect("sub ok.>");
        client.flush().await.expect("flush");

        client
            .publish("denied.x", Bytes::from_static(b"no"))
            .await
            .expect("pub");
        client.flush().await.expect("flush after a denied publish");
        assert_eq!(
            next_error(&mut errors).await,
            r#"Permissions Violation for Publish to "denied.x""#
        );

        client
            .publish("ok.secret", Bytes::from_static(b"no"))
            .await
            .expect("pub");
        client.flush().await.expect("flush after a denied publish");
        assert_eq!(
            next_error(&mut errors).await,
            r#"Permissions Violation for Publish to "ok.secret""#
        );

        let _refused = client.subscribe("denied.y").await.expect("sub is sent");
        client.flush().await.expect("flush after a denied sub");
        assert_eq!(
            next_error(&mut errors).await,
            r#"Permissions Violation for Subscription to "denied.y""#
        );

        // Still connected, and the denied messages were dropped: the next one on ok.> is
        // the allowed one.
        client
            .publish("ok.fine", Bytes::from_static(b"yes"))
            .await
            .expect("pub");
        let msg = tokio::time::timeout(WAIT, allowed.next())
            .await
            .expect("message in time")
            .expect("subscription open");
        assert_eq!(msg.subject.as_str(), "ok.fine");
        assert_eq!(client.connection_state().to_string(), "connected");
        round_trip(&client, "ok.again").await;
    })
    .await;
}

fn tls_flags() -> Vec<String> {
    vec![
        "--tls".into(),
        "--tlscert".into(),
        cert_str("server.pem"),
        "--tlskey".into(),
        cert_str("server-key.pem"),
    ]
}

fn start_with(flags: &[String]) -> Server {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Server::start(SHARDS, &flags)
}

fn trusting_ca(options: ConnectOptions) -> ConnectOptions {
    quick(options)
        .add_root_certificates(cert("ca.pem"))
        .require_tls(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_trusting_the_ca_connects_and_one_without_it_fails() {
    let server = start_with(&tls_flags());
    let url = server.url();
    bounded(async {
        let client = trusting_ca(ConnectOptions::new())
            .connect(&url)
            .await
            .expect("TLS connect with the CA as root");
        round_trip(&client, "tls.ok").await;
        // Without our CA the server certificate is not trusted.
        fails(quick(ConnectOptions::new()).require_tls(true), &url).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verify_requires_a_client_certificate_signed_by_the_ca() {
    let mut flags = tls_flags();
    flags.extend([
        "--tlsverify".to_string(),
        "--tlscacert".to_string(),
        cert_str("ca.pem"),
    ]);
    let server = start_with(&flags);
    let url = server.url();
    let mut raw = RawClient::connect(&server.addr());
    let info = raw.read_info();
    assert_eq!(info["tls_required"], true, "{info}");
    assert_eq!(info["tls_verify"], true, "{info}");
    bounded(async {
        let client = trusting_ca(ConnectOptions::new())
            .add_client_certificate(cert("client.pem"), cert("client-key.pem"))
            .connect(&url)
            .await
            .expect("TLS connect with a client certificate");
        round_trip(&client, "mtls.ok").await;
        fails(trusting_ca(ConnectOptions::new()), &url).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshake_first_serves_tls_first_clients_and_sends_no_plain_info() {
    let dir = TempDir::new("tlsfirst");
    let conf = dir.write(
        "tls.conf",
        &format!(
            "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  handshake_first: true\n}}\n",
            cert_str("server.pem"),
            cert_str("server-key.pem")
        ),
    );
    let server = Server::start(SHARDS, &["-c", &conf]);
    let url = server.url();
    // The server waits for a ClientHello; a plain client hears nothing.
    let mut raw = RawClient::connect(&server.addr());
    raw.expect_nothing(Duration::from_millis(500));
    bounded(async {
        let client = trusting_ca(ConnectOptions::new())
            .tls_first()
            .connect(&url)
            .await
            .expect("TLS-first connect");
        round_trip(&client, "tlsfirst.ok").await;
    })
    .await;
}

#[test]
fn plain_client_on_a_tls_server_gets_info_and_is_closed_silently_after_connect() {
    let server = start_with(&tls_flags());
    let mut raw = RawClient::connect(&server.addr());
    let info = raw.read_info();
    assert_eq!(info["tls_required"], true, "{info}");
    // Plain text where a TLS record must come: the handshake fails and the server closes
    // without a word (nats-server 2.15 sends no -ERR here).
    raw.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
    let got = raw.read_for(Duration::from_secs(3));
    assert!(
        got.is_empty(),
        "expected a silent close, got {:?}",
        String::from_utf8_lossy(&got)
    );
    raw.expect_closed();
}

/// The port a server logged for its HTTPS monitor.
fn https_monitor_port(server: &Server) -> u16 {
    let needle = "Starting https monitor on ";
    assert!(
        server.wait_log(needle, Duration::from_secs(5)),
        "no https monitor in the log:\n{}",
        server.log()
    );
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains(needle))
        .expect("the line was there");
    line.rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .expect("a port at the end of the line")
}

#[test]
fn https_monitor_serves_varz_over_tls_with_the_servers_certificate() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use std::io::{Read, Write};

    let mut flags = tls_flags();
    flags.extend(["--https_port".to_string(), "-1".to_string()]);
    let server = start_with(&flags);
    let port = https_monitor_port(&server);

    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert("ca.pem")).expect("ca.pem") {
        roots.add(c.expect("a CA certificate")).expect("added");
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").expect("an IP name");
    let session =
        rustls::ClientConnection::new(std::sync::Arc::new(config), name).expect("session");
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut tls = rustls::StreamOwned::new(session, tcp);
    tls.write_all(b"GET /varz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("request over TLS");
    let mut reply = Vec::new();
    let _ = tls.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    let body = reply.split("\r\n\r\n").nth(1).expect("a body");
    let varz: serde_json::Value = serde_json::from_str(body).expect("JSON");
    // The configured value, as nats-server reports it: -1 for "any free port".
    assert_eq!(varz["https_port"], -1, "{varz}");
    assert_eq!(varz["tls_required"], true, "{varz}");
    // When the server's certificate expires, as the certificate itself says.
    let pem = std::fs::read(cert("server.pem")).expect("server.pem");
    let der = CertificateDer::pem_slice_iter(&pem)
        .next()
        .expect("a certificate")
        .expect("PEM");
    let (_, parsed) = x509_parser::parse_x509_certificate(der.as_ref()).expect("X.509");
    let not_after = chrono::DateTime::from_timestamp(parsed.validity().not_after.timestamp(), 0)
        .expect("a time")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert_eq!(varz["tls_cert_not_after"], not_after.as_str(), "{varz}");
}

/// The port a server logged for its plain HTTP monitor.
fn http_monitor_port(server: &Server) -> u16 {
    let needle = "Starting http monitor on ";
    assert!(
        server.wait_log(needle, Duration::from_secs(5)),
        "no http monitor in the log:\n{}",
        server.log()
    );
    let log = server.log();
    let line = log.lines().find(|l| l.contains(needle)).expect("the line");
    line.rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .expect("a port at the end of the line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connz_names_the_tls_version_and_cipher_of_a_tls_client() {
    let mut flags = tls_flags();
    flags.extend(["-m".to_string(), "-1".to_string()]);
    let server = start_with(&flags);
    let port = http_monitor_port(&server);
    let url = server.url();
    bounded(async {
        let client = trusting_ca(ConnectOptions::new())
            .name("tls-client")
            .connect(&url)
            .await
            .expect("TLS connect");
        client.flush().await.expect("flush");
        let reply = common::ops::http_get(port, "/connz");
        let connz = reply.json();
        let conns = connz["connections"].as_array().expect("connections");
        let c = conns
            .iter()
            .find(|c| c["name"] == "tls-client")
            .unwrap_or_else(|| panic!("no tls-client in {connz}"));
        assert_eq!(c["tls_version"], "1.3", "{c}");
        let suite = c["tls_cipher_suite"].as_str().unwrap_or_default();
        assert!(
            suite.starts_with("TLS_") && !suite.contains("Unknown"),
            "cipher suite named as Go names it: {c}"
        );
    })
    .await;
}
