//! Accounts: subject namespaces, and the exports and imports between them.
//!
//! Every connection is bound to one account when its CONNECT is authenticated (`$G`, id 0,
//! for users outside any account and for servers without accounts); a shard keeps one
//! subject index per account, so a message published in one account reaches only that
//! account's subscribers, unless an import carries it across.
//!
//! [`Accounts`] is the compiled, immutable form of the config (one `Arc` shared by every
//! shard, replaced on reload): ids, names, and per account the two route lists the publish
//! path reads:
//! * `stream_routes`, kept in the **exporter**: a publish in it that matches also goes, with
//!   its subject rewritten, into each importing account;
//! * `service_routes`, kept in the **importer**: a publish in it that matches goes into the
//!   exporting account with its reply replaced by an `_R_.` subject ([`reply`]) that brings the
//!   answer back.
//!
//! Invariants: ids are dense and stable for a name across reloads (see [`Accounts::compile`]);
//! `$G` is id 0; an import was checked against an export of its account when compiled (never
//! per message); no route list forms a cycle (refused at compile time, as nats-server does).

pub mod config;
pub mod reply;
pub mod transform;

use std::fmt;
use std::sync::Arc;

use ahash::AHashMap;

use self::config::{AccountsConfig, ExportKind, ImportKind, ResponseType};
use self::transform::{ImportTransform, TransformError};
use crate::mapping::Mappings;
use crate::subject;

pub type AccountId = u32;

/// The global account every client without an account belongs to.
pub const GLOBAL_ACCOUNT: AccountId = 0;
pub const GLOBAL_ACCOUNT_NAME: &str = "$G";
/// The system account's name when the config names none.
pub const SYSTEM_ACCOUNT_NAME: &str = "$SYS";
/// How deep imports may chain before a message is dropped (a guard; cycles are refused at
/// compile time).
pub const IMPORT_HOPS_MAX: u8 = 8;

/// A publish in the exporter that matches `transform.pattern` goes to account `to`.
#[derive(Clone, Debug)]
pub struct StreamRoute {
    pub to: AccountId,
    pub transform: ImportTransform,
}

/// A publish in the importer that matches `transform.pattern` goes into account `to`.
#[derive(Clone, Debug)]
pub struct ServiceRoute {
    pub to: AccountId,
    pub transform: ImportTransform,
    pub response: ResponseType,
    pub threshold_ms: u64,
    pub share: bool,
}

#[derive(Debug)]
pub struct Account {
    pub id: AccountId,
    pub name: Arc<str>,
    pub stream_routes: Vec<StreamRoute>,
    pub service_routes: Vec<ServiceRoute>,
    /// Some account imports a service of this one: its `_R_.` replies must be looked at.
    pub exports_services: bool,
    pub jetstream: bool,
    pub jetstream_limits: config::JetStreamLimits,
    /// Where this account's JetStream lives: every account JetStream serves gets a slot, in
    /// id order at start and after the others at a reload, and keeps it for the life of the
    /// process; its streams are owned by shard `slot % shards` (`Shard::js_owner`).
    pub js_slot: Option<u32>,
    /// The account was in an earlier config and is gone: nobody can log into it.
    pub removed: bool,
    /// Subject mappings applied to what clients publish in this account (and to requests a
    /// service import brings in), before permissions and routing.
    pub mappings: Mappings,
}

impl Account {
    pub fn has_routes(&self) -> bool {
        !self.stream_routes.is_empty() || !self.service_routes.is_empty() || self.exports_services
    }
}

/// Every account of the server, compiled.
#[derive(Debug)]
pub struct Accounts {
    list: Vec<Account>,
    by_name: AHashMap<Arc<str>, AccountId>,
    system: Option<AccountId>,
    /// Some account has a route or a mapping: the publish path must look at accounts at all.
    any_routes: bool,
}

/// A configuration nats-server refuses; `Display` is its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountsError {
    Reserved(String),
    Duplicate(String),
    UnknownForImport {
        account: String,
        service: bool,
    },
    UnknownForExport {
        account: String,
        service: bool,
    },
    NotAuthorized {
        subject: String,
        service: bool,
    },
    Cycle {
        subject: String,
        service: bool,
    },
    StreamImportExists(String),
    DuplicateServiceImport {
        local: String,
        account: String,
        subject: String,
    },
    PrefixWildcard(String),
    PrefixAndTo,
    Transform {
        subject: String,
        service: bool,
        from: String,
        to: String,
        error: TransformError,
    },
    SystemAccountMissing,
}

fn kind_word(service: bool) -> &'static str {
    if service {
        "service"
    } else {
        "stream"
    }
}

impl fmt::Display for AccountsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountsError::Reserved(a) => write!(f, "{a:?} is a Reserved Account"),
            AccountsError::Duplicate(a) => write!(f, "Duplicate Account Entry: {a}"),
            AccountsError::UnknownForImport { account, service } => {
                write!(
                    f,
                    "{account:?} account not defined for {} import",
                    kind_word(*service)
                )
            }
            AccountsError::UnknownForExport { account, service } => {
                write!(
                    f,
                    "{account:?} account not defined for {} export",
                    kind_word(*service)
                )
            }
            AccountsError::NotAuthorized { subject, service } => {
                let k = kind_word(*service);
                write!(
                    f,
                    "Error adding {k} import {subject:?}: {k} import not authorized"
                )
            }
            AccountsError::Cycle { subject, service } => write!(
                f,
                "Error adding {} import {subject:?}: import forms a cycle",
                kind_word(*service)
            ),
            AccountsError::StreamImportExists(s) => {
                write!(
                    f,
                    "Error adding stream import {s:?}: stream import already exists"
                )
            }
            AccountsError::DuplicateServiceImport {
                local,
                account,
                subject,
            } => write!(
                f,
                "Duplicate service import subject {local:?}, previously used in import for \
                 account {account:?}, subject {subject:?}"
            ),
            AccountsError::PrefixWildcard(s) => write!(
                f,
                "Error adding stream import {s:?}: stream import prefix can not contain wildcard \
                 tokens"
            ),
            AccountsError::PrefixAndTo => {
                f.write_str("Stream import can not have a 'prefix' and a 'to' property")
            }
            AccountsError::Transform {
                subject,
                service,
                from,
                to,
                error,
            } => {
                let k = kind_word(*service);
                let why = match error {
                    TransformError::NotAWildcardFunction => format!(
                        "the only mapping function allowed for import transforms is \
                         {{{{Wildcard()}}}} in {to}"
                    ),
                    _ => format!("not using all of the token wildcard(s) in {from}"),
                };
                write!(
                    f,
                    "Error adding {k} import {subject:?}: failed to create mapping transform for \
                     {k} import subject from {from:?} to {to:?}: invalid mapping destination: \
                     {why}"
                )
            }
            AccountsError::SystemAccountMissing => {
                f.write_str("error resolving system account: account missing")
            }
        }
    }
}

impl std::error::Error for AccountsError {}

impl Accounts {
    /// Only `$G`: a server without accounts.
    pub fn global_only() -> Accounts {
        Accounts::compile(&AccountsConfig::default(), None).expect("no accounts is valid")
    }

    /// Validates `config` as nats-server does and compiles it. An account named in
    /// `previous` keeps its id, so a reload does not move subscriptions between indexes;
    /// accounts that are gone keep their slot, marked removed.
    pub fn compile(
        config: &AccountsConfig,
        previous: Option<&Accounts>,
    ) -> Result<Accounts, AccountsError> {
        let mut names: Vec<Arc<str>> = vec![GLOBAL_ACCOUNT_NAME.into()];
        if let Some(p) = previous {
            names = p.list.iter().map(|a| a.name.clone()).collect();
        }
        let mut by_name: AHashMap<Arc<str>, AccountId> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as AccountId))
            .collect();
        let mut present = vec![false; names.len()];
        present[GLOBAL_ACCOUNT as usize] = true;
        let mut seen = std::collections::HashSet::new();
        for a in &config.accounts {
            if a.name == GLOBAL_ACCOUNT_NAME {
                return Err(AccountsError::Reserved(a.name.clone()));
            }
            if !seen.insert(a.name.as_str()) {
                return Err(AccountsError::Duplicate(a.name.clone()));
            }
            let id = *by_name.entry(a.name.as_str().into()).or_insert_with(|| {
                names.push(a.name.as_str().into());
                present.push(false);
                (names.len() - 1) as AccountId
            });
            present[id as usize] = true;
        }
        let has_accounts = !config.accounts.is_empty();
        let system = if config.no_system_account {
            None
        } else if let Some(name) = &config.system_account {
            Some(
                *by_name
                    .get(name.as_str())
                    .ok_or(AccountsError::SystemAccountMissing)?,
            )
        } else if has_accounts {
            let id = *by_name
                .entry(SYSTEM_ACCOUNT_NAME.into())
                .or_insert_with(|| {
                    names.push(SYSTEM_ACCOUNT_NAME.into());
                    present.push(false);
                    (names.len() - 1) as AccountId
                });
            present[id as usize] = true;
            Some(id)
        } else {
            None
        };
        let mut list: Vec<Account> = names
            .iter()
            .enumerate()
            .map(|(i, n)| Account {
                id: i as AccountId,
                name: n.clone(),
                stream_routes: Vec::new(),
                service_routes: Vec::new(),
                exports_services: false,
                jetstream: false,
                jetstream_limits: config::JetStreamLimits::default(),
                js_slot: None,
                removed: !present[i],
                mappings: Mappings::default(),
            })
            .collect();
        list[GLOBAL_ACCOUNT as usize].mappings = Mappings::new(&config.global_mappings, None);

        // Exports may only name accounts of this config.
        for a in &config.accounts {
            for e in &a.exports {
                for other in &e.accounts {
                    if !seen.contains(other.as_str()) {
                        return Err(AccountsError::UnknownForExport {
                            account: other.clone(),
                            service: matches!(e.kind, ExportKind::Service { .. }),
                        });
                    }
                }
            }
        }
        let find = |name: &str| config.accounts.iter().find(|a| a.name == name);
        for a in &config.accounts {
            let me = by_name[a.name.as_str()];
            list[me as usize].jetstream = a.jetstream;
            list[me as usize].jetstream_limits = a.jetstream_limits;
            list[me as usize].mappings = Mappings::new(&a.mappings, None);
            let mut stream_subjects: Vec<(&str, &str)> = Vec::new();
            let mut service_locals: Vec<(String, &str, &str)> = Vec::new();
            for i in &a.imports {
                let service = matches!(i.kind, ImportKind::Service { .. });
                let Some(exporter) = find(&i.account) else {
                    return Err(AccountsError::UnknownForImport {
                        account: i.account.clone(),
                        service,
                    });
                };
                let authorized = exporter.exports.iter().any(|e| {
                    matches!(e.kind, ExportKind::Service { .. }) == service
                        && is_subset(i.subject.as_bytes(), e.subject.as_bytes())
                        && (e.accounts.is_empty() || e.accounts.contains(&a.name))
                });
                if !authorized {
                    return Err(AccountsError::NotAuthorized {
                        subject: i.subject.clone(),
                        service,
                    });
                }
                let from = by_name[exporter.name.as_str()];
                match i.kind {
                    ImportKind::Stream => {
                        if stream_subjects.contains(&(i.account.as_str(), i.subject.as_str())) {
                            return Err(AccountsError::StreamImportExists(i.subject.clone()));
                        }
                        stream_subjects.push((i.account.as_str(), i.subject.as_str()));
                        let transform = match (&i.to, &i.prefix) {
                            (Some(_), Some(_)) => return Err(AccountsError::PrefixAndTo),
                            (None, Some(p)) => ImportTransform::prefixed(&i.subject, p)
                                .map_err(|_| AccountsError::PrefixWildcard(i.subject.clone()))?,
                            (Some(to), None) => {
                                ImportTransform::forward(&i.subject, to).map_err(|error| {
                                    AccountsError::Transform {
                                        subject: i.subject.clone(),
                                        service: false,
                                        from: i.subject.clone(),
                                        to: to.clone(),
                                        error,
                                    }
                                })?
                            }
                            (None, None) => ImportTransform::identity(&i.subject),
                        };
                        list[from as usize]
                            .stream_routes
                            .push(StreamRoute { to: me, transform });
                    }
                    ImportKind::Service { share } => {
                        let local = i.to.clone().unwrap_or_else(|| i.subject.clone());
                        if let Some((_, acc, subj)) =
                            service_locals.iter().find(|(l, _, _)| *l == local)
                        {
                            return Err(AccountsError::DuplicateServiceImport {
                                local,
                                account: acc.to_string(),
                                subject: subj.to_string(),
                            });
                        }
                        service_locals.push((local.clone(), &i.account, &i.subject));
                        let transform =
                            ImportTransform::service(&local, &i.subject).map_err(|error| {
                                AccountsError::Transform {
                                    subject: local.clone(),
                                    service: true,
                                    from: i.subject.clone(),
                                    to: local.clone(),
                                    error,
                                }
                            })?;
                        let (response, threshold_ms) = exporter
                            .exports
                            .iter()
                            .find_map(|e| match e.kind {
                                ExportKind::Service {
                                    response,
                                    threshold_ms,
                                } if is_subset(i.subject.as_bytes(), e.subject.as_bytes()) => {
                                    Some((response, threshold_ms))
                                }
                                _ => None,
                            })
                            .unwrap_or((
                                ResponseType::Singleton,
                                config::RESPONSE_THRESHOLD_MS_DEFAULT,
                            ));
                        list[me as usize].service_routes.push(ServiceRoute {
                            to: from,
                            transform,
                            response,
                            threshold_ms,
                            share,
                        });
                        list[from as usize].exports_services = true;
                    }
                }
            }
        }
        check_cycles(&list)?;
        assign_js_slots(&mut list, previous);
        let any_routes = list
            .iter()
            .any(|a| a.has_routes() || !a.mappings.is_empty());
        Ok(Accounts {
            list,
            by_name,
            system,
            any_routes,
        })
    }

    pub fn get(&self, id: AccountId) -> Option<&Account> {
        self.list.get(id as usize)
    }

    pub fn id_of(&self, name: &str) -> Option<AccountId> {
        self.by_name.get(name).copied()
    }

    /// The name of account `id` (`$G` for an id this registry does not know).
    pub fn name(&self, id: AccountId) -> Arc<str> {
        self.get(id)
            .map_or_else(|| GLOBAL_ACCOUNT_NAME.into(), |a| a.name.clone())
    }

    pub fn system(&self) -> Option<AccountId> {
        self.system
    }

    /// How many ids there are (removed accounts included).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether JetStream (when the server runs it) serves account `id`: `$G` on a server
    /// without accounts, else the accounts with `jetstream` in their config.
    pub fn serves_jetstream(&self, id: AccountId) -> bool {
        let live = self.live().count();
        self.get(id).is_some_and(|a| jetstream_served(a, live))
    }

    /// Accounts that exist now, `$G` first.
    pub fn live(&self) -> impl Iterator<Item = &Account> {
        self.list.iter().filter(|a| !a.removed)
    }

    pub fn any_routes(&self) -> bool {
        self.any_routes
    }
}

/// Whether JetStream serves `a` among `live` existing accounts: `$G` alone without
/// accounts, else the accounts with `jetstream` in their config.
fn jetstream_served(a: &Account, live: usize) -> bool {
    !a.removed && (live <= 1 || a.jetstream)
}

/// Gives every account JetStream serves a slot (`Account::js_slot`): an account of
/// `previous` keeps its own, so a reload never moves streams between shards; the others
/// take the next free ones in id order. At start (no `previous`) the slots follow the
/// config's order, so the same config places the same accounts on the same shards.
fn assign_js_slots(list: &mut [Account], previous: Option<&Accounts>) {
    let live = list.iter().filter(|a| !a.removed).count();
    let mut next = previous
        .and_then(|p| p.list.iter().filter_map(|a| a.js_slot).max())
        .map_or(0, |m| m + 1);
    for a in list.iter_mut() {
        a.js_slot = previous.and_then(|p| p.get(a.id)).and_then(|p| p.js_slot);
        if a.js_slot.is_none() && jetstream_served(a, live) {
            a.js_slot = Some(next);
            next += 1;
        }
    }
}

/// Whether every subject `sub` matches is matched by `sup` (an import within an export).
pub fn is_subset(sub: &[u8], sup: &[u8]) -> bool {
    let mut a = subject::tokens(sub);
    let mut b = subject::tokens(sup);
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (_, Some(subject::FWC)) => return true,
            (Some(subject::FWC), _) => return false,
            (Some(_), Some(subject::PWC)) => {}
            (Some(x), Some(y)) => {
                if x == subject::PWC || x != y {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Whether two patterns can match a common subject.
pub fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let mut x = subject::tokens(a);
    let mut y = subject::tokens(b);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(subject::FWC), Some(_)) | (Some(_), Some(subject::FWC)) => return true,
            (Some(p), Some(q)) => {
                if p != subject::PWC && q != subject::PWC && p != q {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Refuses route graphs in which a message could come back to an account it left, with
/// nats-server's error naming the import that closes the loop.
fn check_cycles(list: &[Account]) -> Result<(), AccountsError> {
    /// The routes of one kind out of `acc`: (target, pattern there, destination pattern).
    fn routes(acc: &Account, service: bool) -> Vec<(AccountId, &ImportTransform)> {
        if service {
            acc.service_routes
                .iter()
                .map(|r| (r.to, &r.transform))
                .collect()
        } else {
            acc.stream_routes
                .iter()
                .map(|r| (r.to, &r.transform))
                .collect()
        }
    }
    fn walk(
        list: &[Account],
        start: AccountId,
        at: AccountId,
        subject: &[u8],
        service: bool,
        depth: usize,
    ) -> bool {
        if depth > list.len() {
            return false;
        }
        let Some(acc) = list.get(at as usize) else {
            return false;
        };
        routes(acc, service).into_iter().any(|(to, t)| {
            overlaps(&t.pattern, subject)
                && (to == start
                    || walk(
                        list,
                        start,
                        to,
                        &t.destination_pattern(),
                        service,
                        depth + 1,
                    ))
        })
    }
    for acc in list {
        for r in &acc.service_routes {
            let dest = r.transform.destination_pattern();
            if r.to != acc.id && walk(list, acc.id, r.to, &dest, true, 0) {
                return Err(AccountsError::Cycle {
                    subject: String::from_utf8_lossy(&dest).into_owned(),
                    service: true,
                });
            }
        }
        for r in &acc.stream_routes {
            let dest = r.transform.destination_pattern();
            if r.to != acc.id && walk(list, acc.id, r.to, &dest, false, 0) {
                return Err(AccountsError::Cycle {
                    subject: String::from_utf8_lossy(&r.transform.pattern).into_owned(),
                    service: false,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
