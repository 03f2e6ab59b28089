//! The server's INFO document and the client's CONNECT options.
//!
//! INFO fields come in nats-server's order (Go struct order, empty optional fields left
//! out); natrix adds its own version in `natrix_version`. CONNECT is decoded the way Go's
//! `encoding/json` decodes it onto the connection's current options: keys match
//! case-insensitively, unknown keys are ignored, missing keys keep their values, and a value
//! of the wrong type rejects the whole CONNECT (nats-server then closes silently).

use serde::Serialize;
use serde_json::{Map, Value};

use super::errors::ClientError;

/// The nats-server feature level natrix speaks on the client port. Clients gate features on
/// it; 2.12 is the release that added the `connect_info` INFO natrix sends.
pub const NATS_FEATURE_VERSION: &str = "2.12.0";

/// natrix's own version, sent beside the feature level.
pub const NATRIX_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The INFO sent on accept (and, with `connect_info`, after the first PONG).
#[derive(Serialize, Debug, Clone)]
pub struct ServerInfo<'a> {
    pub server_id: &'a str,
    pub server_name: &'a str,
    pub version: &'static str,
    pub proto: u8,
    pub go: &'static str,
    pub host: &'a str,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    pub max_payload: usize,
    /// JetStream is enabled (nats-server sends the key only then, right after max_payload).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub jetstream: bool,
    pub client_id: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub client_ip: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub nonce: &'a str,
    /// Lame duck mode: the server will close this connection soon.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ldm: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub connect_info: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_account: Option<&'a str>,
    /// The connection is in the system account (the second INFO only).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub acc_is_sys: bool,
    /// The JetStream API level served (`JS_API_LEVEL`), sent whether or not JetStream is on,
    /// as nats-server 2.12+ does; left out at 0 (Go's `omitempty`).
    #[serde(skip_serializing_if = "is_zero")]
    pub api_lvl: u32,
    pub natrix_version: &'static str,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl ServerInfo<'_> {
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What the client asked for in CONNECT. Defaults are nats-server's for a client that sent no
/// CONNECT: verbose and pedantic on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    pub verbose: bool,
    pub pedantic: bool,
    pub echo: bool,
    pub headers: bool,
    pub no_responders: bool,
    pub protocol: i64,
    pub name: String,
    pub lang: String,
    pub version: String,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub auth_token: Option<String>,
    /// The user's public nkey, and its signature of the INFO nonce.
    pub nkey: Option<String>,
    pub sig: Option<String>,
}

/// What a CONNECT names the client by in nats-server's log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamedCredential<'a> {
    Nkey(&'a str),
    User(&'a str),
    Token,
}

impl ConnectOptions {
    /// The credential nats-server's log lines name: the nkey before the user name before
    /// the token; empty ones do not count.
    pub fn named_credential(&self) -> Option<NamedCredential<'_>> {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|s| !s.is_empty())
        }
        if let Some(k) = given(&self.nkey) {
            Some(NamedCredential::Nkey(k))
        } else if let Some(u) = given(&self.user) {
            Some(NamedCredential::User(u))
        } else {
            given(&self.auth_token).map(|_| NamedCredential::Token)
        }
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            protocol: 0,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            user: None,
            pass: None,
            auth_token: None,
            nkey: None,
            sig: None,
        }
    }
}

/// Why a CONNECT was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// Not JSON, or a value of the wrong type: close without `-ERR`.
    Malformed,
    /// Close after sending this `-ERR`.
    Refused(ClientError),
}

impl ConnectOptions {
    /// Applies a CONNECT document on top of `self`, as nats-server does.
    pub fn apply(&mut self, json: &[u8]) -> Result<(), ConnectError> {
        let map: Map<String, Value> =
            serde_json::from_slice(json).map_err(|_| ConnectError::Malformed)?;
        let mut next = self.clone();
        for (key, value) in &map {
            let key = key.to_ascii_lowercase();
            if value.is_null() {
                continue;
            }
            match key.as_str() {
                "verbose" => next.verbose = as_bool(value)?,
                "pedantic" => next.pedantic = as_bool(value)?,
                "echo" => next.echo = as_bool(value)?,
                "headers" => next.headers = as_bool(value)?,
                "no_responders" => next.no_responders = as_bool(value)?,
                "tls_required" => {
                    as_bool(value)?;
                }
                "protocol" => next.protocol = value.as_i64().ok_or(ConnectError::Malformed)?,
                "name" => next.name = as_string(value)?,
                "lang" => next.lang = as_string(value)?,
                "version" => next.version = as_string(value)?,
                "user" => next.user = Some(as_string(value)?),
                "pass" => next.pass = Some(as_string(value)?),
                "auth_token" => next.auth_token = Some(as_string(value)?),
                "nkey" => next.nkey = Some(as_string(value)?),
                "sig" => next.sig = Some(as_string(value)?),
                "account" | "new_account" => {
                    return Err(ConnectError::Refused(ClientError::AuthorizationViolation))
                }
                _ => {}
            }
        }
        if !(0..=1).contains(&next.protocol) {
            return Err(ConnectError::Refused(ClientError::InvalidProtocol));
        }
        if next.no_responders && !next.headers {
            return Err(ConnectError::Refused(ClientError::NoRespondersNeedsHeaders));
        }
        *self = next;
        Ok(())
    }
}

fn as_bool(v: &Value) -> Result<bool, ConnectError> {
    v.as_bool().ok_or(ConnectError::Malformed)
}

fn as_string(v: &Value) -> Result<String, ConnectError> {
    v.as_str().map(str::to_owned).ok_or(ConnectError::Malformed)
}

/// A 56-character id in the alphabet of NATS server public keys (`N` + base32).
pub fn new_server_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    std::iter::once('N')
        .chain((0..55).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logged_credential_is_the_nkey_then_the_user_then_the_token() {
        let mut c = ConnectOptions::default();
        assert_eq!(c.named_credential(), None);
        c.apply(br#"{"auth_token":"t","user":"","nkey":""}"#)
            .unwrap();
        assert_eq!(c.named_credential(), Some(NamedCredential::Token));
        c.apply(br#"{"auth_token":"t","user":"bob"}"#).unwrap();
        assert_eq!(c.named_credential(), Some(NamedCredential::User("bob")));
        c.apply(br#"{"user":"bob","nkey":"UAB"}"#).unwrap();
        assert_eq!(c.named_credential(), Some(NamedCredential::Nkey("UAB")));
    }

    #[test]
    fn empty_connect_keeps_verbose_and_pedantic() {
        let mut c = ConnectOptions::default();
        c.apply(b"{}").unwrap();
        assert!(c.verbose && c.pedantic && c.echo && !c.headers);
    }

    #[test]
    fn keys_match_case_insensitively_and_unknown_keys_are_ignored() {
        let mut c = ConnectOptions::default();
        c.apply(br#"{"Verbose":false,"PEDANTIC":false,"whatever":[1,2]}"#)
            .unwrap();
        assert!(!c.verbose && !c.pedantic);
    }

    #[test]
    fn wrong_types_and_bad_json_are_malformed() {
        let mut c = ConnectOptions::default();
        assert_eq!(
            c.apply(br#"{"verbose":"yes"}"#),
            Err(ConnectError::Malformed)
        );
        assert_eq!(c.apply(b"{"), Err(ConnectError::Malformed));
        assert_eq!(c.apply(b"[]"), Err(ConnectError::Malformed));
        assert_eq!(c, ConnectOptions::default());
    }

    #[test]
    fn protocol_two_and_no_responders_without_headers_are_refused() {
        let mut c = ConnectOptions::default();
        assert_eq!(
            c.apply(br#"{"protocol":2}"#),
            Err(ConnectError::Refused(ClientError::InvalidProtocol))
        );
        assert_eq!(
            c.apply(br#"{"no_responders":true}"#),
            Err(ConnectError::Refused(ClientError::NoRespondersNeedsHeaders))
        );
        assert!(c.apply(br#"{"no_responders":true,"headers":true}"#).is_ok());
    }

    #[test]
    fn account_in_connect_is_an_authorization_violation() {
        let mut c = ConnectOptions::default();
        assert_eq!(
            c.apply(br#"{"account":"A"}"#),
            Err(ConnectError::Refused(ClientError::AuthorizationViolation))
        );
    }

    #[test]
    fn info_is_compact_and_in_nats_server_order() {
        let info = ServerInfo {
            server_id: "NID",
            server_name: "n",
            version: NATS_FEATURE_VERSION,
            proto: 1,
            go: "natrix",
            host: "127.0.0.1",
            port: 4222,
            headers: true,
            auth_required: false,
            tls_required: false,
            tls_verify: false,
            max_payload: 1048576,
            client_id: 5,
            client_ip: "127.0.0.1",
            nonce: "",
            ldm: false,
            connect_info: false,
            remote_account: None,
            acc_is_sys: false,
            api_lvl: 1,
            jetstream: false,
            natrix_version: NATRIX_VERSION,
        };
        let s = String::from_utf8(info.to_json()).unwrap();
        assert!(s.contains(r#""client_ip":"127.0.0.1","api_lvl":1,"#), "{s}");
        assert!(
            s.starts_with(r#"{"server_id":"NID","server_name":"n","version":"2.12.0","proto":1"#)
        );
        assert!(s.contains(r#""headers":true,"max_payload":1048576,"client_id":5"#));
        assert!(!s.contains("connect_info") && !s.contains(' '));
        // nats-server's field order puts jetstream right after max_payload.
        let js = String::from_utf8(
            ServerInfo {
                jetstream: true,
                ..info
            }
            .to_json(),
        )
        .unwrap();
        assert!(
            js.contains(r#""max_payload":1048576,"jetstream":true,"client_id":5"#),
            "{js}"
        );
        assert_eq!(new_server_id().len(), 56);
    }
}
