//! The parsed configuration: a tree of [`Value`]s, each with the [`Pos`] it came from, so the
//! settings layer can name `file:line:column` for an unknown key or a bad value as nats-server
//! does (`nats.conf:3:1: unknown field "bogus"`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::error::{Error, ErrorKind};
use super::units;

/// Where something starts in a config file. Lines and columns count from 1; a column counts
/// characters, not bytes. (nats-server counts bytes, and from 0 on the first line only.)
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pos {
    /// The file as the parser opened it: the path given for the main file, and for an
    /// include, the including file's directory joined with the include path.
    pub file: Arc<Path>,
    pub line: u32,
    pub column: u32,
}

impl Pos {
    /// A position naming only a file (line and column 0), for errors about the file as a
    /// whole, such as one that cannot be read.
    pub fn file_only(file: &Path) -> Pos {
        Pos {
            file: Arc::from(file),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

/// One value of the config tree and where it starts. For a value taken from a variable, the
/// position is that of the `$reference`.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub kind: Kind,
    pub pos: Pos,
}

/// The types a config value can have. nats-server's lexer also knows ISO 8601 datetimes
/// (`2024-01-02T03:04:05Z`); no setting uses them, so they are kept here as strings.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Map(Map),
    Array(Vec<Value>),
    String(String),
    /// Integers, including sizes written with a suffix (`1MB` is 1048576).
    Integer(i64),
    Float(f64),
    /// `true`, `false`, `yes`, `no`, `on`, `off` in any case, when unquoted.
    Bool(bool),
}

impl Value {
    /// The type's name for messages: "map", "array", "string", "integer", "float", "boolean".
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Map(_) => "map",
            Kind::Array(_) => "array",
            Kind::String(_) => "string",
            Kind::Integer(_) => "integer",
            Kind::Float(_) => "float",
            Kind::Bool(_) => "boolean",
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.kind {
            Kind::Map(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match &self.kind {
            Kind::Array(values) => Some(values),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self.kind {
            Kind::Integer(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self.kind {
            Kind::Float(x) => Some(x),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            Kind::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// How many values this one holds, itself included.
    pub fn count(&self) -> usize {
        1 + match &self.kind {
            Kind::Map(map) => map.iter().map(|e| e.value.count()).sum(),
            Kind::Array(values) => values.iter().map(Value::count).sum(),
            _ => 0,
        }
    }

    /// An error about this value, at its position.
    pub fn error(&self, kind: ErrorKind) -> Error {
        Error::new(self.pos.clone(), kind)
    }

    /// A size in bytes: an integer (sizes written unquoted with a suffix, like `64KB`, already
    /// are), or a string with the same syntax (`"64KB"`). Negative sizes are refused.
    pub fn to_bytes(&self) -> Result<u64, Error> {
        match &self.kind {
            Kind::Integer(n) => {
                u64::try_from(*n).map_err(|_| self.error(ErrorKind::InvalidSize(n.to_string())))
            }
            Kind::String(s) => {
                units::parse_size(s).ok_or_else(|| self.error(ErrorKind::InvalidSize(s.clone())))
            }
            _ => Err(self.wrong_type("a size (an integer or a string like \"64KB\")")),
        }
    }

    /// A duration: a string in Go's syntax (`"2m"`, `"1h30m"`, `"500ms"`), or an integer
    /// number of seconds, which nats-server still accepts with the warning "`<field>` should be
    /// converted to a duration" (server/opts.go, `parseDuration`).
    ///
    /// Beware: unquoted `2m` is the integer 2000000 (a size suffix), so it reads as 2000000
    /// seconds here as in nats-server. A caller that wants to warn can check for
    /// [`Kind::Integer`].
    pub fn to_duration(&self) -> Result<Duration, Error> {
        match &self.kind {
            Kind::String(s) => units::parse_duration(s).map_err(|reason| {
                self.error(ErrorKind::InvalidDuration {
                    text: s.clone(),
                    reason,
                })
            }),
            Kind::Integer(n) => u64::try_from(*n).map(Duration::from_secs).map_err(|_| {
                self.error(ErrorKind::InvalidDuration {
                    text: n.to_string(),
                    reason: "negative",
                })
            }),
            _ => Err(self.wrong_type("a duration (a string like \"2m\" or an integer of seconds)")),
        }
    }

    fn wrong_type(&self, expected: &'static str) -> Error {
        self.error(ErrorKind::WrongType {
            expected,
            found: self.type_name(),
        })
    }
}

/// A map in the order its keys were first defined. Keys are case-sensitive here, as in
/// nats-server's parser (its settings layer matches them case-insensitively). Defining a key
/// again replaces its value in place.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
    entries: Vec<Entry>,
}

/// One `key: value` of a map.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    /// Where the key starts; nats-server reports errors about a setting here.
    pub key_pos: Pos,
    pub value: Value,
    /// Whether a `$key` reference used this entry as a variable. nats-server does not report
    /// such keys as unknown fields.
    pub used_as_variable: bool,
}

impl Map {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Entry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    pub(super) fn entries_mut(&mut self) -> std::slice::IterMut<'_, Entry> {
        self.entries.iter_mut()
    }

    pub(super) fn entry_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.key == key)
    }

    /// Adds an entry, or replaces the value of an existing key where it stands.
    pub(super) fn insert(&mut self, entry: Entry) {
        match self.entry_mut(&entry.key) {
            Some(existing) => *existing = entry,
            None => self.entries.push(entry),
        }
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = &'a Entry;
    type IntoIter = std::slice::Iter<'a, Entry>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}
