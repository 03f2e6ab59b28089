//! What changed in the server state since the last flush, for the state log: the structural
//! events in the order they happened, and per subscription the net change of its pending set
//! (the last operation on each sequence wins, so a message delivered and acked in the same
//! batch costs one "removed" entry). The core's handlers feed it through [`Fx`](super::Fx);
//! it is off (every call a no-op) when the store keeps no state log.
//!
//! At the flush ([`StanServer::write_state`]) the pending changes become `Progress` and
//! `GroupProgress` events carrying the positions as they are then, after the structural ones;
//! `state.rs` says why that order is enough.

use std::collections::HashMap;

use super::channel::ChannelFactory;
use super::server::StanServer;
use super::state::{self, ClientRec, Ev, GroupProgress, Progress, ServerState, SubRec, SubState};
use super::subs::Sub;

/// The pending-set changes of one subscription since the last flush.
#[derive(Debug)]
struct Delta {
    channel: String,
    sub: u64,
    qgroup: String,
    /// `(seq, now pending)` in the order they happened; the last one of a seq wins. A push
    /// per delivery and per ack (a map here was a tenth of a file-store delivery's CPU).
    ops: Vec<(u64, bool)>,
}

impl Delta {
    /// `(added, removed)`: each seq's last operation, in seq order.
    fn net(mut self) -> (Vec<u64>, Vec<u64>) {
        // Stable: a seq's operations keep their order, so its last one is the last of its run.
        self.ops.sort_by_key(|&(seq, _)| seq);
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        for (i, &(seq, now_pending)) in self.ops.iter().enumerate() {
            if self.ops.get(i + 1).is_some_and(|&(next, _)| next == seq) {
                continue;
            }
            if now_pending {
                added.push(seq);
            } else {
                removed.push(seq);
            }
        }
        (added, removed)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Journal {
    pub on: bool,
    events: Vec<Ev>,
    /// In the order first touched.
    deltas: Vec<Delta>,
    /// Sub id → index in `deltas` (sub ids are unique across channels).
    delta_of: HashMap<u64, usize>,
}

impl Journal {
    pub fn event(&mut self, make: impl FnOnce() -> Ev) {
        if self.on {
            self.events.push(make());
        }
    }

    /// `sub` (on `channel`) now has (`pending`) or no longer has `seq` pending.
    pub fn pending(&mut self, channel: &str, sub: &Sub, seq: u64, pending: bool) {
        if !self.on {
            return;
        }
        // A batch's operations mostly hit one subscription: try the last delta first.
        let i = match self.deltas.last() {
            Some(d) if d.sub == sub.id => self.deltas.len() - 1,
            _ => *self.delta_of.entry(sub.id).or_insert_with(|| {
                self.deltas.push(Delta {
                    channel: channel.to_string(),
                    sub: sub.id,
                    qgroup: sub.qgroup.clone(),
                    ops: Vec::new(),
                });
                self.deltas.len() - 1
            }),
        };
        debug_assert_eq!(self.deltas[i].channel, channel);
        self.deltas[i].ops.push((seq, pending));
    }

    pub fn sub(&mut self, channel: &str, sub: &Sub) {
        self.event(|| Ev::Sub(sub_rec(channel, sub)));
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.deltas.is_empty()
    }

    pub fn clear(&mut self) {
        self.events.clear();
        self.deltas.clear();
        self.delta_of.clear();
    }
}

/// A subscription's record as the log keeps it.
pub(crate) fn sub_rec(channel: &str, s: &Sub) -> SubRec {
    SubRec {
        channel: channel.to_string(),
        id: s.id,
        client_id: s.client_id.clone(),
        durable_client_id: s.durable_client_id.clone(),
        qgroup: s.qgroup.clone(),
        inbox: s.inbox.clone(),
        ack_inbox: s.ack_inbox.clone(),
        durable_name: s.durable_name.clone(),
        is_durable: s.is_durable,
        max_inflight: s.max_inflight,
        ack_wait_ms: s.ack_wait_ms,
        last_sent: s.last_sent,
    }
}

/// What the state log is doing: sizes for compaction, the error of the last write.
#[derive(Debug, Default)]
pub(crate) struct StateWriter {
    /// The next flush writes a whole snapshot (at start, after a failed write, when the
    /// appended frames outgrew the last snapshot).
    pub needs_snapshot: bool,
    pub snapshot_bytes: u64,
    pub appended_bytes: u64,
    pub last_error: Option<crate::store::StoreError>,
}

impl<F: ChannelFactory> StanServer<F> {
    /// The state as the log would rebuild it (the snapshot's content).
    pub fn export_state(&self) -> ServerState {
        let mut st = ServerState {
            cluster_id: self.opts.cluster_id.clone(),
            ack_token: self.ack_token.clone(),
            ..ServerState::default()
        };
        for c in self.clients.by_id.values() {
            st.clients.insert(
                c.id.clone(),
                ClientRec {
                    id: c.id.clone(),
                    hb_inbox: c.hb_inbox.clone(),
                    conn_id: c.conn_id.clone(),
                    protocol: c.protocol,
                    ping_interval: c.ping_interval,
                    ping_max_out: c.ping_max_out,
                },
            );
        }
        for (name, ch) in &self.channels {
            if ch.subs.subs.is_empty() {
                continue;
            }
            let cs = st.channels.entry(name.clone()).or_default();
            for s in ch.subs.subs.values() {
                let sub = SubState {
                    rec: sub_rec(name, s),
                    pending: s.pending.keys().copied().collect(),
                };
                cs.subs.insert(s.id, sub);
            }
            for (g, q) in &ch.subs.groups {
                cs.groups.insert(g.clone(), q.last_sent);
            }
        }
        st
    }

    /// Writes what changed since the last flush (one frame), or a snapshot when one is due.
    /// A failed write is kept in [`StanServer::state_error`] and the next flush writes a
    /// snapshot, so a torn append is never followed by more frames.
    pub(crate) fn write_state(&mut self) {
        let Some(mut log) = self.state_log.take() else {
            return;
        };
        let w = &self.state_writer;
        let grown = w.appended_bytes > self.opts.state_compact_bytes_min
            && w.appended_bytes > w.snapshot_bytes;
        let result = if w.needs_snapshot || grown {
            let bytes = state::encode_snapshot(&self.export_state());
            log.replace(&bytes).map(|()| {
                self.state_writer.snapshot_bytes = bytes.len() as u64;
                self.state_writer.appended_bytes = 0;
            })
        } else if self.fx.journal.is_empty() {
            Ok(())
        } else {
            let mut frame = Vec::new();
            let events = self.journal_events();
            // Clients and subscriptions coming and going are synced before their answers go
            // out; a frame of only delivery and ack progress is written, not synced (after a
            // crash of the machine those messages are delivered again; a killed process loses
            // nothing, the page cache has the write).
            let sync = events
                .iter()
                .any(|e| !matches!(e, Ev::Progress(_) | Ev::Group(_)));
            state::encode_frame(events, &mut frame);
            log.append(&frame, sync).map(|()| {
                self.state_writer.appended_bytes += frame.len() as u64;
            })
        };
        self.fx.journal.clear();
        match result {
            Ok(()) => self.state_writer.needs_snapshot = false,
            Err(e) => {
                self.state_writer.needs_snapshot = true;
                self.state_writer.last_error = Some(e);
            }
        }
        self.state_log = Some(log);
    }

    /// The journal's events followed by the progress of what it touched.
    fn journal_events(&mut self) -> Vec<Ev> {
        let mut events = std::mem::take(&mut self.fx.journal.events);
        let deltas = std::mem::take(&mut self.fx.journal.deltas);
        self.fx.journal.delta_of.clear();
        let mut groups: Vec<(String, String)> = Vec::new();
        for d in deltas {
            let Some(ch) = self.channels.get(&d.channel) else {
                continue;
            };
            if !d.qgroup.is_empty()
                && !groups
                    .iter()
                    .any(|(c, g)| *c == d.channel && *g == d.qgroup)
            {
                groups.push((d.channel.clone(), d.qgroup.clone()));
            }
            let Some(s) = ch.subs.subs.get(&d.sub) else {
                continue;
            };
            let (channel, id, last_sent) = (d.channel.clone(), d.sub, s.last_sent);
            let (added, removed) = d.net();
            events.push(Ev::Progress(Progress {
                channel,
                id,
                last_sent,
                added,
                removed,
            }));
        }
        for (channel, name) in groups {
            if let Some(g) = self
                .channels
                .get(&channel)
                .and_then(|ch| ch.subs.groups.get(&name))
            {
                let last_sent = g.last_sent;
                events.push(Ev::Group(GroupProgress {
                    channel,
                    name,
                    last_sent,
                }));
            }
        }
        events
    }

    /// The error of the last failed state-log write, if the log has not been written
    /// successfully since.
    pub fn state_error(&self) -> Option<&crate::store::StoreError> {
        if self.state_writer.needs_snapshot {
            self.state_writer.last_error.as_ref()
        } else {
            None
        }
    }
}
