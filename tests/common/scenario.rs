//! Helpers for async-nats scenarios: run one scenario against natrix with 1, 2 and 4 shards
//! concurrently, with a time limit, and the connect/flush/barrier steps they share.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::Client;
use bytes::Bytes;
use futures::StreamExt;

use super::{RawClient, TestServer};

pub const SHARD_COUNTS: [usize; 3] = [1, 2, 4];
/// A whole scenario on one server; past it the test fails instead of hanging.
pub const SCENARIO_MAX: Duration = Duration::from_secs(60);

/// Runs `scenario` against a fresh server for each shard count (concurrently) and reports
/// every shard count whose run panicked or hung.
pub async fn for_each_shard_count<F, Fut>(scenario: F)
where
    F: Fn(Running, usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let runs: Vec<_> = SHARD_COUNTS
        .iter()
        .map(|&shards| {
            let run = scenario(Running::start(shards), shards);
            (
                shards,
                tokio::spawn(within(SCENARIO_MAX, "the scenario", run)),
            )
        })
        .collect();
    let mut failures = Vec::new();
    for (shards, run) in runs {
        if let Err(e) = run.await {
            failures.push(format!("with {shards} shard(s): {}", panic_text(e)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `TestServer::start_with`, naming the shard count and flags when natrix does not come up.
pub fn start(shards: usize, flags: &[&str]) -> TestServer {
    std::panic::catch_unwind(|| TestServer::start_with(shards, flags)).unwrap_or_else(|e| {
        let text = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!("natrix --shards {shards} {}: {text}", flags.join(" "))
    })
}

/// A server that async code can borrow across awaits (`TestServer` is not `Sync`).
pub struct Running {
    url: String,
    server: std::sync::Mutex<TestServer>,
}

impl Running {
    pub fn start(shards: usize) -> Running {
        let server = start(shards, &[]);
        Running {
            url: server.url(),
            server: std::sync::Mutex::new(server),
        }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn raw(&self) -> RawClient {
        self.server.lock().unwrap().raw()
    }

    pub fn quiet(&self) -> RawClient {
        self.server.lock().unwrap().quiet()
    }
}

/// Awaits `fut`, or panics after `limit`.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {limit:?}: natrix stopped answering?"),
    }
}

pub fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-text panic".into()),
        Err(e) => e.to_string(),
    }
}

/// Connects and completes the handshake, so the next connection is accepted after this one.
pub async fn connect(server: &Running) -> Client {
    let c = async_nats::connect(server.url());
    within(Duration::from_secs(10), "connect", c)
        .await
        .expect("async-nats connects")
}

/// Writes out what the client has queued. Note: async-nats's `flush` (0.38 to 0.52) does NOT
/// wait for a PONG; it proves nothing about what the server has processed. See [`barrier`].
pub async fn flush(c: &Client) {
    within(Duration::from_secs(5), "flush", c.flush())
        .await
        .expect("flush");
}

/// Returns once everything `subscribers` subscribed so far is visible to `publisher`.
///
/// async-nats cannot PING and wait for the PONG, so each subscriber makes one more plain
/// subscription on a fresh subject and `publisher` publishes there until each has seen a
/// message. A connection's operations take effect in order, so its earlier subscriptions are
/// visible by then too. (The raw-protocol tests check the PING/PONG guarantee itself.)
pub async fn barrier(publisher: &Client, subscribers: &[&Client]) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let subject = format!("_barrier.{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let mut subs = Vec::new();
    for c in subscribers {
        subs.push(c.subscribe(subject.clone()).await.expect("subscribe"));
        flush(c).await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for (i, mut s) in subs.into_iter().enumerate() {
        loop {
            assert!(
                Instant::now() < deadline,
                "subscriber {i} never became visible"
            );
            publisher
                .publish(subject.clone(), Bytes::new())
                .await
                .unwrap();
            flush(publisher).await;
            let probe = tokio::time::timeout(Duration::from_millis(20), s.next()).await;
            if let Ok(Some(_)) = probe {
                break;
            }
        }
    }
}
