//! The NATS client protocol, sans-io: nothing here touches a socket or a clock.
//!
//! - [`parser`]: bytes of the read buffer → [`parser::Op`]s whose fields are spans of it.
//! - [`encode`]: MSG/HMSG/INFO/+OK/-ERR/PING/PONG into an outbound buffer.
//! - [`info`]: the server INFO document and the client CONNECT options.
//! - [`errors`]: what a client did wrong, as a type whose `Display` is nats-server's text.
//! - [`trace`]: the `-V` trace lines of ops both ways, as nats-server writes them.

pub mod encode;
pub mod errors;
pub mod info;
pub mod parser;
pub mod trace;
