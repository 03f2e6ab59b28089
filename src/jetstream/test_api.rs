//! Test helpers shared by the stream tests: `$JS.API` requests answered over a real
//! [`AccountStreams`], as the shard asks them, at an explicit time.

use super::api::{self, Response, UnixNanos};
use super::streams::AccountStreams;

/// A `$JS.API` request at `now`; returns the reply JSON.
pub fn request(
    a: &mut AccountStreams,
    subject: &str,
    body: &str,
    now: UnixNanos,
) -> serde_json::Value {
    let mut env = a.env.clone();
    let r = api::handle(subject, "_INBOX.x", b"", body.as_bytes(), now, a, &mut env);
    let Response::Json(j) = r else {
        panic!("{r:?}")
    };
    serde_json::from_slice(&j).unwrap()
}

/// STREAM.CREATE of `config` (JSON with its `name`) at `now`, which must succeed.
pub fn create(a: &mut AccountStreams, config: &str, now: UnixNanos) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(config).unwrap();
    let name = v["name"].as_str().unwrap();
    let r = request(a, &format!("$JS.API.STREAM.CREATE.{name}"), config, now);
    assert!(r.get("error").is_none(), "{r}");
    r
}
