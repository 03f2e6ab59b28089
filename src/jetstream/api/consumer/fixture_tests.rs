//! Replays the consumer transcript captured from nats-server 2.15.1
//! (tests/js_api_fixtures/consumer_captures.json, made by capture_consumers.py) through
//! [`handle_consumer`] over the in-memory fake and compares every reply as the stream
//! fixture test does: keys in order, values, error codes and exact descriptions. Only the
//! volatile values are masked (times, `pause_remaining`); names nats-server generated for
//! ephemerals are fed to the fake's name source, so they come out the same.

use super::super::fixture_tests::{compare, env, header_block, key_sequence, ours};
use super::super::{ApiEnv, ServerLimits};
use super::fake::ConsumerFake;
use super::handle_consumer;
use serde_json::Value;

const CAPTURES: &str = include_str!("../../../../tests/js_api_fixtures/consumer_captures.json");
/// Captured with server limits (max_ack_pending 100, max_request_batch 50) and account
/// limits (max_consumers 3, max_ack_pending 20); see LIMITS_CONF in capture_consumers.py.
const LIMIT_CAPTURES: &str =
    include_str!("../../../../tests/js_api_fixtures/consumer_limit_captures.json");

#[test]
fn consumer_replies_match_nats_server_2_15_1_captures() {
    let cases: Vec<Value> = serde_json::from_str(CAPTURES).expect("consumer_captures.json parses");
    assert!(cases.len() >= 60, "the transcript is there");
    replay(&cases, env());
}

#[test]
fn consumer_replies_under_server_and_account_limits_match_nats_server() {
    let cases: Vec<Value> = serde_json::from_str(LIMIT_CAPTURES).expect("limit captures parse");
    assert!(cases.len() >= 10, "the transcript is there");
    let mut env = env();
    env.limits.max_consumers = 3;
    env.limits.max_ack_pending = 20;
    env.server_limits = ServerLimits {
        max_ack_pending: 100,
        max_request_batch: 50,
    };
    replay(&cases, env);
}

fn replay(cases: &[Value], mut env: ApiEnv) {
    let mut fake = ConsumerFake::default();
    // The capturing connection's own subscription.
    fake.interest.push("_INBOX.>".into());
    let (mut failures, mut generated) = (Vec::new(), Vec::<String>::new());
    for (i, case) in cases.iter().enumerate() {
        let now = case["at_ns"]
            .as_i64()
            .unwrap_or(1_764_000_000_000_000_000 + i as i64 * 1_000_000);
        let name = case["name"].as_str().unwrap_or("");
        let subject = case["subject"].as_str().unwrap_or("");
        let mut payload = case["payload"].as_str().unwrap_or("").as_bytes().to_vec();
        if name == "metadata_too_long" {
            payload = serde_json::to_vec(&serde_json::json!({
                "stream_name": "C_ORD",
                "config": {"metadata": {"k": "v".repeat(128 * 1024)}}
            }))
            .unwrap();
        }
        let reply = &case["reply"];
        let want_body = reply["payload"].as_str().unwrap_or("");
        if name.contains("generated") {
            let want: Value = serde_json::from_str(want_body).unwrap_or_default();
            if let Some(n) = want["name"].as_str() {
                fake.next_names.push_back(n.to_string());
                generated.push(n.to_string());
            }
        }
        let hdr = header_block(&case["headers"]);
        let (status, _, mut body) = if subject.starts_with("$JS.API.") {
            ours(handle_consumer(
                subject, "_INBOX.r", &hdr, &payload, now, &mut fake, &mut env,
            ))
        } else {
            let ack = fake
                .streams
                .publish(subject, &hdr, &payload, now, &env)
                .unwrap_or_default();
            (None, vec![], String::from_utf8(ack).unwrap_or_default())
        };
        // natrix keeps a generated name in `config.name` (the backend learns the name from
        // there); nats-server leaves it out of the stored config. Dropped before comparing.
        for n in &generated {
            body = body.replace(&format!("\"config\":{{\"name\":\"{n}\","), "\"config\":{");
        }
        let want_status = reply["status_line"].as_str().map(str::to_string);
        let mut diffs = Vec::new();
        if want_status != status {
            diffs.push(format!("status {want_status:?} vs {status:?}"));
        } else if want_status.is_none() {
            match (
                serde_json::from_str::<Value>(want_body),
                serde_json::from_str::<Value>(&body),
            ) {
                (Ok(w), Ok(g)) => {
                    compare("", &w, &g, &mut diffs);
                    let (wk, gk) = (key_sequence(want_body), key_sequence(&body));
                    if diffs.is_empty() && wk != gk {
                        diffs.push(format!("key order\n  want {wk:?}\n  got  {gk:?}"));
                    }
                }
                _ => diffs.push(format!("unparsable reply: {body:?}")),
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
