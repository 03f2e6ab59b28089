//! What monitoring (`/streaming/*z`) and tests read of a [`StanServer`]: clients, their
//! subscriptions, channels and counters.

use super::*;

impl<F: ChannelFactory> StanServer<F> {
    pub fn client_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.clients.by_id.keys().cloned().collect();
        ids.sort();
        ids
    }

    pub fn client(&self, id: &str) -> Option<ClientInfo> {
        self.clients.get(id).map(|c| ClientInfo {
            hb_inbox: c.hb_inbox.clone(),
            conn_id: c.conn_id.clone(),
            protocol: c.protocol,
            ping_interval_s: c.ping_interval,
            ping_max_out: c.ping_max_out,
            conn: c.conn,
            failed_hbs: c.failed_hbs,
            disconnected: c.disconnected,
            subs: c.subs.len(),
        })
    }

    /// The subscriptions of client `id` with the channel of each, in the order it made them.
    pub fn client_subs(&self, id: &str) -> Vec<(String, SubInfo)> {
        let Some(c) = self.clients.get(id) else {
            return Vec::new();
        };
        c.subs
            .iter()
            .filter_map(|(channel, sub)| {
                let s = self.channels.get(channel)?.subs.subs.get(sub)?;
                Some((channel.clone(), sub_info(s)))
            })
            .collect()
    }

    /// Messages in and out since start.
    pub fn stats(&self) -> StanStats {
        self.fx.stats
    }

    pub fn channel_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.channels.keys().cloned().collect();
        names.sort();
        names
    }

    pub fn channel(&self, name: &str) -> Option<ChannelInfo> {
        let ch = self.channels.get(name)?;
        let (first_seq, last_seq) = ch.store.first_last();
        let (msgs, bytes) = ch.store.totals();
        let mut ids: Vec<&u64> = ch.subs.subs.keys().collect();
        ids.sort();
        let subs = ids
            .into_iter()
            .filter_map(|id| ch.subs.subs.get(id))
            .map(sub_info)
            .collect();
        Some(ChannelInfo {
            first_seq,
            last_seq,
            msgs,
            bytes,
            subs,
        })
    }
}

/// A subscription as monitoring shows it; an offline durable shows the client ID it had.
fn sub_info(s: &subs::Sub) -> SubInfo {
    let client_id = if s.client_id.is_empty() {
        s.durable_client_id.clone()
    } else {
        s.client_id.clone()
    };
    SubInfo {
        client_id,
        inbox: s.inbox.clone(),
        ack_inbox: s.ack_inbox.clone(),
        durable_name: s.durable_name.clone(),
        queue_name: s.qgroup.clone(),
        is_durable: s.is_durable,
        is_offline: s.client_id.is_empty(),
        max_inflight: s.max_inflight,
        ack_wait_ms: s.ack_wait_ms,
        last_sent: s.last_sent,
        pending_count: s.pending.len(),
        is_stalled: s.stalled,
    }
}
