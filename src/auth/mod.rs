//! Authentication (who a CONNECT is) and authorization (what that user may publish and
//! subscribe to), sans-io.

pub mod config;

pub use config::{
    AuthConfig, NkeyConfig, PermissionsConfig, ResponsePermission, Secret, SubjectPermission,
    UserConfig,
};
