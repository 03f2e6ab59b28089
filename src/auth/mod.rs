//! Authentication (who a CONNECT is) and authorization (what that user may publish and
//! subscribe to), sans-io: no sockets, no clock reads; time and the nonce come in as arguments.
//!
//! - [`config`]: the settings as plain data.
//! - [`permissions`]: a user's compiled [`Permissions`], shared by its connections.
//! - [`client_permissions`]: [`ClientPermissions`], one connection's publish cache and response
//!   permits, used through `&mut self` by the connection that owns it.
//!
//! A connection with a permissioned user holds a `ClientPermissions`; without, no check is
//! needed.

pub mod client_permissions;
pub mod config;
pub mod permissions;

pub use client_permissions::{ClientPermissions, PUBLISH_CACHE_ENTRIES_MAX, RESPONSE_PERMITS_MAX};
pub use config::{
    AuthConfig, NkeyConfig, PermissionsConfig, ResponsePermission, Secret, SubjectPermission,
    UserConfig,
};
pub use permissions::{Permissions, PermissionsError};
