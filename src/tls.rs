//! TLS for client connections: the rustls server configuration built from the `tls { }` block,
//! and the names /connz reports for a session.
//!
//! Sans-io apart from reading the PEM files named in the config: the connection code feeds
//! bytes through a `rustls::ServerConnection` made from [`server_config`].
//!
//! What matches nats-server: TLS 1.2 and 1.3 only; certificate files in PEM with PKCS#8, PKCS#1
//! (RSA) or SEC1 (EC) keys; the key must belong to the first certificate; `verify: true` requires
//! a client certificate that chains to `ca_file`; `ca_file` without `verify` is checked at start
//! but no client certificate is asked for (Go's default `NoClientCert`); `verify` without
//! `ca_file` checks client certificates against the system's CA certificates, as Go does; no
//! ALPN; start-up errors in nats-server's words.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{CipherSuite, ProtocolVersion, RootCertStore, ServerConfig};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// When the server's certificate (the first of its chain) expires, as /varz's
/// `tls_cert_not_after` reports it; None if the file cannot be read or parsed (start-up has
/// already refused such a file).
pub fn cert_not_after(cfg: &TlsConfig) -> Option<std::time::SystemTime> {
    let certs = load_certs(&cfg.cert_file).ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(certs.first()?.as_ref()).ok()?;
    let secs = cert.validity().not_after.timestamp();
    let secs = u64::try_from(secs).ok()?;
    Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// Builds the server side of TLS from the config, reading its PEM files.
pub fn server_config(cfg: &TlsConfig) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = load_certs(&cfg.cert_file)?;
    let key = load_key(&cfg.key_file)?;
    let roots = match (&cfg.ca_file, cfg.verify) {
        (Some(ca_file), _) => Some(load_roots(ca_file)?),
        (None, true) => Some(system_roots()?),
        (None, false) => None,
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsSetupError::Rustls)?;
    let builder = match (cfg.verify, roots) {
        (true, Some(roots)) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsSetupError::ClientVerifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        // Without verify no client certificate is asked for; with it there are always roots.
        _ => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            TlsSetupError::KeyMismatch {
                cert_file: cfg.cert_file.clone(),
                key_file: cfg.key_file.clone(),
            }
        }
        other => TlsSetupError::BadKey {
            file: cfg.key_file.clone(),
            reason: other.to_string(),
        },
    })?;
    Ok(Arc::new(config))
}

/// The TLS version as /connz `tls_version` gives it: "1.2", "1.3".
///
/// rustls negotiates nothing but 1.2 and 1.3; the older names are here for completeness, and
/// anything else is "Unknown" (nats-server adds the number, which cannot happen here).
pub fn tls_version_name(version: ProtocolVersion) -> &'static str {
    match version {
        ProtocolVersion::TLSv1_0 => "1.0",
        ProtocolVersion::TLSv1_1 => "1.1",
        ProtocolVersion::TLSv1_2 => "1.2",
        ProtocolVersion::TLSv1_3 => "1.3",
        _ => "Unknown",
    }
}

/// The cipher suite as /connz `tls_cipher_suite` gives it. nats-server names suites by Go's
/// constants: TLS 1.3 suites without rustls's `TLS13_` prefix, and the 1.2 ChaCha20 suites
/// without the `_SHA256` suffix. Covers every suite the ring provider offers.
pub fn cipher_suite_name(suite: CipherSuite) -> Cow<'static, str> {
    let name = match u16::from(suite) {
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        other => return Cow::Owned(format!("Unknown [0x{other:x}]")),
    };
    Cow::Borrowed(name)
}

/// Why the TLS configuration cannot be used; the server does not start. `Display` follows
/// nats-server's start-up messages and names the file.
#[derive(Debug)]
pub enum TlsSetupError {
    /// A file named in the config cannot be read.
    Read {
        file: PathBuf,
        error: std::io::Error,
        /// `cert_file`/`key_file` are reported as "certificate/key pair" errors, `ca_file` not.
        pair: bool,
    },
    /// `cert_file` holds no certificate; `key_instead` when it holds a private key.
    NoCertificate { file: PathBuf, key_instead: bool },
    /// `key_file` holds no private key in a format we read.
    NoKey { file: PathBuf },
    /// A PEM file is malformed.
    BadPem {
        file: PathBuf,
        reason: String,
        pair: bool,
    },
    /// The private key is not usable (unsupported algorithm or corrupt).
    BadKey { file: PathBuf, reason: String },
    /// The private key does not belong to the first certificate.
    KeyMismatch {
        cert_file: PathBuf,
        key_file: PathBuf,
    },
    /// `ca_file` holds no usable CA certificate.
    BadCaFile { file: PathBuf },
    /// `verify: true` without `ca_file`, and the system has no CA certificates to use.
    NoSystemRoots,
    /// rustls refused to build the client-certificate verifier.
    ClientVerifier(String),
    /// rustls refused the configuration.
    Rustls(rustls::Error),
}

const PAIR: &str = "error parsing X509 certificate/key pair";

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsSetupError::Read { file, error, pair } => {
                if *pair {
                    write!(f, "{PAIR}: ")?;
                }
                write!(f, "open {}: {error}", file.display())
            }
            TlsSetupError::NoCertificate { file, key_instead } => {
                write!(f, "{PAIR}: tls: failed to find certificate PEM data in ")?;
                write!(f, "certificate input {}", file.display())?;
                if *key_instead {
                    write!(
                        f,
                        ", but did find a private key; PEM inputs may have been switched"
                    )?;
                }
                Ok(())
            }
            TlsSetupError::NoKey { file } => write!(
                f,
                "{PAIR}: tls: failed to find any PEM data in key input {}",
                file.display()
            ),
            TlsSetupError::BadPem { file, reason, pair } => {
                if *pair {
                    write!(f, "{PAIR}: ")?;
                }
                write!(f, "{}: {reason}", file.display())
            }
            TlsSetupError::BadKey { file, reason } => {
                write!(f, "{PAIR}: {}: {reason}", file.display())
            }
            TlsSetupError::KeyMismatch {
                cert_file,
                key_file,
            } => write!(
                f,
                "{PAIR}: tls: private key does not match public key ({} and {})",
                cert_file.display(),
                key_file.display()
            ),
            TlsSetupError::BadCaFile { file } => {
                write!(f, "failed to parse root ca certificate {}", file.display())
            }
            TlsSetupError::NoSystemRoots => {
                f.write_str("tls verify without ca_file: no system CA certificates could be loaded")
            }
            TlsSetupError::ClientVerifier(reason) => {
                write!(
                    f,
                    "error building the client certificate verifier: {reason}"
                )
            }
            TlsSetupError::Rustls(e) => write!(f, "tls: {e}"),
        }
    }
}

impl std::error::Error for TlsSetupError {}

fn read(file: &Path, pair: bool) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(file).map_err(|error| TlsSetupError::Read {
        file: file.to_path_buf(),
        error,
        pair,
    })
}

fn bad_pem(file: &Path, e: pem::Error, pair: bool) -> TlsSetupError {
    TlsSetupError::BadPem {
        file: file.to_path_buf(),
        reason: e.to_string(),
        pair,
    }
}

fn load_certs(file: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let pem = read(file, true)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_pem(file, e, true))?;
    if certs.is_empty() {
        return Err(TlsSetupError::NoCertificate {
            file: file.to_path_buf(),
            key_instead: PrivateKeyDer::from_pem_slice(&pem).is_ok(),
        });
    }
    Ok(certs)
}

fn load_key(file: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    let pem = read(file, true)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsSetupError::NoKey {
            file: file.to_path_buf(),
        },
        other => bad_pem(file, other, true),
    })
}

/// The system's CA certificates (the platform store, or `SSL_CERT_FILE`/`SSL_CERT_DIR`), what
/// Go verifies against when no `ClientCAs` are given.
fn system_roots() -> Result<RootCertStore, TlsSetupError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(TlsSetupError::NoSystemRoots);
    }
    Ok(roots)
}

fn load_roots(file: &Path) -> Result<RootCertStore, TlsSetupError> {
    let pem = read(file, false)?;
    let bad_ca = || TlsSetupError::BadCaFile {
        file: file.to_path_buf(),
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad_ca())?;
    let mut roots = RootCertStore::empty();
    // Like Go's AppendCertsFromPEM: certificates that do not parse are skipped, and the file
    // is refused only when none is left.
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(bad_ca());
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection, ServerConnection};

    /// The provider the server uses; the test clients use it too.
    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn certs_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/certs")
    }

    fn tls_config(cert: &str, key: &str) -> TlsConfig {
        TlsConfig {
            cert_file: certs_dir().join(cert),
            key_file: certs_dir().join(key),
            ca_file: None,
            verify: false,
            handshake_first: false,
            timeout_ms: crate::config::TLS_TIMEOUT_MS_DEFAULT,
        }
    }

    fn verify_config() -> TlsConfig {
        TlsConfig {
            ca_file: Some(certs_dir().join("ca.pem")),
            verify: true,
            ..tls_config("server.pem", "server-key.pem")
        }
    }

    /// A client that trusts `ca` and presents `client_cert` (cert, key) when given.
    fn client_config(
        ca: &str,
        client_cert: Option<(&str, &str)>,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(load_certs(&certs_dir().join(ca)).unwrap());
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots);
        let config = match client_cert {
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    load_certs(&certs_dir().join(cert)).unwrap(),
                    load_key(&certs_dir().join(key)).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        Arc::new(config)
    }

    fn default_client(ca: &str, client_cert: Option<(&str, &str)>) -> Arc<ClientConfig> {
        client_config(ca, client_cert, rustls::DEFAULT_VERSIONS)
    }

    /// Which side gave up, and why.
    #[derive(Debug)]
    enum Failed {
        Client(rustls::Error),
        Server(rustls::Error),
    }

    /// Moves bytes between the two ends until neither has anything to send; no sockets.
    fn pump(client: &mut ClientConnection, server: &mut ServerConnection) -> Result<(), Failed> {
        loop {
            let mut moved = false;
            while client.wants_write() {
                let mut bytes = Vec::new();
                client.write_tls(&mut bytes).unwrap();
                // read_tls takes a bounded amount per call: feed it all.
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    server.read_tls(&mut rest).unwrap();
                    server.process_new_packets().map_err(Failed::Server)?;
                }
                moved = true;
            }
            while server.wants_write() {
                let mut bytes = Vec::new();
                server.write_tls(&mut bytes).unwrap();
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    client.read_tls(&mut rest).unwrap();
                    client.process_new_packets().map_err(Failed::Client)?;
                }
                moved = true;
            }
            if !moved {
                return Ok(());
            }
        }
    }

    /// A full handshake between `client` and a server from `server_cfg`; on success the two
    /// ends are returned with the handshake done on both.
    fn handshake(
        server_cfg: &TlsConfig,
        client: Arc<ClientConfig>,
    ) -> Result<(ClientConnection, ServerConnection), Failed> {
        let server = server_config(server_cfg).expect("server config");
        let name = ServerName::try_from("localhost").unwrap();
        let mut client = ClientConnection::new(client, name).unwrap();
        let mut server = ServerConnection::new(server).unwrap();
        pump(&mut client, &mut server)?;
        assert!(!client.is_handshaking() && !server.is_handshaking());
        Ok((client, server))
    }

    /// After the handshake, application data goes through both ways.
    fn exchange(client: &mut ClientConnection, server: &mut ServerConnection) {
        use std::io::{Read, Write};
        client.writer().write_all(b"PING\r\n").unwrap();
        pump(client, server).unwrap();
        let mut got = [0u8; 6];
        server.reader().read_exact(&mut got).unwrap();
        assert_eq!(&got, b"PING\r\n");
        server.writer().write_all(b"PONG\r\n").unwrap();
        pump(client, server).unwrap();
        client.reader().read_exact(&mut got).unwrap();
        assert_eq!(&got, b"PONG\r\n");
    }

    #[test]
    fn handshake_with_pkcs8_pkcs1_and_sec1_keys() {
        for (cert, key) in [
            ("server.pem", "server-key.pem"),
            ("server-rsa.pem", "server-rsa-key.pem"),
            ("server-ec.pem", "server-ec-key.pem"),
        ] {
            let (mut client, mut server) =
                handshake(&tls_config(cert, key), default_client("ca.pem", None))
                    .unwrap_or_else(|e| panic!("{cert}: {e:?}"));
            assert_eq!(server.alpn_protocol(), None);
            assert!(server.peer_certificates().is_none());
            exchange(&mut client, &mut server);
        }
    }

    #[test]
    fn client_refuses_server_from_another_ca() {
        let cfg = tls_config("server.pem", "server-key.pem");
        let err = handshake(&cfg, default_client("untrusted-ca.pem", None)).unwrap_err();
        assert!(
            matches!(err, Failed::Client(rustls::Error::InvalidCertificate(_))),
            "{err:?}"
        );
    }

    #[test]
    fn verify_accepts_client_certificate_from_ca() {
        let client = default_client("ca.pem", Some(("client.pem", "client-key.pem")));
        let (mut client, mut server) = handshake(&verify_config(), client).unwrap();
        assert_eq!(server.peer_certificates().map(<[_]>::len), Some(1));
        exchange(&mut client, &mut server);
    }

    #[test]
    fn verify_refuses_client_without_certificate() {
        for versions in [
            &[&rustls::version::TLS13][..],
            &[&rustls::version::TLS12][..],
        ] {
            let err =
                handshake(&verify_config(), client_config("ca.pem", None, versions)).unwrap_err();
            assert!(
                matches!(err, Failed::Server(rustls::Error::NoCertificatesPresented)),
                "{err:?}"
            );
        }
    }

    #[test]
    fn verify_refuses_client_certificate_from_another_ca() {
        let client = default_client(
            "ca.pem",
            Some(("untrusted-client.pem", "untrusted-client-key.pem")),
        );
        let err = handshake(&verify_config(), client).unwrap_err();
        assert!(
            matches!(err, Failed::Server(rustls::Error::InvalidCertificate(_))),
            "{err:?}"
        );
    }

    #[test]
    fn ca_file_without_verify_asks_for_no_client_certificate() {
        let cfg = TlsConfig {
            ca_file: Some(certs_dir().join("ca.pem")),
            ..tls_config("server.pem", "server-key.pem")
        };
        // Even a client that has a certificate is not asked for it.
        let client = default_client("ca.pem", Some(("client.pem", "client-key.pem")));
        let (_, server) = handshake(&cfg, client).unwrap();
        assert!(server.peer_certificates().is_none());
    }

    #[test]
    fn session_names_as_connz_reports_them() {
        let cfg = tls_config("server.pem", "server-key.pem");
        let (_, server) = handshake(&cfg, default_client("ca.pem", None)).unwrap();
        assert_eq!(tls_version_name(server.protocol_version().unwrap()), "1.3");
        let suite = cipher_suite_name(server.negotiated_cipher_suite().unwrap().suite());
        assert!(
            suite.starts_with("TLS_AES_") || suite.starts_with("TLS_CHACHA20"),
            "{suite}"
        );

        let tls12 = client_config("ca.pem", None, &[&rustls::version::TLS12]);
        let (_, server) = handshake(&cfg, tls12).unwrap();
        assert_eq!(tls_version_name(server.protocol_version().unwrap()), "1.2");
        let suite = cipher_suite_name(server.negotiated_cipher_suite().unwrap().suite());
        // server.pem has an EC key.
        assert!(suite.starts_with("TLS_ECDHE_ECDSA_WITH_"), "{suite}");
    }

    #[test]
    fn every_ring_suite_has_a_nats_server_name() {
        for suite in provider().cipher_suites.iter() {
            let name = cipher_suite_name(suite.suite());
            assert!(!name.starts_with("Unknown"), "{:?}", suite.suite());
        }
        assert_eq!(
            cipher_suite_name(CipherSuite::TLS13_AES_128_GCM_SHA256),
            "TLS_AES_128_GCM_SHA256"
        );
        assert_eq!(
            cipher_suite_name(CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"
        );
        assert_eq!(
            cipher_suite_name(CipherSuite::from(0x00ff)),
            "Unknown [0xff]"
        );
    }

    fn setup_error(cfg: &TlsConfig) -> String {
        server_config(cfg).unwrap_err().to_string()
    }

    #[test]
    fn missing_cert_file_named() {
        let msg = setup_error(&tls_config("nope.pem", "server-key.pem"));
        assert!(
            msg.starts_with("error parsing X509 certificate/key pair: open ")
                && msg.contains("tests/certs/nope.pem"),
            "{msg}"
        );
    }

    #[test]
    fn switched_cert_and_key_reported() {
        let msg = setup_error(&tls_config("server-key.pem", "server.pem"));
        assert!(msg.contains("PEM inputs may have been switched"), "{msg}");
        assert!(msg.contains("server-key.pem"), "{msg}");
    }

    #[test]
    fn key_of_another_certificate_refused() {
        let err = server_config(&tls_config("server.pem", "client-key.pem")).unwrap_err();
        assert!(matches!(err, TlsSetupError::KeyMismatch { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("tls: private key does not match public key"),
            "{err}"
        );
    }

    #[test]
    fn key_file_without_key_refused() {
        let err = server_config(&tls_config("server.pem", "server.pem")).unwrap_err();
        assert!(matches!(err, TlsSetupError::NoKey { .. }), "{err}");
    }

    #[test]
    fn bad_ca_file_refused() {
        let missing = TlsConfig {
            ca_file: Some(certs_dir().join("nope.pem")),
            ..verify_config()
        };
        let msg = setup_error(&missing);
        assert!(
            msg.starts_with("open ") && msg.contains("nope.pem"),
            "{msg}"
        );
        let not_a_ca = TlsConfig {
            ca_file: Some(certs_dir().join("server-key.pem")),
            ..verify_config()
        };
        let msg = setup_error(&not_a_ca);
        assert!(
            msg.starts_with("failed to parse root ca certificate"),
            "{msg}"
        );
    }

    #[test]
    fn verify_without_ca_file_checks_against_the_system_roots() {
        // SSL_CERT_FILE and SSL_CERT_DIR name the system store (as for Go and OpenSSL); no
        // other test reads them. With the test CA as the system store, its client
        // certificate passes.
        let saved: Vec<_> = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
            .into_iter()
            .map(|k| (k, std::env::var_os(k)))
            .collect();
        std::env::set_var("SSL_CERT_DIR", "");
        std::env::set_var("SSL_CERT_FILE", certs_dir().join("ca.pem"));
        let cfg = TlsConfig {
            ca_file: None,
            ..verify_config()
        };
        let client = default_client("ca.pem", Some(("client.pem", "client-key.pem")));
        let (mut client, mut server) = handshake(&cfg, client).unwrap();
        assert_eq!(server.peer_certificates().map(<[_]>::len), Some(1));
        exchange(&mut client, &mut server);
        // A store without a usable certificate is refused at start.
        std::env::set_var("SSL_CERT_FILE", certs_dir().join("server-key.pem"));
        let err = server_config(&cfg).unwrap_err();
        assert!(matches!(err, TlsSetupError::NoSystemRoots), "{err}");
        for (k, v) in saved {
            match v {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
    }
}
