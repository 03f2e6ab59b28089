//! What the config file and the command line say about authentication and authorization:
//! plain data, compiled by [`super::Authenticator`].
//!
//! Secrets (passwords, tokens) are kept as given: a plain string, or a bcrypt hash
//! (`$2a$`/`$2b$`/`$2x$`/`$2y$` + cost). They never reach a log line: `Debug` redacts them.

use std::fmt;

/// A password or token as configured.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The `authorization { }` block, the top-level `no_auth_user`, and the `--user`, `--pass`
/// and `--auth` flags, merged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuthConfig {
    /// `authorization { token }` or `--auth`.
    pub token: Option<Secret>,
    /// `authorization { user, password }` or `--user`/`--pass`: the single user.
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// `authorization { users: [ {user, password, permissions} ] }`.
    pub users: Vec<UserConfig>,
    /// `authorization { users: [ {nkey, permissions} ] }`.
    pub nkeys: Vec<NkeyConfig>,
    /// `authorization { default_permissions }`: for users without permissions of their own.
    pub default_permissions: Option<PermissionsConfig>,
    /// `authorization { permissions }`. nats-server parses it as an alias of
    /// `default_permissions` (the later key wins there; here `default_permissions` does): it
    /// does not restrict the single user or the token [verified against 2.15.1].
    pub permissions: Option<PermissionsConfig>,
    /// Top-level `no_auth_user`: the user a CONNECT without credentials is bound to.
    pub no_auth_user: Option<String>,
    /// `authorization { timeout }` in milliseconds; unset: 2 s, or tls.timeout + 1 s with TLS.
    pub timeout_ms: Option<u64>,
    /// The `accounts { }` block, `system_account` and `no_system_account`.
    pub accounts: crate::account::config::AccountsConfig,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UserConfig {
    pub user: String,
    pub password: Secret,
    pub permissions: Option<PermissionsConfig>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NkeyConfig {
    /// The user's public nkey (`U...`).
    pub nkey: String,
    pub permissions: Option<PermissionsConfig>,
}

/// `permissions { publish, subscribe, allow_responses }`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PermissionsConfig {
    pub publish: Option<SubjectPermission>,
    pub subscribe: Option<SubjectPermission>,
    pub allow_responses: Option<ResponsePermission>,
}

/// `{ allow: [...], deny: [...] }`; a plain list means allow only. Subscribe entries may be
/// `"subject queue"`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubjectPermission {
    pub allow: Option<Vec<String>>,
    pub deny: Option<Vec<String>>,
}

/// `allow_responses: true` (max 1, 2 min) or `{ max: N, expires: "1m" }`.
///
/// nats-server reads `max: 0` and `expires: 0` as the defaults and a negative value as "no
/// limit"; the config reader maps those onto this type (0 here means no limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponsePermission {
    /// Responses per received reply subject; 0: no limit.
    pub max_msgs: u32,
    /// 0: never expires.
    pub expires_ms: u64,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max_msgs: 1,
            expires_ms: 120_000,
        }
    }
}
