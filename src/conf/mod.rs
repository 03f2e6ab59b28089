//! The nats-server configuration file format, parsed into a tree of positioned values.
//!
//! The format is nats-server's (its `conf` package): `key: value`, `key = value` or
//! `key value`; maps `{}` and arrays `[]` whose items are separated by commas or new lines;
//! `#` and `//` comments; double-quoted strings with escapes, single-quoted raw strings,
//! unquoted strings; integers with size suffixes (`1k` = 1000, `1KB` = `1Ki` = 1024), floats,
//! booleans (`true/false/yes/no/on/off`); `include path` relative to the including file; and
//! `$name` variables, looked up among the keys defined earlier in the enclosing maps, then in
//! the environment.
//!
//! Sans-io: the parser reads files and environment variables only through an
//! [`Environment`], so tests give it files and variables from memory. [`System`] is the real
//! one. This module only builds the tree; turning it into settings, and reporting unknown
//! keys at their [`Pos`], is the job of [`settings`].
//!
//! Invariants: parsing never panics, whatever the input; nesting of maps, arrays and includes
//! is bounded by [`NESTING_MAX`], and copies made by variables by [`COPIED_VALUES_MAX`]; an
//! include cycle is an error, not a stack overflow.

mod error;
mod parser;
pub mod settings;
pub(crate) mod units;
mod value;

use std::io;
use std::path::Path;
use std::sync::Arc;

pub use error::{Error, ErrorKind, Expected, Found};
pub use units::{parse_duration, parse_size, size_multiplier};
pub use value::{Entry, Kind, Map, Pos, Value};

/// Deepest nesting of maps, arrays and includes together. nats-server has no limit; real
/// configs nest a handful of levels, and the bound keeps the recursion safe.
pub const NESTING_MAX: usize = 128;

/// Most values that variable references may copy in one parse. A real config copies a few
/// dozen; the bound stops references to references from growing exponentially.
pub const COPIED_VALUES_MAX: usize = 1_000_000;

/// What the parser may read from the outside world.
pub trait Environment {
    /// The text of a config file: the main one or an include.
    fn read_file(&mut self, path: &Path) -> io::Result<String>;
    /// The value of an environment variable, for a `$name` that no key defines.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real file system and process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct System;

impl Environment for System {
    fn read_file(&mut self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn var(&self, name: &str) -> Option<String> {
        // A variable that is not valid Unicode cannot be config text.
        std::env::var(name).ok()
    }
}

/// Parses the config file at `path`, with its includes, from the file system and the
/// process environment.
pub fn parse_file(path: impl AsRef<Path>) -> Result<Map, Error> {
    parse_file_with(path, &mut System)
}

/// Parses the config file at `path` with files and variables from `env`.
pub fn parse_file_with(path: impl AsRef<Path>, env: &mut dyn Environment) -> Result<Map, Error> {
    let path = path.as_ref();
    let text = env.read_file(path).map_err(|e| {
        let kind = ErrorKind::Read {
            kind: e.kind(),
            message: e.to_string(),
        };
        Error::new(Pos::file_only(path), kind)
    })?;
    parse_str(&text, path, env)
}

/// Parses config text. `file` names it in positions, and includes are relative to its
/// directory.
pub fn parse_str(
    text: &str,
    file: impl AsRef<Path>,
    env: &mut dyn Environment,
) -> Result<Map, Error> {
    let file: Arc<Path> = Arc::from(file.as_ref());
    let mut shared = parser::Shared {
        env,
        includes: vec![parser::clean(&file)],
        env_vars: Vec::new(),
        depth: 0,
        copied_values: 0,
    };
    parser::parse_document(text, file, &mut shared)
}

#[cfg(test)]
mod tests;
