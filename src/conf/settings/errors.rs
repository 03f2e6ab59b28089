//! What the settings layer reports: errors (each at its `file:line:col`, in nats-server's
//! words where it has them) and warnings, as types whose `Display` is the line printed.

use std::fmt;

use crate::conf::{Error, ErrorKind, Pos};

/// A config file that cannot be used.
#[derive(Debug)]
pub enum LoadError {
    /// It does not parse (or cannot be read).
    Parse(Error),
    /// It parses, but its settings are wrong.
    Settings(SettingsErrors),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Parse(e) => e.fmt(f),
            LoadError::Settings(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LoadError {}

/// Every error of a config file, and the warnings found along the way. `Display` gives one
/// error per line, as nats-server prints them.
#[derive(Debug, PartialEq)]
pub struct SettingsErrors {
    pub errors: Vec<SettingError>,
    pub warnings: Vec<Warning>,
}

impl fmt::Display for SettingsErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            e.fmt(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for SettingsErrors {}

/// One wrong setting and where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct SettingError {
    pub pos: Pos,
    pub kind: SettingErrorKind,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.kind)
    }
}

/// The blocks whose unknown keys nats-server reports in words of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    Top,
    Authorization,
    User,
    Tls,
    Permissions,
    SubjectPermissions,
    ResponsePermissions,
}

/// Why a setting is wrong. The messages are nats-server's where it has one.
#[derive(Clone, Debug, PartialEq)]
pub enum SettingErrorKind {
    /// A key nats-server does not know.
    UnknownField { block: Block, field: String },
    /// A key nats-server knows, which natrix does not implement and cannot ignore safely.
    NotSupported { field: String },
    /// A value of the wrong type (nats-server only says `interface conversion: ...`).
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    /// A size or duration that does not parse.
    Value { field: String, kind: ErrorKind },
    /// A value of the right type that is not allowed; the reason is nats-server's wording.
    Invalid { field: String, reason: String },
    /// Settings that exclude each other, e.g. "Can not have a token and a users array".
    Conflict(String),
    /// The options as a whole fail [`Options::validate`].
    Options(OptionsError),
}

impl fmt::Display for SettingErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingErrorKind::UnknownField { block, field } => match block {
                Block::Top | Block::Authorization | Block::User => {
                    write!(f, "unknown field {field:?}")
                }
                Block::Tls => write!(f, "error parsing tls config, unknown field {field:?}"),
                Block::Permissions | Block::ResponsePermissions => {
                    write!(f, "Unknown field {field:?} parsing permissions")
                }
                Block::SubjectPermissions => write!(
                    f,
                    "Unknown field name {field:?} parsing subject permissions, only 'allow' or \
                     'deny' are permitted"
                ),
            },
            SettingErrorKind::NotSupported { field } => write!(
                f,
                "{field:?} is not supported by natrix yet; remove it (natrix would otherwise \
                 run with less protection or different routing than nats-server)"
            ),
            SettingErrorKind::WrongType {
                field,
                expected,
                found,
            } => write!(f, "error parsing {field}: expected {expected}, got {found}"),
            SettingErrorKind::Value { field, kind } => write!(f, "error parsing {field}: {kind}"),
            SettingErrorKind::Invalid { field, reason } => {
                write!(f, "error parsing {field}: {reason}")
            }
            SettingErrorKind::Conflict(reason) => f.write_str(reason),
            SettingErrorKind::Options(e) => e.fmt(f),
        }
    }
}

/// Re-exported so callers of this module need not import it from `config`.
pub use crate::config::OptionsError;

/// Something in a config file that does not stop the server.
#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    pub pos: Pos,
    pub kind: WarningKind,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.kind)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum WarningKind {
    /// A feature natrix does not have; the setting is ignored.
    NotSupported { field: String },
    /// An integer where a duration belongs: read as seconds (nats-server's wording).
    DurationAsSeconds { field: String },
    /// An `authorization { timeout }` above a minute, likely an unquoted `1m` (= 1000000).
    AuthTimeoutHigh { seconds: f64 },
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarningKind::NotSupported { field } => {
                write!(f, "{field:?} is not supported by natrix yet and is ignored")
            }
            WarningKind::DurationAsSeconds { field } => write!(
                f,
                "invalid use of field {field:?}: {field} should be converted to a duration"
            ),
            WarningKind::AuthTimeoutHigh { seconds } => write!(
                f,
                "invalid use of field \"timeout\": timeout of {seconds} seconds is high, \
                 consider keeping it under 60 seconds. possibly caused by unquoted duration; \
                 use '1m' instead of 1m, for example"
            ),
        }
    }
}
