//! What is wrong with a config file, as a type. `Display` gives `file:line:column: reason`,
//! the shape of nats-server's `configErr`, with reasons worded after its lexer's and parser's
//! messages (conf/lex.go, conf/parse.go), e.g.
//! `nats.conf:2:6: expected a top-level value to end with a new line, comment or EOF, but
//! got 'b' instead`.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::value::Pos;

/// A config error and where it is. An error inside an included file is at its place in that
/// file; `included_from` lists the include directives that led there, innermost first.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub pos: Pos,
    pub kind: ErrorKind,
    pub included_from: Vec<Pos>,
}

impl Error {
    pub fn new(pos: Pos, kind: ErrorKind) -> Error {
        Error {
            pos,
            kind,
            included_from: Vec::new(),
        }
    }
}

/// The reasons a config cannot be read, parsed, or turned into a setting.
#[derive(Clone, Debug, PartialEq)]
pub enum ErrorKind {
    /// The main file could not be read.
    Read {
        kind: io::ErrorKind,
        message: String,
    },
    /// Something other than what the syntax allows here.
    Unexpected {
        expected: Expected,
        found: Found,
    },
    /// A backslash followed by a character other than `x t n r " \`.
    InvalidEscape(char),
    /// `\xXX` escapes that do not form UTF-8.
    InvalidUtf8,
    /// Text that starts like a number but is not one (`-foo`, `.5`).
    InvalidNumber(String),
    /// A number with a suffix nats-server does not know (`1kbb`).
    InvalidSizeSuffix(String),
    /// A number, or a number times its size suffix, beyond 64 bits.
    IntegerOutOfRange(String),
    FloatOutOfRange(String),
    /// Four digits and a dash start an ISO 8601 date, which must then be in full Zulu form.
    InvalidDate(String),
    /// `$name` is neither an earlier key in an enclosing map nor an environment variable.
    UndefinedVariable(String),
    /// Environment variables whose values refer to each other.
    VariableCycle(String),
    /// The value of environment variable `name` is not a valid config value.
    EnvVariable {
        name: String,
        reason: Box<ErrorKind>,
    },
    /// An included file could not be read.
    Include {
        path: PathBuf,
        kind: io::ErrorKind,
        message: String,
    },
    /// A file includes itself, directly or through others.
    IncludeCycle(PathBuf),
    /// Maps, arrays and includes nested deeper than [`super::NESTING_MAX`].
    TooDeep,
    /// Variable references copied more than [`super::COPIED_VALUES_MAX`] values.
    TooLarge,
    /// For settings: a value of the wrong type.
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    /// For settings: a value that is not a size in bytes.
    InvalidSize(String),
    /// For settings: a value that is not a duration.
    InvalidDuration {
        text: String,
        reason: &'static str,
    },
}

/// What the parser was looking for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    Key,
    Value,
    /// After a value at the top level.
    TopValueEnd,
    /// After a value in a map.
    MapValueEnd,
    /// After a value in an array.
    ArrayValueEnd,
    IncludePath,
    /// The character after a backslash.
    EscapeChar,
    HexDigits,
    /// The closing quote or bracket of what is open.
    Closing(char),
    /// The `)` alone on a line that ends a `(` block string.
    BlockEnd,
    /// Nothing more: a stray `}` is allowed only at the end of a file.
    EndOfFile,
}

/// What the parser found instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    Char(char),
    NewLine,
    EndOfFile,
}

impl std::error::Error for Error {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.kind)?;
        for pos in &self.included_from {
            write!(f, " (included from {pos})")?;
        }
        Ok(())
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Read { message, .. } => write!(f, "error opening config file: {message}"),
            ErrorKind::Unexpected { expected, found } => {
                write!(f, "expected {expected}, but got {found} instead")
            }
            ErrorKind::InvalidEscape(c) => write!(
                f,
                "invalid escape character '{}'; only \\xXX, \\t, \\n, \\r, \\\" and \\\\ are \
                 allowed",
                c.escape_debug()
            ),
            ErrorKind::InvalidUtf8 => write!(f, "\\x escapes that do not form UTF-8"),
            ErrorKind::InvalidNumber(text) => write!(f, "invalid number '{text}'"),
            ErrorKind::InvalidSizeSuffix(text) => write!(
                f,
                "unknown size suffix in '{text}' (k, m, g, t, p, e are powers of 1000; kb, ki, \
                 kib, mb, ... are powers of 1024)"
            ),
            ErrorKind::IntegerOutOfRange(text) => write!(f, "integer '{text}' is out of the range"),
            ErrorKind::FloatOutOfRange(text) => write!(f, "float '{text}' is out of the range"),
            ErrorKind::InvalidDate(text) => write!(
                f,
                "invalid date '{text}': ISO 8601 dates must be in full Zulu form \
                 (YYYY-MM-DDTHH:MM:SSZ)"
            ),
            ErrorKind::UndefinedVariable(name) => {
                write!(f, "variable reference for '{name}' can not be found")
            }
            ErrorKind::VariableCycle(name) => write!(f, "variable reference cycle for '{name}'"),
            ErrorKind::EnvVariable { name, reason } => {
                write!(
                    f,
                    "variable reference for '{name}' could not be parsed: {reason}"
                )
            }
            ErrorKind::Include { path, message, .. } => {
                write!(
                    f,
                    "error parsing include file '{}', {message}",
                    path.display()
                )
            }
            ErrorKind::IncludeCycle(path) => {
                write!(f, "include cycle: '{}' includes itself", path.display())
            }
            ErrorKind::TooDeep => write!(
                f,
                "maps, arrays and includes nested deeper than {} levels",
                super::NESTING_MAX
            ),
            ErrorKind::TooLarge => write!(
                f,
                "variable references copy more than {} values",
                super::COPIED_VALUES_MAX
            ),
            ErrorKind::WrongType { expected, found } => {
                write!(f, "expected {expected}, got {found}")
            }
            ErrorKind::InvalidSize(text) => write!(
                f,
                "invalid size '{text}': expected a non-negative number of bytes with an optional \
                 suffix such as KB, MB, GiB"
            ),
            ErrorKind::InvalidDuration { text, reason } => {
                write!(f, "invalid duration '{text}': {reason}")
            }
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Key => f.write_str("a key"),
            Expected::Value => f.write_str("a value"),
            Expected::TopValueEnd => {
                f.write_str("a top-level value to end with a new line, comment or EOF")
            }
            Expected::MapValueEnd => {
                f.write_str("a map value terminator ',' or a map terminator '}'")
            }
            Expected::ArrayValueEnd => {
                f.write_str("an array value terminator ',' or an array terminator ']'")
            }
            Expected::IncludePath => f.write_str("an include path"),
            Expected::EscapeChar => f.write_str("an escape character"),
            Expected::HexDigits => f.write_str("two hexadecimal digits after '\\x'"),
            Expected::Closing(c) => write!(f, "a closing '{c}'"),
            Expected::BlockEnd => f.write_str("a ')' on a line of its own"),
            Expected::EndOfFile => f.write_str("nothing after the stray '}'"),
        }
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Char(c) => write!(f, "'{}'", c.escape_debug()),
            Found::NewLine => f.write_str("a new line"),
            Found::EndOfFile => f.write_str("end of file"),
        }
    }
}
