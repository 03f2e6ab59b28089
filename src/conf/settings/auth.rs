//! The `authorization { }` block: single user, token, `users` list (passwords and nkeys),
//! permissions and timeout, into [`crate::auth::AuthConfig`], with nats-server's checks
//! (parseAuthorization, parseUsers, parseUserPermissions in server/opts.go).
//!
//! Invariants: a token never coexists with a user or a users list, nor a single user with a
//! users list; user names and nkeys are unique; an nkey is a valid public user key; a
//! permission subject is a valid subject (subscribe entries may be `"subject queue"`).

use super::{wrong_type, Block, Entry, Kind, SettingErrorKind, Settings, Value, WarningKind};
use crate::auth::{
    AuthConfig, NkeyConfig, PermissionsConfig, ResponsePermission, Secret, SubjectPermission,
    UserConfig,
};
use crate::conf::{Map, Pos};

/// An auth timeout above this many seconds earns nats-server's warning.
const AUTH_TIMEOUT_S_HIGH: f64 = 60.0;

impl Settings<'_> {
    pub(super) fn authorization(&mut self, e: &Entry) {
        let Some(map) = self.map(e) else { return };
        // The block replaces what an earlier one said; no_auth_user is a top-level key.
        let mut auth = AuthConfig {
            no_auth_user: self.opts.auth.no_auth_user.take(),
            accounts: std::mem::take(&mut self.opts.auth.accounts),
            ..AuthConfig::default()
        };
        let mut users_given = false;
        for a in map {
            match a.key.to_ascii_lowercase().as_str() {
                "user" | "username" => auth.user = self.string(a),
                "pass" | "password" => auth.password = self.string(a).map(Secret),
                "token" => auth.token = self.string(a).map(Secret),
                "timeout" => {
                    if let Some(s) = self.seconds(a) {
                        if s > AUTH_TIMEOUT_S_HIGH {
                            self.warnings.push(super::Warning {
                                pos: a.key_pos.clone(),
                                kind: WarningKind::AuthTimeoutHigh { seconds: s },
                            });
                        }
                        auth.timeout_ms = Some((s * 1000.0).round() as u64);
                    }
                }
                "users" => {
                    users_given = true;
                    let (users, nkeys) = self.users(a);
                    auth.users = users;
                    auth.nkeys = nkeys;
                }
                // nats-server gives both to the listed users that have no permissions.
                "default_permission" | "default_permissions" | "permissions" => {
                    auth.default_permissions = self.permissions(a);
                }
                "proxy_required" => {
                    if self.boolean(a) == Some(true) {
                        self.not_supported_error(a);
                    }
                }
                "auth_callout" | "auth_hook" => self.not_supported_error(a),
                _ => self.unknown(a, Block::Authorization),
            }
        }
        let conflict = if (auth.user.is_some() || auth.password.is_some()) && auth.token.is_some() {
            Some("Cannot have a user/pass and token")
        } else if users_given && auth.user.is_some() {
            Some("Can not have a single user/pass and a users array")
        } else if users_given && auth.token.is_some() {
            Some("Can not have a token and a users array")
        } else {
            None
        };
        if let Some(reason) = conflict {
            self.error(e, SettingErrorKind::Conflict(reason.into()));
        }
        self.duplicates(e, &auth.users, &auth.nkeys);
        self.opts.auth = auth;
    }

    fn duplicates(&mut self, e: &Entry, users: &[UserConfig], nkeys: &[NkeyConfig]) {
        let mut seen = std::collections::HashSet::new();
        for u in users {
            if !seen.insert(u.user.as_str()) {
                let reason = format!("Duplicate user {:?} detected", u.user);
                self.error(e, SettingErrorKind::Conflict(reason));
            }
        }
        for n in nkeys {
            if !seen.insert(n.nkey.as_str()) {
                let reason = format!("Duplicate nkey {:?} detected", n.nkey);
                self.error(e, SettingErrorKind::Conflict(reason));
            }
        }
    }

    pub(super) fn users(&mut self, e: &Entry) -> (Vec<UserConfig>, Vec<NkeyConfig>) {
        let (mut users, mut nkeys) = (Vec::new(), Vec::new());
        let Some(items) = e.value.as_array() else {
            let reason = format!(
                "Expected users field to be an array, got {}",
                e.value.type_name()
            );
            self.error(e, SettingErrorKind::Conflict(reason));
            return (users, nkeys);
        };
        for item in items {
            let Some(map) = item.as_map() else {
                let reason = format!(
                    "Expected user entry to be a map/struct, got {}",
                    item.type_name()
                );
                self.error_at(&item.pos, SettingErrorKind::Conflict(reason));
                continue;
            };
            let (mut user, mut password, mut nkey, mut perms) = (None, None, None, None);
            for u in map {
                match u.key.to_ascii_lowercase().as_str() {
                    "nkey" => nkey = self.string(u),
                    "user" | "username" => user = self.string(u),
                    "pass" | "password" => password = self.string(u),
                    "permission" | "permissions" | "authorization" => perms = self.permissions(u),
                    // Restrictions natrix cannot enforce yet: refusing is the safe side.
                    "allowed_connection_types" | "connection_types" | "clients" => {
                        self.not_supported_error(u)
                    }
                    "proxy_required" => {
                        if self.boolean(u) == Some(true) {
                            self.not_supported_error(u);
                        }
                    }
                    _ => self.unknown(u, Block::User),
                }
            }
            let problem = match (&nkey, &user) {
                (None, None) => Some("User entry requires a user"),
                (Some(key), _) if !is_public_user_nkey(key) => {
                    Some("Not a valid public nkey for a user")
                }
                (Some(_), _) if user.is_some() || password.is_some() => {
                    Some("Nkey users do not take usernames or passwords")
                }
                _ => None,
            };
            if let Some(reason) = problem {
                self.error_at(&item.pos, SettingErrorKind::Conflict(reason.into()));
                continue;
            }
            match (nkey, user) {
                (Some(nkey), _) => nkeys.push(NkeyConfig {
                    nkey,
                    permissions: perms,
                }),
                (None, Some(user)) => users.push(UserConfig {
                    user,
                    password: Secret(password.unwrap_or_default()),
                    permissions: perms,
                }),
                (None, None) => {}
            }
        }
        (users, nkeys)
    }

    pub(super) fn permissions(&mut self, e: &Entry) -> Option<PermissionsConfig> {
        let map = self.map(e)?;
        let mut p = PermissionsConfig::default();
        for k in map {
            match k.key.to_ascii_lowercase().as_str() {
                "pub" | "publish" | "import" => p.publish = self.subject_permission(k, false),
                "sub" | "subscribe" | "export" => p.subscribe = self.subject_permission(k, true),
                "publish_allow_responses" | "allow_responses" => {
                    p.allow_responses = match &k.value.kind {
                        Kind::Bool(true) => Some(ResponsePermission::default()),
                        Kind::Bool(false) => None,
                        Kind::Map(m) => self.response_permission(m),
                        _ => {
                            let reason = "error parsing response permissions, expected a \
                                          boolean or a map";
                            self.error(k, SettingErrorKind::Conflict(reason.into()));
                            None
                        }
                    };
                }
                _ => self.unknown(k, Block::Permissions),
            }
        }
        // nats-server: allowing responses turns off the blanket publish allow.
        if p.allow_responses.is_some() {
            let publish = p.publish.get_or_insert_with(SubjectPermission::default);
            publish.allow.get_or_insert_with(Vec::new);
        }
        Some(p)
    }

    fn response_permission(&mut self, map: &Map) -> Option<ResponsePermission> {
        let mut rp = ResponsePermission::default();
        for r in map {
            match r.key.to_ascii_lowercase().as_str() {
                // 0 keeps the default; below 0 means no limit.
                "max" | "max_msgs" | "max_messages" | "max_responses" => match self.integer(r)? {
                    0 => {}
                    n if n < 0 => rp.max_msgs = u32::MAX,
                    n => rp.max_msgs = u32::try_from(n).unwrap_or(u32::MAX),
                },
                "expires" | "expiration" | "ttl" => {
                    if r.value.as_str().is_none() {
                        let reason = "error parsing expires, not a duration string";
                        self.error(r, SettingErrorKind::Conflict(reason.into()));
                        return None;
                    }
                    let d = self.duration_or_seconds(r)?;
                    if !d.is_zero() {
                        rp.expires_ms = super::millis(d);
                    }
                }
                _ => self.unknown(r, Block::ResponsePermissions),
            }
        }
        Some(rp)
    }

    /// `publish`/`subscribe`: a subject, a list of them (allow only), or `{allow, deny}`.
    fn subject_permission(&mut self, e: &Entry, queues: bool) -> Option<SubjectPermission> {
        match &e.value.kind {
            Kind::Map(m) if m.is_empty() => None,
            Kind::Map(m) => {
                let mut sp = SubjectPermission::default();
                for k in m {
                    match k.key.to_ascii_lowercase().as_str() {
                        "allow" => sp.allow = self.subjects(&k.key, &k.value, &k.key_pos, queues),
                        "deny" => sp.deny = self.subjects(&k.key, &k.value, &k.key_pos, queues),
                        _ => self.unknown(k, Block::SubjectPermissions),
                    }
                }
                Some(sp)
            }
            _ => Some(SubjectPermission {
                allow: Some(self.subjects(&e.key, &e.value, &e.key_pos, queues)?),
                deny: None,
            }),
        }
    }

    fn subjects(
        &mut self,
        field: &str,
        value: &Value,
        pos: &Pos,
        queues: bool,
    ) -> Option<Vec<String>> {
        let subjects: Vec<(&str, &Pos)> = match &value.kind {
            Kind::String(s) => vec![(s.as_str(), pos)],
            Kind::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item.as_str() {
                        Some(s) => out.push((s, &item.pos)),
                        None => {
                            let reason = "Subject in permissions array cannot be cast to string";
                            self.error_at(&item.pos, SettingErrorKind::Conflict(reason.into()));
                            return None;
                        }
                    }
                }
                out
            }
            _ => {
                let kind = wrong_type(field, value, "a subject or an array of subjects");
                self.error_at(pos, kind);
                return None;
            }
        };
        for (s, at) in &subjects {
            if let Err(reason) = check_permission_subject(s, queues) {
                self.error_at(at, SettingErrorKind::Conflict(reason));
                return None;
            }
        }
        Some(subjects.into_iter().map(|(s, _)| s.to_owned()).collect())
    }
}

/// nats-server's `IsValidSubject`: the subscription rules, and no whitespace.
fn is_valid_subject(s: &str) -> bool {
    !s.contains(char::is_whitespace) && crate::subject::is_valid_subscription_subject(s.as_bytes())
}

/// A permission subject; with `queues`, `"subject queue"` is allowed too.
fn check_permission_subject(s: &str, queues: bool) -> Result<(), String> {
    if is_valid_subject(s) {
        return Ok(());
    }
    let parts: Vec<&str> = s.split_whitespace().collect();
    match parts.as_slice() {
        [subject, queue] if queues => {
            if !is_valid_subject(subject) {
                Err(format!("subject {subject:?} is not a valid subject"))
            } else if !is_valid_subject(queue) {
                Err(format!("queue {queue:?} is not a valid queue"))
            } else {
                Ok(())
            }
        }
        _ => Err(format!("subject {s:?} is not a valid subject")),
    }
}

fn is_public_user_nkey(key: &str) -> bool {
    key.starts_with('U') && nkeys::KeyPair::from_public_key(key).is_ok()
}
