//! NATS Streaming's share of a monitoring answer (`/streaming/*`): shard 0 runs the STAN
//! core, so only it fills a [`StanSnapshot`], through the core's introspection accessors.
//!
//! Runs as a control-plane job between two tasks of the message path; it only reads.

use super::stan::{StanCore, STAN_SHARD};
use super::Shard;
use crate::monitor::streaming::{StanChannel, StanClient, StanSnapshot};
use crate::stan::{ChannelFactory, StanServer};

impl Shard {
    /// NATS Streaming as this shard sees it: `None` unless this is shard 0 and it runs.
    pub fn stan_monitor(&self) -> Option<StanSnapshot> {
        if self.id != STAN_SHARD {
            return None;
        }
        let stan = self.stan.borrow();
        Some(match &stan.as_ref()?.core {
            StanCore::Memory(s) => snapshot(s, "MEMORY"),
            StanCore::File(s) => snapshot(s, "FILE"),
        })
    }
}

fn snapshot<F: ChannelFactory>(s: &StanServer<F>, store_type: &'static str) -> StanSnapshot {
    let opts = s.options();
    StanSnapshot {
        cluster_id: opts.cluster_id.clone(),
        server_id: opts.server_token.clone(),
        store_type,
        limits: opts.limits.clone(),
        clients: s
            .client_ids()
            .into_iter()
            .filter_map(|id| {
                let c = s.client(&id)?;
                let subs = s.client_subs(&id);
                Some(StanClient {
                    id,
                    hb_inbox: c.hb_inbox,
                    subs,
                })
            })
            .collect(),
        channels: s
            .channel_names()
            .into_iter()
            .filter_map(|name| {
                let info = s.channel(&name)?;
                Some(StanChannel { name, info })
            })
            .collect(),
        stats: s.stats(),
        open_fds: 0,
        max_fds: 0,
    }
}
