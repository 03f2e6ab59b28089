//! The HTTP monitoring endpoints (`-m PORT`), as a sans-io core: the server gathers a
//! [`Snapshot`] from its shards, [`handle`] turns a path and query into a [`Response`], and
//! [`http`] frames requests and responses. No sockets, no clock, no glommio here.
//!
//! Answers match nats-server 2.15 key for key (`tests/monitor_fixtures/` holds the real
//! output they are tested against), including the 400 texts for bad parameters.
//!
//! What each endpoint reads from the snapshot ([`needs`] says it per request, so the server
//! can skip the costly parts):
//!
//! | endpoint | server | sublist | open connections | closed | subscription lists |
//! | --- | --- | --- | --- | --- | --- |
//! | `/varz` | yes | yes | – | – | – |
//! | `/connz` | yes | – | state open/any | state closed/any | with `subs` |
//! | `/subsz`, `/subscriptionsz` | yes | yes | with `subs=1` | – | with `subs=1` |
//! | `/accountz` | yes | with `acc` | with `acc` | – | – |
//! | `/`, `/routez`, `/gatewayz`, `/leafz`, `/healthz` | yes | – | – | – | – |
//!
//! `/jsz`, `/varz` and `/accountz?acc=` also read the JetStream part (`/jsz` with the
//! consumers for `consumers=true`), and the `/streaming/` pages ([`streaming`]) the NATS
//! Streaming part; shard 0 alone fills those.
//!
//! The server counts each request in `http_req_stats` under [`Endpoint::stats_key`] before it
//! calls [`handle`], so `/varz` counts itself as in nats-server.

mod connz;

pub mod http;
mod json;
pub mod jsz;
pub mod model;
pub mod query;
pub mod snapshot;
pub mod streaming;
mod subsz;
pub mod varz;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_jsz;

pub use http::{encode_response, parse_request, HttpError, Request};
pub use snapshot::{
    Closed, ConnSnapshot, Counters, ServerSnapshot, Snapshot, SubSnapshot, SublistStats,
    TlsSnapshot,
};

use model::{Empty, Gatewayz, Healthz, JsApiStats, JsConfig, JszDisabled, Leafz, Routez};
use query::{ConnState, Query, QueryError, SubsMode};

/// The content type of every JSON answer.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// The content type of a 400 or 404 text.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; charset=utf-8";
/// The content type of the index page.
pub const CONTENT_TYPE_HTML: &str = "text/html; charset=utf-8";

/// One answer, before HTTP framing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(body: Vec<u8>) -> Response {
        Response {
            status: 200,
            content_type: CONTENT_TYPE_JSON,
            body,
        }
    }

    pub fn bad_request(e: &QueryError) -> Response {
        Response {
            status: 400,
            content_type: CONTENT_TYPE_TEXT,
            body: e.to_string().into_bytes(),
        }
    }

    /// Go's `http.NotFound`.
    pub fn not_found() -> Response {
        Response {
            status: 404,
            content_type: CONTENT_TYPE_TEXT,
            body: b"404 page not found\n".to_vec(),
        }
    }
}

/// The endpoints served. Paths are exact and case-sensitive, as in nats-server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Root,
    Varz,
    Connz,
    Subsz,
    Routez,
    Gatewayz,
    Leafz,
    Healthz,
    Accountz,
    Accstatz,
    Jsz,
    /// A NATS Streaming page (404 when streaming is off).
    Streaming(streaming::StanPage),
}

impl Endpoint {
    /// The endpoint at `path`, if any.
    pub fn parse(path: &str) -> Option<Endpoint> {
        Some(match path {
            "/" => Endpoint::Root,
            "/varz" => Endpoint::Varz,
            "/connz" => Endpoint::Connz,
            "/subsz" | "/subscriptionsz" => Endpoint::Subsz,
            "/routez" => Endpoint::Routez,
            "/gatewayz" => Endpoint::Gatewayz,
            "/leafz" => Endpoint::Leafz,
            "/healthz" => Endpoint::Healthz,
            "/accountz" => Endpoint::Accountz,
            "/accstatz" => Endpoint::Accstatz,
            "/jsz" => Endpoint::Jsz,
            p => return streaming::StanPage::parse(p).map(Endpoint::Streaming),
        })
    }

    /// The key `/varz` counts this endpoint under in `http_req_stats`.
    pub fn stats_key(self) -> &'static str {
        match self {
            Endpoint::Root => "/",
            Endpoint::Varz => "/varz",
            Endpoint::Connz => "/connz",
            Endpoint::Subsz => "/subsz",
            Endpoint::Routez => "/routez",
            Endpoint::Gatewayz => "/gatewayz",
            Endpoint::Leafz => "/leafz",
            Endpoint::Healthz => "/healthz",
            Endpoint::Accountz => "/accountz",
            Endpoint::Accstatz => "/accstatz",
            Endpoint::Jsz => "/jsz",
            Endpoint::Streaming(p) => p.path(),
        }
    }
}

/// The parts of a [`Snapshot`] one request reads; the server may leave the others empty.
/// `server` is always read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    pub sublist: bool,
    pub open_connections: bool,
    pub closed_connections: bool,
    /// Fill `ConnSnapshot::subscriptions` of the connections gathered.
    pub subscription_lists: bool,
    /// Fill `Snapshot::jetstream` (each shard its accounts), with each stream's consumers when
    /// `jetstream_consumers`.
    pub jetstream: bool,
    pub jetstream_consumers: bool,
    /// Fill `Snapshot::streaming` (shard 0).
    pub streaming: bool,
}

/// What answering `path?query` will read. A bad query needs nothing (the answer is a 400).
pub fn needs(path: &str, query: &str) -> Needs {
    let q = Query::parse(query);
    let none = Needs::default();
    match Endpoint::parse(path) {
        Some(Endpoint::Varz) => Needs {
            sublist: true,
            jetstream: true,
            ..none
        },
        Some(Endpoint::Connz) => match query::connz(&q) {
            Ok(o) => Needs {
                sublist: false,
                open_connections: o.state != ConnState::Closed,
                closed_connections: o.state != ConnState::Open,
                subscription_lists: o.subs != SubsMode::None,
                ..none
            },
            Err(_) => none,
        },
        Some(Endpoint::Subsz) => match query::subsz(&q) {
            Ok(o) => Needs {
                sublist: true,
                open_connections: o.subs,
                closed_connections: false,
                subscription_lists: o.subs,
                ..none
            },
            Err(_) => none,
        },
        Some(Endpoint::Accountz) if query::accountz(&q).is_some() => Needs {
            sublist: true,
            open_connections: true,
            jetstream: true,
            ..none
        },
        Some(Endpoint::Accstatz) => Needs {
            open_connections: true,
            subscription_lists: true,
            ..none
        },
        Some(Endpoint::Jsz) => match query::jsz(&q) {
            Ok(o) => Needs {
                jetstream: true,
                jetstream_consumers: o.consumers,
                ..none
            },
            Err(_) => none,
        },
        Some(Endpoint::Streaming(_)) => Needs {
            streaming: true,
            ..none
        },
        _ => none,
    }
}

/// Answers one monitoring request. `path` has no query; `query` is what followed `?`.
pub fn handle(path: &str, query: &str, snap: &Snapshot) -> Response {
    let Some(endpoint) = Endpoint::parse(path) else {
        return Response::not_found();
    };
    match answer(endpoint, &Query::parse(query), snap) {
        Ok(r) => r,
        Err(e) => Response::bad_request(&e),
    }
}

fn answer(endpoint: Endpoint, q: &Query, snap: &Snapshot) -> Result<Response, QueryError> {
    let s = &snap.server;
    let now = model::GoTime(s.now);
    let body = match endpoint {
        Endpoint::Root => {
            return Ok(Response {
                status: 200,
                content_type: CONTENT_TYPE_HTML,
                body: index_page(&s.version).into_bytes(),
            })
        }
        Endpoint::Varz => json::pretty(&varz::varz(snap)),
        Endpoint::Connz => json::pretty(&connz::connz(snap, &query::connz(q)?)),
        Endpoint::Subsz => json::pretty(&subsz::subsz(snap, &query::subsz(q)?)),
        Endpoint::Routez => {
            query::routez(q)?;
            json::pretty(&Routez {
                server_id: s.server_id.clone(),
                server_name: s.server_name.clone(),
                now,
                num_routes: 0,
                routes: Vec::new(),
            })
        }
        Endpoint::Gatewayz => {
            query::gatewayz(q)?;
            json::pretty(&Gatewayz {
                server_id: s.server_id.clone(),
                now,
                outbound_gateways: Default::default(),
                inbound_gateways: Default::default(),
            })
        }
        Endpoint::Leafz => {
            query::leafz(q)?;
            json::pretty(&Leafz {
                server_id: s.server_id.clone(),
                now,
                leafnodes: 0,
                leafs: Vec::<Empty>::new(),
            })
        }
        Endpoint::Healthz => {
            query::healthz(q)?;
            json::compact(&Healthz { status: "ok" })
        }
        Endpoint::Accountz => match query::accountz(q) {
            Some(acc) => json::pretty(&varz::account_detail(snap, &acc)?),
            None => json::pretty(&varz::accountz(snap)),
        },
        Endpoint::Accstatz => {
            let unused = matches!(q.get("unused"), "1" | "true");
            let accs = q.get("accs");
            let only: Vec<&str> = accs.split(',').filter(|a| !a.is_empty()).collect();
            json::pretty(&varz::accstatz(snap, unused, &only))
        }
        Endpoint::Jsz => {
            let o = query::jsz(q)?;
            match &snap.jetstream {
                Some(js) => json::pretty(&jsz::jsz(snap, js, &o)),
                None => json::pretty(&jsz_disabled(snap)),
            }
        }
        Endpoint::Streaming(page) => return Ok(streaming::handle(page, q, snap)),
    };
    Ok(Response::json(body))
}

/// `/jsz` as nats-server answers it with JetStream off.
fn jsz_disabled(snap: &Snapshot) -> JszDisabled {
    JszDisabled {
        memory: 0,
        storage: 0,
        reserved_memory: 0,
        reserved_storage: 0,
        accounts: 0,
        ha_assets: 0,
        api: JsApiStats::default(),
        server_id: snap.server.server_id.clone(),
        now: model::GoTime(snap.server.now),
        disabled: true,
        config: JsConfig::default(),
        streams: 0,
        consumers: 0,
        messages: 0,
        bytes: 0,
        total: 0,
    }
}

/// The index at `/`: links to the endpoints natrix serves (nats-server's is a styled page).
fn index_page(version: &str) -> String {
    let links: String = [
        ("varz", "General"),
        ("jsz", "JetStream"),
        ("connz", "Connections"),
        ("accountz", "Accounts"),
        ("subsz", "Subscriptions"),
        ("routez", "Routes"),
        ("leafz", "LeafNodes"),
        ("gatewayz", "Gateways"),
        ("healthz", "Health Probe"),
    ]
    .iter()
    .map(|(path, title)| format!("\t<a href=./{path}>{title}<span> /{path}</span></a><br/>\n"))
    .collect();
    format!(
        "<html lang=\"en\">\n<head><title>natrix monitoring</title></head>\n<body>\n\
         \t<p>natrix v{version}</p>\n{links}</body>\n</html>"
    )
}
