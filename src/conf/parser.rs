//! The recursive-descent parser: text → [`Map`], resolving variables and includes as it
//! goes, because both depend on what was defined before (as in nats-server, where the parser
//! resolves them while it reads the lexer's items).
//!
//! Invariants: every input either parses or yields an [`Error`]; nothing panics. Nesting is
//! bounded ([`NESTING_MAX`]), so recursion is too. Each value carries the position of its
//! first character.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::error::{Error, ErrorKind, Expected, Found};
use super::units::{self, IntegerError};
use super::value::{Entry, Kind, Map, Pos, Value};
use super::{Environment, COPIED_VALUES_MAX, NESTING_MAX};

/// State shared by the main file, its includes and environment variable values.
pub(super) struct Shared<'e> {
    pub env: &'e mut dyn Environment,
    /// Files being parsed, outermost first, to refuse include cycles.
    pub includes: Vec<PathBuf>,
    /// Environment variables being parsed, to refuse reference cycles.
    pub env_vars: Vec<String>,
    /// Current depth of maps, arrays and includes.
    pub depth: usize,
    /// Values copied by variable references so far, bounded by [`COPIED_VALUES_MAX`].
    pub copied_values: usize,
}

/// Parses one file's text into its top-level map.
pub(super) fn parse_document(
    text: &str,
    file: Arc<Path>,
    shared: &mut Shared,
) -> Result<Map, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Parser::new(text, file, shared).document()
}

/// Where a value stands, which decides what may follow it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Top,
    Map,
    Array,
}

/// The characters that end an unquoted value (nats-server's lexString).
fn ends_bare_value(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | ',' | ';' | ']' | '}')
}

/// The characters that end an unquoted key. nats-server stops only at whitespace, ':' and
/// '=', so `authorization{` is a key there and an error later; here it is a key and a map.
fn ends_bare_key(c: char) -> bool {
    c.is_whitespace() || matches!(c, ':' | '=' | '{' | '[' | ']' | '}' | ',' | ';')
}

fn is_bool(text: &str) -> Option<bool> {
    const WORDS: [(&str, bool); 6] = [
        ("true", true),
        ("yes", true),
        ("on", true),
        ("false", false),
        ("no", false),
        ("off", false),
    ];
    WORDS
        .iter()
        .find(|(word, _)| text.eq_ignore_ascii_case(word))
        .map(|&(_, b)| b)
}

/// An unquoted `$2a$...` is a bcrypt hash, not a variable. nats-server knows only `2a$`; the
/// other bcrypt versions are taken too, since no variable can have such a name.
fn is_bcrypt(name: &str) -> bool {
    ["2a$", "2b$", "2x$", "2y$"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// The rest of a date after `YYYY`: `-MM-DDTHH:MM:SSZ`, with `0` standing for a digit.
fn is_zulu_date_tail(tail: &str) -> bool {
    const SHAPE: &str = "-00-00T00:00:00Z";
    tail.len() == SHAPE.len()
        && tail.bytes().zip(SHAPE.bytes()).all(|(c, s)| {
            if s == b'0' {
                c.is_ascii_digit()
            } else {
                c == s
            }
        })
}

/// Go's `filepath.Join(dir, include)`: the include path is always taken relative to `dir`,
/// even when it starts with `/` (nats-server does the same, so `include /etc/x.conf` in
/// `conf/nats.conf` opens `conf/etc/x.conf`).
fn resolve_include(dir: &Path, include: &str) -> PathBuf {
    let relative: PathBuf = Path::new(include)
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect();
    clean(&dir.join(relative))
}

/// Go's `filepath.Clean`, lexically: drops `.`, and `name/..` pairs.
pub(super) fn clean(path: &Path) -> PathBuf {
    let mut parts: Vec<Component> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => parts.push(component),
            },
            _ => parts.push(component),
        }
    }
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}

/// A position in the text; lines and columns from 1.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
    line: u32,
    column: u32,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.text[self.at..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(c)
    }

    /// Consumes characters while `keep` holds and returns them.
    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let start = self.at;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        &self.text[start..self.at]
    }
}

struct Parser<'a, 's, 'e> {
    cursor: Cursor<'a>,
    file: Arc<Path>,
    shared: &'s mut Shared<'e>,
    /// The maps being built, outermost first: the scopes a `$variable` is looked up in.
    scopes: Vec<Map>,
}

impl<'a, 's, 'e> Parser<'a, 's, 'e> {
    fn new(text: &'a str, file: Arc<Path>, shared: &'s mut Shared<'e>) -> Self {
        Parser {
            cursor: Cursor {
                text,
                at: 0,
                line: 1,
                column: 1,
            },
            file,
            shared,
            scopes: Vec::new(),
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            file: self.file.clone(),
            line: self.cursor.line,
            column: self.cursor.column,
        }
    }

    fn error(&self, kind: ErrorKind) -> Error {
        Error::new(self.pos(), kind)
    }

    /// An error about the next character, which is not what `expected` allows.
    fn unexpected(&self, expected: Expected) -> Error {
        let found = match self.cursor.peek() {
            None => Found::EndOfFile,
            Some('\n' | '\r') => Found::NewLine,
            Some(c) => Found::Char(c),
        };
        self.error(ErrorKind::Unexpected { expected, found })
    }

    fn scope(&mut self) -> &mut Map {
        // A scope is pushed before any entry is parsed; the fallback is never taken.
        if self.scopes.is_empty() {
            self.scopes.push(Map::default());
        }
        let last = self.scopes.len() - 1;
        &mut self.scopes[last]
    }

    fn enter(&mut self) -> Result<(), Error> {
        if self.shared.depth >= NESTING_MAX {
            return Err(self.error(ErrorKind::TooDeep));
        }
        self.shared.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.shared.depth -= 1;
    }

    /// Skips spaces and tabs.
    fn skip_blanks(&mut self) {
        self.cursor.take_while(|c| c == ' ' || c == '\t');
    }

    /// Skips all whitespace, new lines included, and `#` or `//` comments.
    fn skip_space_and_comments(&mut self) {
        loop {
            self.cursor.take_while(char::is_whitespace);
            if !self.skip_comment() {
                return;
            }
        }
    }

    /// Skips a comment up to (not including) its line end, if one starts here.
    fn skip_comment(&mut self) -> bool {
        let starts = match self.cursor.peek() {
            Some('#') => true,
            Some('/') => self.cursor.peek_second() == Some('/'),
            _ => false,
        };
        if starts {
            self.cursor.take_while(|c| c != '\n' && c != '\r');
        }
        starts
    }

    /// The whole file: entries at the top level, optionally wrapped in braces as in JSON.
    fn document(mut self) -> Result<Map, Error> {
        self.scopes.push(Map::default());
        let mut open_braces = 0usize;
        loop {
            self.skip_space_and_comments();
            match self.cursor.peek() {
                None => {
                    if open_braces > 0 {
                        return Err(self.unexpected(Expected::Closing('}')));
                    }
                    break;
                }
                Some('{') => {
                    open_braces += 1;
                    self.cursor.bump();
                }
                Some('}') => {
                    self.cursor.bump();
                    if open_braces > 0 {
                        open_braces -= 1;
                    } else {
                        // nats-server accepts a stray '}' at the very end of a file.
                        self.skip_space_and_comments();
                        if self.cursor.peek().is_some() {
                            return Err(self.unexpected(Expected::EndOfFile));
                        }
                        break;
                    }
                }
                Some(_) => {
                    self.entry()?;
                    self.value_end(Context::Top)?;
                }
            }
        }
        Ok(self.scopes.pop().unwrap_or_default())
    }

    /// `key value`, `key: value`, `key = value`, or `include path`.
    fn entry(&mut self) -> Result<(), Error> {
        let key_pos = self.pos();
        let (key, quoted) = match self.cursor.peek() {
            Some(quote @ ('"' | '\'')) => (self.quoted_raw(quote)?.to_owned(), true),
            _ => {
                let key = self.cursor.take_while(|c| !ends_bare_key(c));
                if key.is_empty() {
                    return Err(self.unexpected(Expected::Key));
                }
                (key.to_owned(), false)
            }
        };
        if !quoted
            && key.eq_ignore_ascii_case("include")
            && self.cursor.peek().is_some_and(char::is_whitespace)
        {
            return self.include();
        }
        // Like nats-server: new lines may come between a key and its value, but not after
        // the separator.
        self.cursor.take_while(char::is_whitespace);
        if matches!(self.cursor.peek(), Some(':' | '=')) {
            self.cursor.bump();
        }
        let value = self.value()?;
        self.scope().insert(Entry {
            key,
            key_pos,
            value,
            used_as_variable: false,
        });
        Ok(())
    }

    /// What may follow a value: blanks, then a comment, a new line, a separator, the end of
    /// the enclosing map or array (left for the caller), or the end of the file.
    fn value_end(&mut self, context: Context) -> Result<(), Error> {
        self.skip_blanks();
        if self.skip_comment() {
            return Ok(());
        }
        match (self.cursor.peek(), context) {
            (None, _) | (Some('}'), Context::Top | Context::Map) | (Some(']'), Context::Array) => {
                Ok(())
            }
            (Some('\n' | '\r' | ','), _) | (Some(';'), Context::Top | Context::Map) => {
                self.cursor.bump();
                Ok(())
            }
            (Some(_), Context::Top) => Err(self.unexpected(Expected::TopValueEnd)),
            (Some(_), Context::Map) => Err(self.unexpected(Expected::MapValueEnd)),
            (Some(_), Context::Array) => Err(self.unexpected(Expected::ArrayValueEnd)),
        }
    }

    /// One value, after optional blanks. A new line is not allowed before it.
    fn value(&mut self) -> Result<Value, Error> {
        self.skip_blanks();
        let pos = self.pos();
        let kind = match self.cursor.peek() {
            None | Some('\n' | '\r' | ',' | ';' | ']' | '}') => {
                return Err(self.unexpected(Expected::Value));
            }
            Some('{') => Kind::Map(self.nested(Self::map_body)?),
            Some('[') => Kind::Array(self.nested(Self::array_body)?),
            Some('"') => Kind::String(self.double_quoted()?),
            Some('\'') => Kind::String(self.quoted_raw('\'')?.to_owned()),
            Some('(') => Kind::String(self.block_string()?),
            Some(_) => return self.bare_value(pos),
        };
        Ok(Value { kind, pos })
    }

    /// Consumes the opening bracket at the cursor and parses what it opens one level deeper.
    fn nested<T>(&mut self, body: fn(&mut Self) -> Result<T, Error>) -> Result<T, Error> {
        self.cursor.bump();
        self.enter()?;
        let result = body(self);
        self.leave();
        result
    }

    /// The entries of a map, after its `{`, through its `}`. The map is a variable scope
    /// while it is parsed.
    fn map_body(&mut self) -> Result<Map, Error> {
        self.scopes.push(Map::default());
        let result = self.items(Context::Map, Self::entry);
        let map = self.scopes.pop().unwrap_or_default();
        result.map(|()| map)
    }

    /// The values of an array, after its `[`, through its `]`, separated by commas or new
    /// lines. A trailing comma is allowed, an empty element is not.
    fn array_body(&mut self) -> Result<Vec<Value>, Error> {
        let mut values = Vec::new();
        self.items(Context::Array, |p| {
            values.push(p.value()?);
            Ok(())
        })?;
        Ok(values)
    }

    /// Items of a map or an array, each followed by what may end it there, through the
    /// closing bracket.
    fn items(
        &mut self,
        context: Context,
        mut item: impl FnMut(&mut Self) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let close = if context == Context::Map { '}' } else { ']' };
        loop {
            self.skip_space_and_comments();
            match self.cursor.peek() {
                None => return Err(self.unexpected(Expected::Closing(close))),
                Some(c) if c == close => {
                    self.cursor.bump();
                    return Ok(());
                }
                Some(_) => {
                    item(self)?;
                    self.value_end(context)?;
                }
            }
        }
    }

    /// Text between `quote`s, taken as it is: single-quoted strings, quoted keys and quoted
    /// include paths have no escapes. New lines are allowed inside.
    fn quoted_raw(&mut self, quote: char) -> Result<&'a str, Error> {
        self.cursor.bump();
        let text = self.cursor.take_while(|c| c != quote);
        if self.cursor.bump().is_none() {
            return Err(self.unexpected(Expected::Closing(quote)));
        }
        Ok(text)
    }

    /// A `"` string with escapes.
    fn double_quoted(&mut self) -> Result<String, Error> {
        let pos = self.pos();
        self.cursor.bump();
        let mut bytes = Vec::new();
        loop {
            match self.cursor.peek() {
                None => return Err(self.unexpected(Expected::Closing('"'))),
                Some('"') => {
                    self.cursor.bump();
                    break;
                }
                Some('\\') => self.escape(&mut bytes)?,
                Some(c) => {
                    self.cursor.bump();
                    push_char(&mut bytes, c);
                }
            }
        }
        String::from_utf8(bytes).map_err(|_| Error::new(pos, ErrorKind::InvalidUtf8))
    }

    /// One escape, from its backslash: `\xXX`, `\t`, `\n`, `\r`, `\"`, `\\`.
    fn escape(&mut self, bytes: &mut Vec<u8>) -> Result<(), Error> {
        let pos = self.pos();
        self.cursor.bump();
        let byte = match self.cursor.peek() {
            Some('t') => b'\t',
            Some('n') => b'\n',
            Some('r') => b'\r',
            Some('"') => b'"',
            Some('\\') => b'\\',
            Some('x') => {
                self.cursor.bump();
                let high = self.hex_digit()?;
                let low = self.hex_digit()?;
                bytes.push((high << 4) | low);
                return Ok(());
            }
            Some(c) => return Err(Error::new(pos, ErrorKind::InvalidEscape(c))),
            None => return Err(self.unexpected(Expected::EscapeChar)),
        };
        self.cursor.bump();
        bytes.push(byte);
        Ok(())
    }

    fn hex_digit(&mut self) -> Result<u8, Error> {
        match self.cursor.peek().and_then(|c| c.to_digit(16)) {
            Some(digit) => {
                self.cursor.bump();
                // A hex digit is below 16.
                Ok(digit as u8)
            }
            None => Err(self.unexpected(Expected::HexDigits)),
        }
    }

    /// A `(` block string: everything up to a `)` alone on its line, without the new line
    /// before that `)` (nats-server's lexBlock).
    fn block_string(&mut self) -> Result<String, Error> {
        self.cursor.bump();
        let rest = &self.cursor.text[self.cursor.at..];
        let end = rest
            .match_indices("\n)")
            .map(|(i, _)| i)
            .find(|&i| matches!(rest.as_bytes().get(i + 2), None | Some(b'\n' | b'\r')));
        let Some(end) = end else {
            self.cursor.take_while(|_| true);
            return Err(self.unexpected(Expected::BlockEnd));
        };
        let text = rest[..end].strip_suffix('\r').unwrap_or(&rest[..end]);
        let stop = self.cursor.at + end + 2;
        while self.cursor.at < stop {
            self.cursor.bump();
        }
        Ok(text.to_owned())
    }

    /// An unquoted value, up to a blank, new line, `,`, `;`, `]` or `}`: a number, a size, a
    /// boolean, a variable, or a string. Backslash escapes apply and make it a string.
    fn bare_value(&mut self, pos: Pos) -> Result<Value, Error> {
        let start = self.cursor.at;
        let mut bytes = Vec::new();
        let mut escaped = false;
        while let Some(c) = self.cursor.peek() {
            if ends_bare_value(c) {
                break;
            }
            if c == '\\' {
                escaped = true;
                self.escape(&mut bytes)?;
            } else {
                self.cursor.bump();
                push_char(&mut bytes, c);
            }
        }
        if escaped {
            let text = String::from_utf8(bytes)
                .map_err(|_| Error::new(pos.clone(), ErrorKind::InvalidUtf8))?;
            return Ok(Value {
                kind: Kind::String(text),
                pos,
            });
        }
        let text = &self.cursor.text[start..self.cursor.at];
        let kind = if text.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            number_like(text).map_err(|kind| Error::new(pos.clone(), kind))?
        } else if text.starts_with('.') && text[1..].starts_with(|c: char| c.is_ascii_digit()) {
            // nats-server: "Floats must start with a digit".
            return Err(Error::new(pos, ErrorKind::InvalidNumber(text.to_owned())));
        } else if let Some(b) = is_bool(text) {
            Kind::Bool(b)
        } else if let Some(name) = text.strip_prefix('$') {
            if is_bcrypt(name) {
                Kind::String(text.to_owned())
            } else {
                return self.variable(name, pos);
            }
        } else {
            Kind::String(text.to_owned())
        };
        Ok(Value { kind, pos })
    }

    /// `$name`: the latest `name` key in this map or an enclosing one, else the environment
    /// variable `name`, read as a config value.
    fn variable(&mut self, name: &str, pos: Pos) -> Result<Value, Error> {
        let found = self.scopes.iter_mut().rev().find_map(|s| s.entry_mut(name));
        if let Some(entry) = found {
            entry.used_as_variable = true;
            let count = entry.value.count();
            let mut value = entry.value.clone();
            value.pos = pos;
            return self.count_copied(count, value);
        }
        if self.shared.env_vars.iter().any(|v| v == name) {
            return Err(Error::new(pos, ErrorKind::VariableCycle(name.to_owned())));
        }
        let Some(text) = self.shared.env.var(name) else {
            return Err(Error::new(
                pos,
                ErrorKind::UndefinedVariable(name.to_owned()),
            ));
        };
        self.shared.env_vars.push(name.to_owned());
        let parsed = parse_env_value(&text, self.file.clone(), self.shared);
        self.shared.env_vars.pop();
        match parsed {
            Ok(mut value) => {
                relocate(&mut value, &pos);
                self.count_copied(value.count(), value)
            }
            // The limit is the whole parse's, not a fault of this variable's value.
            Err(e) if e.kind == ErrorKind::TooLarge => Err(Error::new(pos, ErrorKind::TooLarge)),
            Err(e) => Err(Error::new(
                pos,
                ErrorKind::EnvVariable {
                    name: name.to_owned(),
                    reason: Box::new(e.kind),
                },
            )),
        }
    }

    /// Charges the values a reference copies. Copies of copies grow exponentially
    /// (`b: [$a, $a]`, `c: [$b, $b]`, ...), where nats-server shares them by reference.
    fn count_copied(&mut self, count: usize, value: Value) -> Result<Value, Error> {
        self.shared.copied_values = self.shared.copied_values.saturating_add(count);
        if self.shared.copied_values > COPIED_VALUES_MAX {
            return Err(Error::new(value.pos, ErrorKind::TooLarge));
        }
        Ok(value)
    }

    /// `include path`, after the keyword: parses the file (relative to this file's
    /// directory) on its own, and adds its top-level keys to the current map. As in
    /// nats-server, the included file does not see the including file's variables, and the
    /// including file sees the included keys.
    fn include(&mut self) -> Result<(), Error> {
        self.skip_blanks();
        let pos = self.pos();
        let include = match self.cursor.peek() {
            Some(quote @ ('"' | '\'')) => self.quoted_raw(quote)?,
            None | Some('\n' | '\r' | '[' | '{' | '(' | ',' | ';' | ']' | '}') => {
                return Err(self.unexpected(Expected::IncludePath));
            }
            Some(_) => self.cursor.take_while(|c| !ends_bare_value(c)),
        };
        let dir = self.file.parent().unwrap_or(Path::new(""));
        let path = resolve_include(dir, include);
        if self.shared.includes.contains(&path) {
            return Err(Error::new(pos, ErrorKind::IncludeCycle(path)));
        }
        let text = self.shared.env.read_file(&path).map_err(|e| {
            let kind = ErrorKind::Include {
                path: path.clone(),
                kind: e.kind(),
                message: e.to_string(),
            };
            Error::new(pos.clone(), kind)
        })?;
        self.enter()?;
        self.shared.includes.push(path.clone());
        let parsed = parse_document(&text, Arc::from(path.as_path()), self.shared);
        self.shared.includes.pop();
        self.leave();
        let map = parsed.map_err(|mut e| {
            e.included_from.push(pos);
            e
        })?;
        let scope = self.scope();
        for entry in map.into_entries() {
            scope.insert(entry);
        }
        Ok(())
    }
}

/// Reads an environment variable's value as nats-server does: as the value of a key
/// (`pk=<value>`), so `4222` is an integer and `'3xyz'` a string. An empty value is an empty
/// string.
fn parse_env_value(text: &str, file: Arc<Path>, shared: &mut Shared) -> Result<Value, Error> {
    let mut parser = Parser::new(text, file, shared);
    parser.scopes.push(Map::default());
    parser.skip_blanks();
    if parser.cursor.peek().is_none() {
        return Ok(Value {
            kind: Kind::String(String::new()),
            pos: parser.pos(),
        });
    }
    let value = parser.value()?;
    parser.value_end(Context::Top)?;
    parser.skip_space_and_comments();
    if parser.cursor.peek().is_some() {
        return Err(parser.unexpected(Expected::TopValueEnd));
    }
    Ok(value)
}

/// Moves a value from an environment variable, and everything in it, to the reference.
fn relocate(value: &mut Value, pos: &Pos) {
    value.pos = pos.clone();
    match &mut value.kind {
        Kind::Array(values) => values.iter_mut().for_each(|v| relocate(v, pos)),
        Kind::Map(map) => {
            for entry in map.entries_mut() {
                entry.key_pos = pos.clone();
                relocate(&mut entry.value, pos);
            }
        }
        _ => {}
    }
}

fn push_char(bytes: &mut Vec<u8>, c: char) {
    let mut buf = [0; 4];
    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Classifies an unquoted value that starts with a digit or `-`: an integer (with an optional
/// size suffix), a float, an ISO 8601 date (kept as a string), or, when it starts with a digit
/// and is none of those, a string such as `10s`, `1h30m` or `127.0.0.1:4222`.
fn number_like(text: &str) -> Result<Kind, ErrorKind> {
    let negative = text.starts_with('-');
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let digits_len = unsigned
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(unsigned.len());
    let tail = &unsigned[digits_len..];
    let not_a_number = || {
        if negative {
            Err(ErrorKind::InvalidNumber(text.to_owned()))
        } else {
            Ok(Kind::String(text.to_owned()))
        }
    };
    if digits_len == 0 {
        return Err(ErrorKind::InvalidNumber(text.to_owned()));
    }
    let Some(first) = tail.chars().next() else {
        return units::parse_integer(text)
            .map(Kind::Integer)
            .map_err(|_| ErrorKind::IntegerOutOfRange(text.to_owned()));
    };
    match first {
        // nats-server: four digits and a dash start a date, any other count is an error.
        '-' if !negative => {
            if digits_len == 4 && is_zulu_date_tail(tail) {
                Ok(Kind::String(text.to_owned()))
            } else {
                Err(ErrorKind::InvalidDate(text.to_owned()))
            }
        }
        '.' if tail.len() > 1 && tail[1..].bytes().all(|b| b.is_ascii_digit()) => {
            match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Kind::Float(x)),
                _ => Err(ErrorKind::FloatOutOfRange(text.to_owned())),
            }
        }
        c if "kmgtpeKMGTPE".contains(c)
            && tail[1..]
                .chars()
                .all(|c| matches!(c, 'b' | 'B' | 'i' | 'I')) =>
        {
            units::parse_integer(text)
                .map(Kind::Integer)
                .map_err(|e| match e {
                    IntegerError::UnknownSuffix => ErrorKind::InvalidSizeSuffix(text.to_owned()),
                    IntegerError::OutOfRange | IntegerError::Malformed => {
                        ErrorKind::IntegerOutOfRange(text.to_owned())
                    }
                })
        }
        _ => not_a_number(),
    }
}
