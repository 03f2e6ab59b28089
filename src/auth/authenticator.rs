//! Who a CONNECT is: the [`Authenticator`] holds the configured users, nkeys, token or single
//! user, checked once at start, and maps a CONNECT's credentials to a [`UserIdentity`].
//!
//! It is immutable after [`Authenticator::new`] and `Send + Sync`: one `Arc` serves every
//! shard. Sans-io: the nonce the client signed is passed in.
//!
//! Behaviour follows nats-server 2.15 (`auth.go`, `processClientOrLeafAuthentication`), checked
//! against the binary where marked:
//! * Order: nkeys, then the users list, then the token, then the single user/password. A
//!   client naming an unknown nkey (when nkeys are configured) or an unknown user (when users
//!   are) is refused without trying the later methods.
//! * `no_auth_user` binds a CONNECT with no user, password, token (and no nkey) to that user.
//!   INFO then says `auth_required: false`, yet the authentication timer still runs
//!   [verified]: see [`Authenticator::required`] and [`Authenticator::expects_connect`].
//! * The single user and the token get no permissions [verified: `authorization {
//!   permissions }` does not restrict them]; that block is nats-server's alias of
//!   `default_permissions`, given to listed users and nkeys without their own.
//! * Passwords and tokens that look like bcrypt hashes are verified with bcrypt; others are
//!   compared in constant time (the length is not hidden, as with Go's
//!   `subtle.ConstantTimeCompare`).
//!
//! bcrypt is slow on purpose: at cost 10–11 one check takes about 50–100 ms of CPU. Call
//! [`Authenticator::authenticate`] off the message path for bcrypt users (nats-server runs it
//! on the connection's own goroutine and caches nothing; neither does this type).

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use ahash::AHashMap;
use nkeys::KeyPair;

use super::config::{AuthConfig, PermissionsConfig, Secret};
use super::nkey::{self, SignatureError};
use super::permissions::{Permissions, PermissionsError};
use crate::account::{AccountId, Accounts, AccountsError, GLOBAL_ACCOUNT, GLOBAL_ACCOUNT_NAME};

/// The authentication fields of a CONNECT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Credentials<'a> {
    pub user: Option<&'a str>,
    pub pass: Option<&'a str>,
    pub auth_token: Option<&'a str>,
    pub nkey: Option<&'a str>,
    pub sig: Option<&'a str>,
}

/// Who a connection authenticated as.
#[derive(Clone, Debug, PartialEq)]
pub struct UserIdentity {
    /// The user name, the nkey, or empty (token, single user without name, no auth).
    pub name: String,
    pub kind: IdentityKind,
    /// `None`: everything is allowed.
    pub permissions: Option<Arc<Permissions>>,
    /// The account the connection is bound to, and its name.
    pub account: AccountId,
    pub account_name: Arc<str>,
}

/// How a connection proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityKind {
    /// No auth is configured.
    Anonymous,
    Token,
    User,
    Nkey,
}

impl UserIdentity {
    /// How nats-server names the user in a client's log prefix (`$G/user:bob`,
    /// `$G/nkey:UA...`, `$G/token`); None without auth.
    pub fn log_name(&self) -> Option<String> {
        match self.kind {
            IdentityKind::Anonymous => None,
            IdentityKind::Token => Some(format!("{}/token", self.account_name)),
            IdentityKind::User => Some(format!("{}/user:{}", self.account_name, self.name)),
            IdentityKind::Nkey => Some(format!("{}/nkey:{}", self.account_name, self.name)),
        }
    }
}

/// Why a CONNECT was refused. The client is only told `Authorization Violation`
/// ([`crate::proto::errors::ClientError::AuthorizationViolation`]); these are for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    UnknownNkey,
    SignatureMissing,
    SignatureNotBase64,
    SignatureNotVerified,
    UnknownUser,
    WrongPassword,
    WrongToken,
    /// Auth is required and the CONNECT carried nothing that applies.
    NoCredentials,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthError::UnknownNkey => "nkey not configured",
            AuthError::SignatureMissing => "signature missing",
            AuthError::SignatureNotBase64 => "signature not valid base64",
            AuthError::SignatureNotVerified => "signature not verified",
            AuthError::UnknownUser => "user not configured",
            AuthError::WrongPassword => "wrong password",
            AuthError::WrongToken => "wrong token",
            AuthError::NoCredentials => "no credentials",
        })
    }
}

impl std::error::Error for AuthError {}

/// A configuration nats-server refuses to start with. `Display` follows its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthConfigError {
    UserAndToken,
    UserAndUsersList,
    TokenAndUsersList,
    DuplicateUser(String),
    DuplicateNkey(String),
    InvalidNkey(String),
    NoAuthUserWithoutUsers(String),
    NoAuthUserUnknown(String),
    UserAndAccounts,
    TokenAndAccounts,
    Accounts(AccountsError),
    /// `who` is `user "name"`, `nkey "U..."`, or `default_permissions`.
    InvalidPermissions {
        who: String,
        error: PermissionsError,
    },
}

impl fmt::Display for AuthConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthConfigError::UserAndToken => f.write_str("Cannot have a user/pass and token"),
            AuthConfigError::UserAndUsersList => {
                f.write_str("Can not have a single user/pass and a users array")
            }
            AuthConfigError::TokenAndUsersList => {
                f.write_str("Can not have a token and a users array")
            }
            AuthConfigError::DuplicateUser(u) => write!(f, "Duplicate user {u:?} detected"),
            AuthConfigError::DuplicateNkey(k) => write!(f, "Duplicate nkey {k:?} detected"),
            AuthConfigError::InvalidNkey(k) => {
                write!(f, "Not a valid public nkey for a user: {k:?}")
            }
            AuthConfigError::NoAuthUserWithoutUsers(u) => {
                write!(
                    f,
                    "no_auth_user: {u:?} present, but users/nkeys are not defined"
                )
            }
            AuthConfigError::NoAuthUserUnknown(u) => write!(
                f,
                "no_auth_user: {u:?} not present as user or nkey in authorization block or \
                 account configuration"
            ),
            AuthConfigError::UserAndAccounts => {
                f.write_str("Can not have a single user/pass and accounts")
            }
            AuthConfigError::TokenAndAccounts => f.write_str("Can not have a token and accounts"),
            AuthConfigError::Accounts(e) => write!(f, "{e}"),
            AuthConfigError::InvalidPermissions { who, error } => {
                write!(f, "invalid permissions for {who}: {error}")
            }
        }
    }
}

impl std::error::Error for AuthConfigError {}

/// The compiled authentication configuration.
#[derive(Debug)]
pub struct Authenticator {
    /// Public key → verifying key and identity.
    nkeys: AHashMap<String, NkeyUser>,
    /// User name → password and identity.
    users: AHashMap<String, User>,
    token: Option<Secret>,
    /// The single user: `--user`/`--pass` or `authorization { user, password }`.
    single_user: Option<(String, Secret)>,
    no_auth_user: Option<String>,
    /// Given to every CONNECT when no auth is configured, and to token connections.
    anonymous: Arc<UserIdentity>,
    /// Who a client that gave the token is.
    token_holder: Arc<UserIdentity>,
    /// The accounts users are bound to.
    pub accounts: Arc<Accounts>,
}

struct NkeyUser {
    key: KeyPair,
    identity: Arc<UserIdentity>,
}

impl fmt::Debug for NkeyUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NkeyUser")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct User {
    password: Secret,
    identity: Arc<UserIdentity>,
}

impl Authenticator {
    /// Validates `config` as nats-server does at start and compiles it.
    pub fn new(config: &AuthConfig) -> Result<Authenticator, AuthConfigError> {
        Authenticator::after(config, None)
    }

    /// As [`Authenticator::new`], keeping the account ids of `previous` (a reload).
    pub fn after(
        config: &AuthConfig,
        previous: Option<&Accounts>,
    ) -> Result<Authenticator, AuthConfigError> {
        let accounts =
            Accounts::compile(&config.accounts, previous).map_err(AuthConfigError::Accounts)?;
        let has_single_user = config.user.as_deref().is_some_and(|u| !u.is_empty())
            || config.password.as_ref().is_some_and(|p| !p.0.is_empty());
        let token = config.token.clone().filter(|t| !t.0.is_empty());
        let account_users = config
            .accounts
            .accounts
            .iter()
            .any(|a| !a.users.is_empty() || !a.nkeys.is_empty());
        let has_list = !config.users.is_empty() || !config.nkeys.is_empty() || account_users;
        if account_users && has_single_user {
            return Err(AuthConfigError::UserAndAccounts);
        }
        if account_users && token.is_some() {
            return Err(AuthConfigError::TokenAndAccounts);
        }
        if has_single_user && token.is_some() {
            return Err(AuthConfigError::UserAndToken);
        }
        if has_list && has_single_user {
            return Err(AuthConfigError::UserAndUsersList);
        }
        if has_list && token.is_some() {
            return Err(AuthConfigError::TokenAndUsersList);
        }

        // `permissions` and `default_permissions` are one key to nats-server's parser.
        let default_config = config
            .default_permissions
            .as_ref()
            .or(config.permissions.as_ref());
        let default_permissions = compile(default_config, || "default_permissions".to_string())?;

        // nats-server keeps users and nkeys in one name space for its duplicate check, across
        // `authorization` and every account.
        let global_name: Arc<str> = GLOBAL_ACCOUNT_NAME.into();
        let mut groups = vec![(
            GLOBAL_ACCOUNT,
            global_name,
            &config.users,
            &config.nkeys,
            default_permissions.clone(),
        )];
        for a in &config.accounts.accounts {
            let id = accounts.id_of(&a.name).unwrap_or(GLOBAL_ACCOUNT);
            let defaults = match &a.default_permissions {
                Some(p) => compile(Some(p), || format!("account {:?}", a.name))?,
                None => None,
            };
            groups.push((id, accounts.name(id), &a.users, &a.nkeys, defaults));
        }
        let mut names = HashSet::new();
        let mut users = AHashMap::new();
        let mut nkeys = AHashMap::new();
        for (account, account_name, user_list, nkey_list, defaults) in groups {
            let permissions_of =
                |own: Option<&PermissionsConfig>, who: &dyn Fn() -> String| match own {
                    Some(own) => compile(Some(own), who),
                    None => Ok(defaults.clone()),
                };
            for u in user_list {
                if !names.insert(u.user.clone()) {
                    return Err(AuthConfigError::DuplicateUser(u.user.clone()));
                }
                let permissions =
                    permissions_of(u.permissions.as_ref(), &|| format!("user {:?}", u.user))?;
                let identity = Arc::new(UserIdentity {
                    name: u.user.clone(),
                    kind: IdentityKind::User,
                    permissions,
                    account,
                    account_name: account_name.clone(),
                });
                users.insert(
                    u.user.clone(),
                    User {
                        password: u.password.clone(),
                        identity,
                    },
                );
            }
            for n in nkey_list {
                if !names.insert(n.nkey.clone()) {
                    return Err(AuthConfigError::DuplicateNkey(n.nkey.clone()));
                }
                let key = nkey::parse_user_public_key(&n.nkey)
                    .ok_or_else(|| AuthConfigError::InvalidNkey(n.nkey.clone()))?;
                let permissions =
                    permissions_of(n.permissions.as_ref(), &|| format!("nkey {:?}", n.nkey))?;
                let identity = Arc::new(UserIdentity {
                    name: n.nkey.clone(),
                    kind: IdentityKind::Nkey,
                    permissions,
                    account,
                    account_name: account_name.clone(),
                });
                nkeys.insert(n.nkey.clone(), NkeyUser { key, identity });
            }
        }

        let no_auth_user = config.no_auth_user.clone().filter(|u| !u.is_empty());
        if let Some(name) = &no_auth_user {
            if !has_list {
                return Err(AuthConfigError::NoAuthUserWithoutUsers(name.clone()));
            }
            if !users.contains_key(name) && !nkeys.contains_key(name) {
                return Err(AuthConfigError::NoAuthUserUnknown(name.clone()));
            }
        }

        let single_user = has_single_user.then(|| {
            (
                config.user.clone().unwrap_or_default(),
                config.password.clone().unwrap_or_default(),
            )
        });
        Ok(Authenticator {
            nkeys,
            users,
            token,
            single_user,
            no_auth_user,
            anonymous: Arc::new(UserIdentity {
                name: String::new(),
                kind: IdentityKind::Anonymous,
                permissions: None,
                account: GLOBAL_ACCOUNT,
                account_name: GLOBAL_ACCOUNT_NAME.into(),
            }),
            token_holder: Arc::new(UserIdentity {
                name: String::new(),
                kind: IdentityKind::Token,
                permissions: None,
                account: GLOBAL_ACCOUNT,
                account_name: GLOBAL_ACCOUNT_NAME.into(),
            }),
            accounts: Arc::new(accounts),
        })
    }

    /// What INFO's `auth_required` says: false without auth, and false with `no_auth_user`.
    pub fn required(&self) -> bool {
        self.expects_connect() && self.no_auth_user.is_none()
    }

    /// Whether auth is configured at all: then the authentication timer runs and the client
    /// must send CONNECT in time, even with `no_auth_user` (nats-server sends
    /// `Authentication Timeout` then too [verified]).
    pub fn expects_connect(&self) -> bool {
        !self.nkeys.is_empty()
            || !self.users.is_empty()
            || self.token.is_some()
            || self.single_user.is_some()
    }

    /// Whether INFO must carry a nonce: some user authenticates with an nkey.
    pub fn needs_nonce(&self) -> bool {
        !self.nkeys.is_empty()
    }

    /// Checks a CONNECT's credentials; `nonce` is the one this connection's INFO carried
    /// (empty if none). May run bcrypt: see the module doc.
    pub fn authenticate(
        &self,
        credentials: &Credentials<'_>,
        nonce: &[u8],
    ) -> Result<Arc<UserIdentity>, AuthError> {
        if !self.expects_connect() {
            // nats-server ignores credentials when it requires none.
            return Ok(self.anonymous.clone());
        }
        let given = |s: Option<&str>| s.is_some_and(|s| !s.is_empty());
        let no_password_credentials =
            !given(credentials.user) && !given(credentials.pass) && !given(credentials.auth_token);
        let no_auth_user = self.no_auth_user.as_deref();

        if !self.nkeys.is_empty() {
            let mut nkey = credentials.nkey.filter(|k| !k.is_empty());
            if nkey.is_none() && no_password_credentials {
                nkey = no_auth_user.filter(|name| self.nkeys.contains_key(*name));
            }
            if let Some(nkey) = nkey {
                let user = self.nkeys.get(nkey).ok_or(AuthError::UnknownNkey)?;
                // nats-server skips the signature for the no_auth_user's nkey, even when the
                // client names it: that user needs no credentials anyway.
                if Some(nkey) != no_auth_user {
                    let sig = credentials.sig.filter(|s| !s.is_empty());
                    let sig = sig.ok_or(AuthError::SignatureMissing)?;
                    nkey::verify_signature(&user.key, nonce, sig).map_err(|e| match e {
                        SignatureError::NotBase64 => AuthError::SignatureNotBase64,
                        SignatureError::NotVerified => AuthError::SignatureNotVerified,
                    })?;
                }
                return Ok(user.identity.clone());
            }
        }

        if !self.users.is_empty() {
            if no_password_credentials {
                if let Some(user) = no_auth_user.and_then(|n| self.users.get(n)) {
                    return Ok(user.identity.clone());
                }
            }
            if let Some(name) = credentials.user.filter(|u| !u.is_empty()) {
                let user = self.users.get(name).ok_or(AuthError::UnknownUser)?;
                return if secret_matches(&user.password, credentials.pass.unwrap_or("")) {
                    Ok(user.identity.clone())
                } else {
                    Err(AuthError::WrongPassword)
                };
            }
        }

        if let Some(token) = &self.token {
            let given = credentials.auth_token.unwrap_or("");
            return if secret_matches(token, given) {
                Ok(self.token_holder.clone())
            } else {
                Err(AuthError::WrongToken)
            };
        }
        if let Some((user, password)) = &self.single_user {
            if credentials.user.unwrap_or("") != user {
                return Err(AuthError::UnknownUser);
            }
            return if secret_matches(password, credentials.pass.unwrap_or("")) {
                Ok(Arc::new(UserIdentity {
                    name: user.clone(),
                    kind: IdentityKind::User,
                    permissions: None,
                    account: GLOBAL_ACCOUNT,
                    account_name: GLOBAL_ACCOUNT_NAME.into(),
                }))
            } else {
                Err(AuthError::WrongPassword)
            };
        }
        Err(AuthError::NoCredentials)
    }
}

fn compile(
    config: Option<&PermissionsConfig>,
    who: impl Fn() -> String,
) -> Result<Option<Arc<Permissions>>, AuthConfigError> {
    config
        .map(|c| {
            Permissions::compile(c)
                .map(Arc::new)
                .map_err(|error| AuthConfigError::InvalidPermissions { who: who(), error })
        })
        .transpose()
}

/// Whether `secret` is a bcrypt hash: `$2a$`, `$2b$`, `$2x$` or `$2y$`, two cost digits, `$`.
pub fn is_bcrypt(secret: &str) -> bool {
    let b = secret.as_bytes();
    b.len() >= 7
        && b[0] == b'$'
        && b[1] == b'2'
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
}

/// Whether the client's `given` password or token matches the configured `secret`.
fn secret_matches(secret: &Secret, given: &str) -> bool {
    if is_bcrypt(&secret.0) {
        // A malformed hash is a failed check, as in nats-server.
        bcrypt::verify(given, &secret.0).unwrap_or(false)
    } else {
        constant_time_eq(secret.0.as_bytes(), given.as_bytes())
    }
}

/// Compares without an early exit on the first differing byte, so the time taken does not
/// tell an attacker how much of a guess was right. Lengths are compared openly.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold back into an early-exit compare.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
#[path = "authenticator_tests.rs"]
mod tests;
