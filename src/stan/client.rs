//! The registry of STAN clients: by client ID, by protocol-1 connID, and the NATS connection
//! each one's traffic last came from (so a closed connection marks its clients as possible
//! ghosts).

use std::collections::HashMap;

use super::ConnId;
use crate::wheel::TimerHandle;

#[derive(Debug)]
pub(crate) struct Client {
    pub id: String,
    pub hb_inbox: String,
    pub conn_id: Vec<u8>,
    pub protocol: i32,
    pub ping_interval: i32,
    pub ping_max_out: i32,
    /// The NATS connection the client was last heard on.
    pub conn: ConnId,
    /// Distinguishes this registration from an earlier one of the same ID in timers.
    pub generation: u64,
    /// Failed heartbeats in a row.
    pub failed_hbs: u32,
    /// The next heartbeat, or (while one is out) nothing: its timeout is in `hb_request`.
    pub hb_timer: Option<TimerHandle>,
    pub hb_request: Option<u64>,
    /// The NATS connection closed and nothing was heard since.
    pub disconnected: bool,
    pub ghost_timer: Option<TimerHandle>,
    pub ghost_probe: Option<u64>,
    /// Brought back from the state log and not heard from since the restart: probed at the
    /// end of the ghost grace period, and its subscriptions hold their deliveries until it
    /// answers (their unacked messages go first then).
    pub recovered: bool,
    /// `(channel, sub id)` of every subscription the client holds.
    pub subs: Vec<(String, u64)>,
}

#[derive(Debug, Default)]
pub(crate) struct Clients {
    pub by_id: HashMap<String, Client>,
    by_conn_id: HashMap<Vec<u8>, String>,
    next_generation: u64,
}

impl Clients {
    pub fn register(&mut self, mut client: Client) -> u64 {
        self.next_generation += 1;
        client.generation = self.next_generation;
        if !client.conn_id.is_empty() {
            self.by_conn_id
                .insert(client.conn_id.clone(), client.id.clone());
        }
        let generation = client.generation;
        self.by_id.insert(client.id.clone(), client);
        generation
    }

    pub fn unregister(&mut self, id: &str) -> Option<Client> {
        let client = self.by_id.remove(id)?;
        if self.by_conn_id.get(&client.conn_id).map(String::as_str) == Some(id) {
            self.by_conn_id.remove(&client.conn_id);
        }
        Some(client)
    }

    pub fn get(&self, id: &str) -> Option<&Client> {
        self.by_id.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Client> {
        self.by_id.get_mut(id)
    }

    /// The live registration `id` of `generation`.
    pub fn live_mut(&mut self, id: &str, generation: u64) -> Option<&mut Client> {
        self.by_id
            .get_mut(id)
            .filter(|c| c.generation == generation)
    }

    pub fn id_by_conn_id(&self, conn_id: &[u8]) -> Option<&str> {
        self.by_conn_id.get(conn_id).map(String::as_str)
    }

    /// nats-streaming-server's `isValid`: by connID when one is given, else by client ID.
    pub fn valid_id(&self, client_id: &str, conn_id: &[u8]) -> Option<String> {
        if conn_id.is_empty() {
            self.by_id
                .contains_key(client_id)
                .then(|| client_id.to_string())
        } else {
            self.id_by_conn_id(conn_id).map(str::to_string)
        }
    }

    /// Clients last heard on `conn` and not yet marked disconnected.
    pub fn on_conn(&self, conn: ConnId) -> Vec<String> {
        self.by_id
            .values()
            .filter(|c| c.conn == conn && !c.disconnected)
            .map(|c| c.id.clone())
            .collect()
    }
}

/// nats-streaming-server's client ID rule, `^[a-zA-Z0-9_-]+$`.
pub(crate) fn valid_client_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
