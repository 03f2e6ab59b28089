//! Authentication (who a CONNECT is) and authorization (what that user may publish and
//! subscribe to), sans-io: no sockets, no clock reads; time and the nonce come in as arguments.
//!
//! - [`config`]: the settings as plain data.
//! - [`authenticator`]: [`Authenticator`], built once from [`AuthConfig`] (validated as
//!   nats-server validates it at start), maps a CONNECT's [`Credentials`] to a
//!   [`UserIdentity`]. Shared by all shards (`Send + Sync`).
//! - [`nkey`]: the INFO nonce ([`new_nonce`]) and the nkey signature check.
//! - [`permissions`]: a user's compiled [`Permissions`], shared by its connections.
//! - [`client_permissions`]: [`ClientPermissions`], one connection's publish cache and response
//!   permits, used through `&mut self` by the connection that owns it.
//!
//! A connection builds `ClientPermissions` from `UserIdentity::permissions` when that is
//! `Some`; with `None` the user may do everything and no check is needed.

pub mod authenticator;
pub mod client_permissions;
pub mod config;
pub mod nkey;
pub mod permissions;

pub use authenticator::{
    AuthConfigError, AuthError, Authenticator, Credentials, IdentityKind, UserIdentity,
};
pub use client_permissions::{ClientPermissions, PUBLISH_CACHE_ENTRIES_MAX, RESPONSE_PERMITS_MAX};
pub use config::{
    AuthConfig, NkeyConfig, PermissionsConfig, ResponsePermission, Secret, SubjectPermission,
    UserConfig,
};
pub use nkey::new_nonce;
pub use permissions::{Permissions, PermissionsError};
