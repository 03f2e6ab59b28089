//! JetStream consumers on the owning shard: pull requests and acks in, deliveries and
//! status messages out, and the one timer task that drives the shard's wheel.
//!
//! The consumer engine (`jetstream::consumers`) is sans-io; this file feeds it the requests
//! that reach the owning shard (`CONSUMER.MSG.NEXT` through the API path, `$JS.ACK.…` and the
//! flow-control answers on `$JS.FC.…` through the interest this shard registers for accounts
//! with consumers) and routes what it produced:
//! each [`Out`] goes to the subscribers of its `to` subject (an inbox or deliver subject,
//! on any shard) shown with the stream message's subject, through [`Shard::deliver_as`].
//!
//! Timers: one task sleeps until the wheel's next deadline or until [`Shard::js_wake`]
//! says a sooner timer may exist, then advances the wheel and hands each fired timer to
//! its account's consumers.

use std::rc::Rc;
use std::time::{Duration, SystemTime};

use super::mesh::Msg;
use super::Shard;
use crate::account::AccountId;
use crate::jetstream::consumers::{AckResult, Clock, Out};
use crate::proto::encode::MsgView;
use crate::runtime;

/// What the owning shard subscribes to for the acks of an account's consumers.
pub const ACK_INTEREST: &str = "$JS.ACK.>";
pub const ACK_PREFIX: &[u8] = b"$JS.ACK.";
/// What the owning shard subscribes to for the answers to push consumers' flow-control requests.
pub const FLOW_CONTROL_INTEREST: &str = "$JS.FC.>";
pub const FLOW_CONTROL_PREFIX: &[u8] = b"$JS.FC.";
const MSG_NEXT_PREFIX: &str = "$JS.API.CONSUMER.MSG.NEXT.";
/// The longest the timer task sleeps with no timer armed.
const IDLE_SLEEP_MAX: Duration = Duration::from_secs(60);

/// Now, as the engine takes it: Unix ms (the wheel's scale) and Unix ns.
pub fn clock() -> Clock {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Clock {
        ms: d.as_millis() as u64,
        ns: d.as_nanos() as i64,
    }
}

impl Shard {
    /// A `CONSUMER.*` API request the stream layer passed on; false if nobody serves it.
    pub(super) fn js_consumer_request(&self, account: AccountId, view: &MsgView<'_>) -> bool {
        let subject = String::from_utf8_lossy(view.subject);
        let Some(rest) = subject.strip_prefix(MSG_NEXT_PREFIX) else {
            return false;
        };
        let Some((stream, consumer)) = rest.split_once('.') else {
            return false;
        };
        let served = self.with_streams(account, |s| {
            s.pull(
                stream,
                consumer,
                view.reply,
                &view.payload[view.hdr_len..],
                clock(),
            )
        });
        self.js_send_outbox(account);
        served.unwrap_or(false)
    }

    /// A message on `$JS.ACK.…` in `account`: true if it was an ack of a consumer here.
    pub(super) fn js_ack(&self, account: AccountId, view: &MsgView<'_>) -> bool {
        let r = self.with_streams(account, |s| {
            s.on_ack(
                view.subject,
                view.reply,
                &view.payload[view.hdr_len..],
                clock(),
            )
        });
        self.js_send_outbox(account);
        match r {
            Some(AckResult::Done { confirm }) => {
                // The state change is persisted at the commit; the confirmation waits for it.
                if let Some(js) = self.js.borrow_mut().as_mut() {
                    let reply = if confirm {
                        view.reply.to_vec()
                    } else {
                        Vec::new()
                    };
                    js.pending
                        .push(super::jetstream::Held::Reply(account, reply, Vec::new()));
                }
                self.js_pending.set(true);
                true
            }
            _ => false,
        }
    }

    /// A message on `$JS.FC.…` in `account`: true if it answered a flow-control request of
    /// a consumer here (which then delivers again).
    pub(super) fn js_flow_control(&self, account: AccountId, view: &MsgView<'_>) -> bool {
        let r = self.with_streams(account, |s| s.on_flow_control(view.subject, clock()));
        self.js_send_outbox(account);
        r.unwrap_or(false)
    }

    /// After the group commit: consumers of the streams just written deliver.
    pub(super) fn js_deliver_ready(&self) {
        let accounts: Vec<AccountId> = match self.js.borrow().as_ref() {
            Some(js) => js.accounts.keys().copied().collect(),
            None => return,
        };
        let now = clock();
        for a in accounts {
            self.with_streams(a, |s| s.deliver_ready(now));
            self.js_send_outbox(a);
        }
    }

    /// Runs `f` on `account`'s streams, if JetStream has them open here.
    pub(super) fn with_streams<R>(
        &self,
        account: AccountId,
        f: impl FnOnce(&mut crate::jetstream::streams::AccountStreams) -> R,
    ) -> Option<R> {
        let mut js = self.js.borrow_mut();
        let streams = js.as_mut()?.accounts.get_mut(&account)?;
        Some(f(streams))
    }

    /// Routes what the consumers of `account` produced, and wakes the timer task since the
    /// same calls may have armed timers.
    pub(super) fn js_send_outbox(&self, account: AccountId) {
        let out: Vec<Out> = self
            .with_streams(account, |s| std::mem::take(&mut s.outbox))
            .unwrap_or_default();
        // With `sync_always` they wait for the group commit's sync, as the acks do.
        let out = self.js_hold_outs(account, out).unwrap_or_default();
        for o in out {
            let m = Msg::build(&o.subject, &o.reply, &o.headers, &o.payload);
            self.deliver_as(account, &o.to, &m);
        }
        // Consumers that stopped at their per-call bound go on at the next commit, which the
        // timer task's flush makes; otherwise it is woken only for a sooner deadline.
        if self.with_streams(account, |s| s.wants_commit()) == Some(true) {
            self.js_pending.set(true);
            self.js_wake.notify();
        } else if self
            .js_next_deadline()
            .is_some_and(|d| d < self.js_sleeping_until.get())
        {
            self.js_wake.notify();
        }
    }

    /// A subscription came or went here or on another shard: push consumers may have
    /// gained or lost their deliver subject's interest (checked at the next flush).
    pub fn js_interest_changed(&self) {
        if self.js_push.get() {
            self.js_push_check.set(true);
        }
    }

    /// Whether anyone in `account` subscribes to `subject` (on any shard).
    fn has_interest(&self, account: AccountId, subject: &[u8]) -> bool {
        if self.multi() {
            let m = self
                .interest
                .borrow_mut()
                .table(account)
                .match_subject(subject);
            !(m.plain.is_empty() && m.queues.is_empty())
        } else {
            let m = self.match_local(account, subject);
            !(m.plain.is_empty() && m.queues.is_empty())
        }
    }

    /// Marks each push consumer bound or not by its deliver subject's interest, and lets
    /// the newly bound ones deliver.
    pub(super) fn js_refresh_push(&self) {
        let subjects: Vec<(AccountId, String, String, String)> = match self.js.borrow().as_ref() {
            Some(js) => js
                .accounts
                .iter()
                .flat_map(|(a, s)| {
                    s.streams.iter().flat_map(move |(sn, st)| {
                        st.consumers.iter().filter_map(move |(cn, c)| {
                            let d = c.spec.deliver_subject.clone()?;
                            Some((*a, sn.clone(), cn.clone(), d))
                        })
                    })
                })
                .collect(),
            None => return,
        };
        self.js_push.set(!subjects.is_empty());
        let now = clock();
        let mut touched = Vec::new();
        for (a, stream, consumer, deliver) in subjects {
            let active = self.has_interest(a, deliver.as_bytes());
            self.with_streams(a, |s| s.set_push_active(&stream, &consumer, active, now));
            if !touched.contains(&a) {
                touched.push(a);
            }
        }
        for a in touched {
            self.js_send_outbox(a);
        }
    }

    /// Fires the wheel's due timers.
    fn js_fire_timers(&self) {
        let now = clock();
        let fired = {
            let js = self.js.borrow();
            let Some(js) = js.as_ref() else { return };
            let mut fired = Vec::new();
            js.wheel.borrow_mut().advance(now.ms, &mut fired);
            fired
        };
        let mut touched: Vec<AccountId> = Vec::new();
        for t in fired {
            let account = (t.consumer_id >> 40) as AccountId;
            self.with_streams(account, |s| s.on_timer(t, now));
            if !touched.contains(&account) {
                touched.push(account);
            }
        }
        for a in touched {
            self.js_send_outbox(a);
        }
    }

    fn js_next_deadline(&self) -> Option<u64> {
        let js = self.js.borrow();
        let d = js.as_ref()?.wheel.borrow().next_deadline();
        d
    }
}

/// The timer task of the owning shard.
///
/// The wake-up of each wait is taken before the previous round's work, not after it: that
/// work (the flush's commit) may itself ask for another round, when a consumer stopped at
/// its per-call bound with more to send, and a wake-up sent while this task runs would be
/// lost on a `notified()` taken afterwards. Found by natrix-bench `jsredeliver`: a push
/// consumer over a backlog, with no acks or publishes to flush the shard, stopped after a
/// few batches of 1024 until its first ack-wait deadline. A round that asked for another
/// yields first, so that the shard's connections are served in between.
pub async fn run_timers(shard: Rc<Shard>) {
    let mut woken = shard.js_wake.notified();
    loop {
        let next = shard.js_next_deadline();
        let wait = match next {
            Some(at) => Duration::from_millis(at.saturating_sub(clock().ms)),
            None => IDLE_SLEEP_MAX,
        };
        shard.js_sleeping_until.set(next.unwrap_or(u64::MAX));
        if !wait.is_zero() {
            runtime::race(runtime::sleep(wait), &mut woken).await;
        }
        woken = shard.js_wake.notified();
        shard.js_fire_timers();
        shard.flush();
        if shard.js_pending.get() {
            runtime::yield_now().await;
        }
    }
}
