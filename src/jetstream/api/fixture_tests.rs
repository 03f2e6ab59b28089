//! Replays the transcript captured from nats-server 2.15.1 (tests/js_api_fixtures/
//! captures.json, made by capture.py) against [`handle`] over the in-memory fake, and
//! compares every reply: the same keys in the same order, the same value types, the same
//! values except for the volatile ones (times, ids, API counters), the same error codes and
//! exact descriptions. Publishes go through the publish checks as a shard would run them.

use super::fake::Fake;
use super::{handle, ApiEnv, Features, Response};
use serde_json::Value;

const CAPTURES: &str = include_str!("../../../tests/js_api_fixtures/captures.json");

/// Keys whose values differ from run to run and are compared by type only.
const VOLATILE_KEYS: &[&str] = &[
    "created",
    "ts",
    "first_ts",
    "last_ts",
    "time",
    "leader",
    "last_active",
    "pause_remaining",
];
/// Whole paths likewise: the API counters, and the account usage, which is the store's
/// business (nats-server counts its internal mirror/source consumers there).
const VOLATILE_PATHS: &[&str] = &[
    ".api.total",
    ".api.errors",
    ".storage",
    ".memory",
    ".consumers",
];

pub(super) fn env() -> ApiEnv {
    let mut env = ApiEnv::new("2.15.1", 5);
    env.features = Features::all();
    env.server_name = "NATRIX".into();
    env
}

/// The object keys of a JSON text in document order.
pub(super) fn key_sequence(json: &str) -> Vec<String> {
    let b = json.as_bytes();
    let (mut keys, mut i) = (Vec::new(), 0);
    while i < b.len() {
        if b[i] == b'"' {
            let start = i + 1;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            let s = &json[start..i.min(b.len())];
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < b.len() && b[j] == b':' {
                keys.push(s.to_string());
            }
        }
        i += 1;
    }
    keys
}

fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

pub(super) fn compare(path: &str, want: &Value, got: &Value, diffs: &mut Vec<String>) {
    let key = path.rsplit('.').next().unwrap_or("");
    if VOLATILE_KEYS.contains(&key) || VOLATILE_PATHS.contains(&path) {
        if !same_type(want, got) {
            diffs.push(format!("{path}: type {want} vs {got}"));
        }
        return;
    }
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => compare(&format!("{path}.{k}"), wv, gv, diffs),
                    None => diffs.push(format!("{path}.{k}: missing")),
                }
            }
            for k in g.keys().filter(|k| !w.contains_key(*k)) {
                diffs.push(format!("{path}.{k}: extra"));
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                compare(&format!("{path}[{i}]"), wv, gv, diffs);
            }
        }
        (Value::String(w), Value::String(g)) if key == "description" => {
            // Go's own decoder texts ("json: cannot unmarshal ...", "unexpected EOF") name Go
            // types; serde's differ. Only the constant part is compared for those.
            let go_decoder = w.starts_with("invalid JSON: json:")
                || w.starts_with("invalid JSON: parsing time")
                || w == "invalid JSON: unexpected EOF";
            let ok = if go_decoder {
                g.starts_with("invalid JSON: ")
            } else {
                w == g
            };
            if !ok {
                diffs.push(format!("{path}: {w:?} vs {g:?}"));
            }
        }
        _ if want != got => diffs.push(format!("{path}: {want} vs {got}")),
        _ => {}
    }
}

pub(super) fn header_block(headers: &Value) -> Vec<u8> {
    let Some(list) = headers.as_array() else {
        return Vec::new();
    };
    let mut b = b"NATS/1.0\r\n".to_vec();
    for kv in list {
        b.extend_from_slice(
            format!(
                "{}: {}\r\n",
                kv[0].as_str().unwrap_or(""),
                kv[1].as_str().unwrap_or("")
            )
            .as_bytes(),
        );
    }
    b.extend_from_slice(b"\r\n");
    b
}

/// Our reply in the capture's shape: (status line, headers, payload).
pub(super) fn ours(r: Response) -> (Option<String>, Vec<(String, String)>, String) {
    match r {
        Response::Json(b) => (None, vec![], String::from_utf8(b).unwrap_or_default()),
        Response::Message { headers, payload } => {
            let text = String::from_utf8(headers).unwrap_or_default();
            let mut lines = text.trim_end_matches("\r\n").split("\r\n");
            let status = lines.next().unwrap_or("").to_string();
            let hdrs = lines
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (
                Some(status),
                hdrs,
                String::from_utf8(payload).unwrap_or_default(),
            )
        }
        Response::NoResponders => (Some("NATS/1.0 503".into()), vec![], String::new()),
        Response::None => (Some("timeout".into()), vec![], String::new()),
        Response::Consumer => (Some("forwarded".into()), vec![], String::new()),
    }
}

#[test]
fn replies_match_nats_server_2_15_1_captures() {
    let cases: Vec<Value> = serde_json::from_str(CAPTURES).expect("captures.json parses");
    assert!(cases.len() > 100, "the transcript is there");
    let (mut fake, mut env) = (Fake::default(), env());
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        // The capture's own clock, so duplicate windows expire as they did there.
        let now = case["at_ns"]
            .as_i64()
            .unwrap_or(1_764_000_000_000_000_000 + i as i64 * 1_000_000);
        let name = case["name"].as_str().unwrap_or("");
        let subject = case["subject"].as_str().unwrap_or("");
        let mut payload = case["payload"].as_str().unwrap_or("").as_bytes().to_vec();
        if name == "create_oversized" {
            payload = serde_json::to_vec(
                &serde_json::json!({"name": "BIG", "description": "d".repeat(200_000)}),
            )
            .unwrap();
        }
        if name == "purge_deny" {
            handle(
                "$JS.API.STREAM.CREATE.PR2",
                "r",
                b"",
                br#"{"name":"PR2","deny_purge":true}"#,
                now,
                &mut fake,
                &mut env,
            );
        }
        let hdr = header_block(&case["headers"]);
        let (status, hdrs, body) = if subject.starts_with("$JS.API.") {
            ours(handle(
                subject, "_INBOX.r", &hdr, &payload, now, &mut fake, &mut env,
            ))
        } else {
            let ack = fake
                .publish(subject, &hdr, &payload, now, &env)
                .unwrap_or_default();
            (None, vec![], String::from_utf8(ack).unwrap_or_default())
        };
        if status.as_deref() == Some("forwarded") {
            // Handed to the consumer layer, which answers it; nothing of ours to compare.
            continue;
        }
        let reply = &case["reply"];
        let want_status = reply["status_line"].as_str().map(str::to_string);
        let want_body = reply["payload"].as_str().unwrap_or("");
        let mut diffs = Vec::new();
        if want_status != status {
            diffs.push(format!("status {want_status:?} vs {status:?}"));
        }
        if want_status.as_deref() == Some("NATS/1.0") {
            let want_hdrs: Vec<(String, String)> = reply["headers"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .map(|kv| {
                            (
                                kv[0].as_str().unwrap_or("").into(),
                                kv[1].as_str().unwrap_or("").into(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let strip = |h: &[(String, String)]| -> Vec<(String, String)> {
                h.iter()
                    .filter(|(k, _)| k != "Nats-Time-Stamp")
                    .cloned()
                    .collect()
            };
            if strip(&want_hdrs) != strip(&hdrs) {
                diffs.push(format!("headers {want_hdrs:?} vs {hdrs:?}"));
            }
            if want_body != body {
                diffs.push(format!("payload {want_body:?} vs {body:?}"));
            }
        } else if want_status.is_none() && !subject.starts_with("$JS.API.") {
            // Pub-acks have nothing volatile: byte for byte (nats-server's spacing included).
            if want_body != body {
                diffs.push(format!("pub-ack {want_body:?} vs {body:?}"));
            }
        } else if want_status.is_none() {
            let (w, g): (Value, Value) =
                match (serde_json::from_str(want_body), serde_json::from_str(&body)) {
                    (Ok(w), Ok(g)) => (w, g),
                    _ => {
                        failures.push(format!("{name}: unparsable reply: {body:?}"));
                        continue;
                    }
                };
            compare("", &w, &g, &mut diffs);
            let drop = |k: &String| k != "cluster" && k != "leader";
            let wk: Vec<String> = key_sequence(want_body).into_iter().filter(drop).collect();
            let gk: Vec<String> = key_sequence(&body).into_iter().filter(drop).collect();
            if diffs.is_empty() && wk != gk {
                diffs.push(format!("key order\n  want {wk:?}\n  got  {gk:?}"));
            }
        }
        if !diffs.is_empty() {
            failures.push(format!("{name}: {}", diffs.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} replies differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
