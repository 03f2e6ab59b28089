//! Tests of the config parser, by topic: [`fixtures`] parses the files under `tests/configs/`
//! (a full server config, every lexical form, JSON style, variables, includes, and malformed
//! files whose errors must name file, line and column); [`constructs`] checks single
//! constructs; [`units`] the size and duration helpers; [`settings`] the realistic configs
//! under `tests/configs/real/` applied to `Options`; [`fuzz`] that randomized input never
//! panics. This file holds the helpers they share.

mod constructs;
mod fixtures;
mod fuzz;
mod settings;
mod units;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use super::*;

/// Files from memory first, then from disk; variables from memory only, so tests do not
/// depend on the process environment.
#[derive(Default)]
struct TestEnv {
    files: HashMap<PathBuf, String>,
    vars: HashMap<String, String>,
}

impl TestEnv {
    fn with_vars(vars: &[(&str, &str)]) -> TestEnv {
        TestEnv {
            vars: vars
                .iter()
                .map(|&(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ..TestEnv::default()
        }
    }

    fn file(mut self, path: &str, text: &str) -> TestEnv {
        self.files.insert(PathBuf::from(path), text.to_owned());
        self
    }
}

impl Environment for TestEnv {
    fn read_file(&mut self, path: &Path) -> io::Result<String> {
        match self.files.get(path) {
            Some(text) => Ok(text.clone()),
            None => std::fs::read_to_string(path),
        }
    }

    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/configs")
        .join(name)
}

fn parse_fixture(name: &str, env: &mut TestEnv) -> Map {
    parse_file_with(fixture(name), env).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse(text: &str) -> Result<Map, Error> {
    parse_str(text, "test.conf", &mut TestEnv::default())
}

fn parse_ok(text: &str) -> Map {
    parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn parse_err(text: &str) -> Error {
    match parse(text) {
        Ok(map) => panic!("{text:?} parsed: {:?}", to_json(&map)),
        Err(e) => e,
    }
}

/// The tree without positions, for comparing with `json!`.
fn to_json(map: &Map) -> serde_json::Value {
    serde_json::Value::Object(
        map.iter()
            .map(|e| (e.key.clone(), value_json(&e.value)))
            .collect(),
    )
}

fn value_json(value: &Value) -> serde_json::Value {
    match &value.kind {
        Kind::Map(map) => to_json(map),
        Kind::Array(values) => values.iter().map(value_json).collect(),
        Kind::String(s) => json!(s),
        Kind::Integer(n) => json!(n),
        Kind::Float(x) => json!(x),
        Kind::Bool(b) => json!(b),
    }
}

/// The value at a dotted path of keys and array indexes, e.g. `authorization.users.1.user`.
fn at<'m>(map: &'m Map, path: &str) -> &'m Value {
    let mut parts = path.split('.');
    let first = parts.next().unwrap_or_default();
    let mut value = map
        .get(first)
        .unwrap_or_else(|| panic!("no {first} in {path}"));
    for part in parts {
        value = match &value.kind {
            Kind::Map(m) => m.get(part),
            Kind::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .unwrap_or_else(|| panic!("no {part} in {path}"));
    }
    value
}

fn line_col(pos: &Pos) -> (u32, u32) {
    (pos.line, pos.column)
}
