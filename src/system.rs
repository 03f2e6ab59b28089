//! The system account's services: the `$SYS.REQ.` requests the `nats` CLI sends, and the
//! connect/disconnect events.
//!
//! A request is recognised on the shard that received it ([`classify`], sans-io) and handed
//! to one service thread off the shards. That thread gathers the monitoring snapshot the same
//! way the HTTP monitor does (a job per shard), renders the endpoint's JSON inside
//! nats-server's `{"server":{...},"data":{...}}` envelope ([`envelope`]), and posts a job to
//! the requesting shard that publishes the answer on the reply subject. So the message path
//! never waits for other shards, and a slow gather holds up nothing but `$SYS` answers.
//!
//! Requests from the system account: `$SYS.REQ.SERVER.PING[.<EP>]`,
//! `$SYS.REQ.SERVER.<id>.<EP>`, `$SYS.REQ.ACCOUNT.<acc>.<EP>`, `$SYS.REQ.USER.INFO`. From
//! any other account, the four nats-server imports implicitly (accounts.md §4.1):
//! `$SYS.REQ.SERVER.PING.CONNZ` and `$SYS.REQ.ACCOUNT.PING.CONNZ` (a connz of the
//! requester's own account, whatever the body asks), `$SYS.REQ.ACCOUNT.PING.STATZ` and
//! `$SYS.REQ.USER.INFO`. Everything else under `$SYS.` from a normal account stays in that
//! account (and gets the 503 when nobody there listens), as in nats-server.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Server endpoints answered under `$SYS.REQ.SERVER.`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerEndpoint {
    Statsz,
    Idz,
    Varz,
    Connz,
    Subsz,
    Routez,
    Gatewayz,
    Leafz,
    Accountz,
    Jsz,
    Healthz,
}

impl ServerEndpoint {
    fn parse(s: &[u8]) -> Option<ServerEndpoint> {
        Some(match s {
            b"STATSZ" => ServerEndpoint::Statsz,
            b"IDZ" => ServerEndpoint::Idz,
            b"VARZ" => ServerEndpoint::Varz,
            b"CONNZ" => ServerEndpoint::Connz,
            b"SUBSZ" => ServerEndpoint::Subsz,
            b"ROUTEZ" => ServerEndpoint::Routez,
            b"GATEWAYZ" => ServerEndpoint::Gatewayz,
            b"LEAFZ" => ServerEndpoint::Leafz,
            b"ACCOUNTZ" => ServerEndpoint::Accountz,
            b"JSZ" => ServerEndpoint::Jsz,
            b"HEALTHZ" => ServerEndpoint::Healthz,
            _ => return None,
        })
    }
}

/// Account endpoints answered under `$SYS.REQ.ACCOUNT.<acc>.`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountEndpoint {
    Connz,
    Subsz,
    Leafz,
    Jsz,
    Info,
    Statz,
}

impl AccountEndpoint {
    fn parse(s: &[u8]) -> Option<AccountEndpoint> {
        Some(match s {
            b"CONNZ" => AccountEndpoint::Connz,
            b"SUBSZ" => AccountEndpoint::Subsz,
            b"LEAFZ" => AccountEndpoint::Leafz,
            b"JSZ" => AccountEndpoint::Jsz,
            b"INFO" => AccountEndpoint::Info,
            b"STATZ" => AccountEndpoint::Statz,
            _ => return None,
        })
    }
}

/// What a `$SYS.REQ.` subject asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Server(ServerEndpoint),
    Account(String, AccountEndpoint),
    UserInfo,
}

/// Which service a publish on `subject` asks for: `in_system` says whether the publisher is
/// in the system account; `account` names the publisher's account (the implicit imports
/// answer for it alone). None: not a system request, or one nobody serves.
pub fn classify(subject: &[u8], in_system: bool, account: &str, server_id: &str) -> Option<Target> {
    let rest = subject.strip_prefix(b"$SYS.REQ.")?;
    if !in_system {
        return match rest {
            b"SERVER.PING.CONNZ" | b"ACCOUNT.PING.CONNZ" => {
                Some(Target::Account(account.to_string(), AccountEndpoint::Connz))
            }
            b"ACCOUNT.PING.STATZ" => {
                Some(Target::Account(account.to_string(), AccountEndpoint::Statz))
            }
            b"USER.INFO" => Some(Target::UserInfo),
            _ => None,
        };
    }
    let tokens: Vec<&[u8]> = rest.split(|&b| b == b'.').collect();
    match tokens.as_slice() {
        [b"SERVER", b"PING"] => Some(Target::Server(ServerEndpoint::Statsz)),
        [b"SERVER", b"PING", ep] => ServerEndpoint::parse(ep).map(Target::Server),
        [b"SERVER", id, ep] if *id == server_id.as_bytes() => {
            ServerEndpoint::parse(ep).map(Target::Server)
        }
        [b"ACCOUNT", b"PING", b"STATZ"] => {
            Some(Target::Account(String::new(), AccountEndpoint::Statz))
        }
        [b"ACCOUNT", acc, ep] => AccountEndpoint::parse(ep)
            .map(|e| Target::Account(String::from_utf8_lossy(acc).into_owned(), e)),
        [b"USER", b"INFO"] => Some(Target::UserInfo),
        _ => None,
    }
}

/// What the requester sent along, and where the answer goes.
#[derive(Debug)]
pub struct Request {
    pub target: Target,
    /// The shard that publishes the answer, and the account it publishes it in.
    pub shard: usize,
    pub reply_account: crate::account::AccountId,
    pub reply: Vec<u8>,
    pub body: Vec<u8>,
    /// For USER.INFO: the requester's user name and account name.
    pub user: String,
    pub account_name: String,
}

/// The monitoring path and query string that answer `target` with the options in `body`
/// (the `$SYS` JSON names mapped onto the HTTP parameters, accounts.md §4.3).
pub fn monitor_query(target: &Target, body: &[u8]) -> Result<(&'static str, String), String> {
    let opts: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_slice(body).map_err(|e| e.to_string())?
    };
    let mut q: Vec<String> = Vec::new();
    let param = |q: &mut Vec<String>, name: &str, key: &str| {
        if let Some(v) = opts.get(key) {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(true) => "1".into(),
                serde_json::Value::Bool(false) => return,
                serde_json::Value::Null => return,
                other => other.to_string(),
            };
            q.push(format!("{name}={}", percent(&text)));
        }
    };
    let path = match target {
        Target::Server(ServerEndpoint::Connz) | Target::Account(_, AccountEndpoint::Connz) => {
            param(&mut q, "acc", "acc");
            param(&mut q, "auth", "auth");
            if opts.get("subscriptions_detail") == Some(&serde_json::Value::Bool(true)) {
                q.push("subs=detail".into());
            } else {
                param(&mut q, "subs", "subscriptions");
            }
            for k in ["state", "sort", "offset", "limit", "cid", "user"] {
                param(&mut q, k, k);
            }
            "/connz"
        }
        Target::Server(ServerEndpoint::Subsz) | Target::Account(_, AccountEndpoint::Subsz) => {
            param(&mut q, "acc", "account");
            param(&mut q, "subs", "subscriptions");
            param(&mut q, "test", "test");
            for k in ["offset", "limit"] {
                param(&mut q, k, k);
            }
            "/subsz"
        }
        Target::Server(ServerEndpoint::Accountz) => {
            param(&mut q, "acc", "account");
            "/accountz"
        }
        Target::Server(ServerEndpoint::Varz | ServerEndpoint::Statsz) => "/varz",
        Target::Server(ServerEndpoint::Routez) => "/routez",
        Target::Server(ServerEndpoint::Gatewayz) => "/gatewayz",
        Target::Server(ServerEndpoint::Leafz) | Target::Account(_, AccountEndpoint::Leafz) => {
            "/leafz"
        }
        Target::Server(ServerEndpoint::Jsz) | Target::Account(_, AccountEndpoint::Jsz) => {
            // nats-server's JSzOptions names.
            for (name, key) in [
                ("acc", "account"),
                ("accounts", "accounts"),
                ("streams", "streams"),
                ("consumers", "consumer"),
                ("config", "config"),
                ("leader-only", "leader_only"),
                ("offset", "offset"),
                ("limit", "limit"),
            ] {
                param(&mut q, name, key);
            }
            "/jsz"
        }
        Target::Server(ServerEndpoint::Healthz) => "/healthz",
        Target::Account(_, AccountEndpoint::Info) => "/accountz",
        Target::Server(ServerEndpoint::Idz)
        | Target::Account(_, AccountEndpoint::Statz)
        | Target::UserInfo => "",
    };
    if let Target::Account(acc, ep) = target {
        // An account request is about that account, whatever the body says.
        q.retain(|p| !p.starts_with("acc="));
        if !acc.is_empty() && *ep != AccountEndpoint::Leafz {
            q.push(format!("acc={}", percent(acc)));
        }
        if *ep == AccountEndpoint::Subsz && !q.iter().any(|p| p.starts_with("subs=")) {
            q.push("subs=1".into());
        }
    }
    Ok((path, q.join("&")))
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `server` block of every system message; `seq` counts the messages the server sent.
#[derive(Serialize)]
pub struct ServerBlock<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub id: &'a str,
    pub ver: &'a str,
    pub jetstream: bool,
    pub flags: u64,
    pub seq: u64,
    pub time: String,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// The next system message sequence number.
pub fn next_seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed) + 1
}

/// `{"server":{...},"data":<data>}`, or with `error` instead of data.
pub fn envelope(server: &ServerBlock<'_>, key: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 256);
    out.extend_from_slice(b"{\"server\":");
    out.extend_from_slice(&serde_json::to_vec(server).unwrap_or_default());
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    out.extend_from_slice(data);
    out.push(b'}');
    out
}

/// `{"server":{...},"error":{"code":N,"description":"..."}}`.
pub fn error_envelope(server: &ServerBlock<'_>, code: u16, description: &str) -> Vec<u8> {
    let err = serde_json::json!({ "code": code, "description": description });
    envelope(server, "error", err.to_string().as_bytes())
}

/// The statsz document nats-server sends for `$SYS.REQ.SERVER.PING`, from the `/varz` JSON.
pub fn statsz_from_varz(varz: &serde_json::Value) -> Vec<u8> {
    let n = |k: &str| varz.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let sent = serde_json::json!({"msgs": n("out_msgs"), "bytes": n("out_bytes")});
    let received = serde_json::json!({"msgs": n("in_msgs"), "bytes": n("in_bytes")});
    let doc = serde_json::json!({
        "start": varz.get("start").cloned().unwrap_or_default(),
        "mem": n("mem"),
        "cores": n("cores"),
        "cpu": varz.get("cpu").cloned().unwrap_or(serde_json::json!(0)),
        "connections": n("connections"),
        "total_connections": n("total_connections"),
        "active_accounts": varz.get("accounts").and_then(|a| a.as_array()).map_or(1, Vec::len),
        "subscriptions": n("subscriptions"),
        "sent": sent,
        "sent_to_clients": sent,
        "received": received,
        "received_from_clients": received,
        "slow_consumers": n("slow_consumers"),
        "active_servers": 1,
        "gomaxprocs": n("gomaxprocs"),
    });
    doc.to_string().into_bytes()
}

/// The body of a `$SYS.ACCOUNT.<acc>.CONNECT|DISCONNECT` event.
#[derive(Serialize)]
pub struct ClientEvent<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub timestamp: String,
    pub server: ServerBlock<'a>,
    pub client: EventClient<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<MsgBytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<MsgBytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

#[derive(Serialize)]
pub struct EventClient<'a> {
    pub start: String,
    pub host: &'a str,
    pub id: u64,
    pub acc: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub user: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub lang: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub ver: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    pub name_tag: &'a str,
    pub kind: &'static str,
    pub client_type: &'static str,
}

#[derive(Serialize)]
pub struct MsgBytes {
    pub msgs: u64,
    pub bytes: u64,
}

pub const CONNECT_EVENT: &str = "io.nats.server.advisory.v1.client_connect";
pub const DISCONNECT_EVENT: &str = "io.nats.server.advisory.v1.client_disconnect";

/// A 22-character event id, as nats-server's NUIDs look.
pub fn event_id() -> String {
    use rand::Rng;
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut r = rand::thread_rng();
    (0..22)
        .map(|_| BASE62[r.gen_range(0..62)] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_account_requests_are_recognised() {
        let c = |s: &str| classify(s.as_bytes(), true, "SYS", "NID");
        assert_eq!(
            c("$SYS.REQ.SERVER.PING"),
            Some(Target::Server(ServerEndpoint::Statsz))
        );
        assert_eq!(
            c("$SYS.REQ.SERVER.PING.VARZ"),
            Some(Target::Server(ServerEndpoint::Varz))
        );
        assert_eq!(
            c("$SYS.REQ.SERVER.NID.HEALTHZ"),
            Some(Target::Server(ServerEndpoint::Healthz))
        );
        assert_eq!(c("$SYS.REQ.SERVER.OTHER.VARZ"), None);
        assert_eq!(c("$SYS.REQ.SERVER.PING.NOPE"), None);
        assert_eq!(
            c("$SYS.REQ.ACCOUNT.A.CONNZ"),
            Some(Target::Account("A".into(), AccountEndpoint::Connz))
        );
        assert_eq!(c("$SYS.REQ.USER.INFO"), Some(Target::UserInfo));
        assert_eq!(c("foo"), None);
    }

    #[test]
    fn other_accounts_get_only_the_implicit_imports_for_themselves() {
        let c = |s: &str| classify(s.as_bytes(), false, "B", "NID");
        assert_eq!(
            c("$SYS.REQ.SERVER.PING.CONNZ"),
            Some(Target::Account("B".into(), AccountEndpoint::Connz))
        );
        assert_eq!(
            c("$SYS.REQ.ACCOUNT.PING.STATZ"),
            Some(Target::Account("B".into(), AccountEndpoint::Statz))
        );
        assert_eq!(c("$SYS.REQ.SERVER.PING"), None);
        assert_eq!(c("$SYS.REQ.SERVER.PING.VARZ"), None);
        assert_eq!(c("$SYS.REQ.ACCOUNT.B.CONNZ"), None);
    }

    #[test]
    fn connz_options_become_the_http_parameters_and_account_requests_pin_the_account() {
        let (p, q) = monitor_query(
            &Target::Server(ServerEndpoint::Connz),
            br#"{"acc":"A","subscriptions":true,"limit":5}"#,
        )
        .unwrap();
        assert_eq!((p, q.as_str()), ("/connz", "acc=A&subs=1&limit=5"));
        let (p, q) = monitor_query(
            &Target::Account("B".into(), AccountEndpoint::Connz),
            br#"{"acc":"A","auth":true}"#,
        )
        .unwrap();
        assert_eq!((p, q.as_str()), ("/connz", "auth=1&acc=B"));
        let (p, q) =
            monitor_query(&Target::Account("$G".into(), AccountEndpoint::Subsz), b"").unwrap();
        assert_eq!((p, q.as_str()), ("/subsz", "acc=%24G&subs=1"));
        assert!(monitor_query(&Target::Server(ServerEndpoint::Varz), b"{bad").is_err());
    }
}
