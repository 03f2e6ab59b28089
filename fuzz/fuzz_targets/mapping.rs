//! Subject mappings from arbitrary input, checking that nothing panics and that:
//! - a transform that compiles transforms a subject built from its own source (each `*`
//!   replaced by a token, `>` by two), and gives the same result for the same random number;
//! - a destination with no function, no `$` and no `>` is written out as it is;
//! - a `mappings { }` block that parses, and the table built from it, map the subjects built
//!   from its sources, and leave `out` alone when they report no match.
//!
//! Input: the first byte chooses the mode (even: one transform from three lines "source",
//! "destination", "subject"; odd: the rest is config text) and the next four the random
//! number.

#![no_main]

use std::io;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use natrix::conf::{self, settings::mappings::parse_mappings, Environment};
use natrix::mapping::{Mappings, SubjectTransform};

/// No files, no environment variables.
struct Empty;

impl Environment for Empty {
    fn read_file(&mut self, _: &Path) -> io::Result<String> {
        Err(io::ErrorKind::NotFound.into())
    }

    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

/// A subject that matches `source`: `*` becomes `w`, `>` becomes `t1.t2`.
fn instance(source: &str) -> String {
    source
        .split('.')
        .map(|t| match t {
            "*" => "w",
            ">" => "t1.t2",
            t => t,
        })
        .collect::<Vec<_>>()
        .join(".")
}

fuzz_target!(|data: &[u8]| {
    let [mode, r0, r1, r2, r3, rest @ ..] = data else {
        return;
    };
    let rnd = u32::from_le_bytes([*r0, *r1, *r2, *r3]);
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if mode % 2 == 0 {
        one_transform(text, rnd);
    } else {
        config_block(text, rnd);
    }
});

fn one_transform(text: &str, rnd: u32) {
    let mut lines = text.splitn(3, '\n');
    let (Some(source), Some(dest)) = (lines.next(), lines.next()) else {
        return;
    };
    let subject = lines.next().unwrap_or_default();
    let Ok(tr) = SubjectTransform::new(source, dest) else {
        return;
    };
    let mut out = Vec::new();
    // An arbitrary subject: no panic, whatever the answer.
    let _ = tr.transform(subject.as_bytes(), rnd, &mut out);
    let own = instance(source);
    assert!(
        tr.transform(own.as_bytes(), rnd, &mut out),
        "{own:?} matches {source:?}"
    );
    let mut again = Vec::new();
    assert!(tr.transform(own.as_bytes(), rnd, &mut again));
    assert_eq!(out, again, "same input, same output");
    if !dest.contains(['{', '$', '>']) {
        assert_eq!(out, dest.as_bytes(), "a plain destination is written as it is");
    }
}

fn config_block(text: &str, rnd: u32) {
    let Ok(map) = conf::parse_str(text, "fuzz.conf", &mut Empty) else {
        return;
    };
    let Some(block) = map.get("mappings") else {
        return;
    };
    let list = match parse_mappings(block) {
        Ok(list) => list,
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in errors {
                assert!(!e.to_string().is_empty());
            }
            return;
        }
    };
    let table = Mappings::new(&list, None);
    let mut out = b"sentinel".to_vec();
    for m in &list {
        let own = instance(m.source());
        assert!(table.map(own.as_bytes(), rnd, &mut out), "{own:?} is mapped");
    }
    out = b"sentinel".to_vec();
    if !table.map(b"no.such.subject.in.fuzz.input", rnd, &mut out) {
        assert_eq!(out, b"sentinel");
    }
}
