//! JSON text exactly as Go's `encoding/json` writes nats-server's monitoring answers:
//! `MarshalIndent(v, "", "  ")` for every endpoint but `/healthz`, which is compact.
//!
//! Two differences from serde_json's own output are fixed here: Go escapes `<`, `>`, `&`,
//! U+2028 and U+2029 inside strings (its HTML-safe default; a subject `foo.>` reads
//! `"foo.\u003e"`), and Go writes floats without a forced `.0` (see [`gofmt::float`]).

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter};

use crate::gofmt;

/// `v` as Go's `json.MarshalIndent(v, "", "  ")` writes it.
pub fn pretty<T: Serialize>(v: &T) -> Vec<u8> {
    write(v, PrettyFormatter::with_indent(b"  "))
}

/// `v` as Go's `json.Marshal(v)` writes it.
pub fn compact<T: Serialize>(v: &T) -> Vec<u8> {
    write(v, CompactFormatter)
}

fn write<T: Serialize, F: Formatter>(v: &T, inner: F) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter(inner));
    // Our models hold only strings, numbers, bools, sequences and string-keyed maps, which
    // serde_json always serializes; writing into a Vec cannot fail.
    v.serialize(&mut ser)
        .expect("monitor models serialize to JSON without error");
    out
}

/// Wraps serde_json's pretty or compact layout and changes only strings and floats.
struct GoFormatter<F>(F);

impl<F: Formatter> Formatter for GoFormatter<F> {
    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(gofmt::float(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(w, f64::from(value))
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some(i) = rest.find(['<', '>', '&', '\u{2028}', '\u{2029}']) {
            w.write_all(&rest.as_bytes()[..i])?;
            let c = rest[i..].chars().next().unwrap_or('&');
            write!(w, "\\u{:04x}", c as u32)?;
            rest = &rest[i + c.len_utf8()..];
        }
        w.write_all(rest.as_bytes())
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        self.0.write_char_escape(w, escape)
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Sample {
        subject: &'static str,
        rate: f64,
        whole: f64,
        list: Vec<u32>,
        empty: Vec<u32>,
        nested: Empty,
    }

    #[derive(Serialize)]
    struct Empty {}

    #[test]
    fn pretty_matches_go_marshal_indent() {
        let s = Sample {
            subject: "foo.> <&> µ \u{2028}\n",
            rate: 0.4,
            whole: 2.0,
            list: vec![1, 2],
            empty: vec![],
            nested: Empty {},
        };
        let want = "{\n  \"subject\": \"foo.\\u003e \\u003c\\u0026\\u003e µ \\u2028\\n\",\n  \
                    \"rate\": 0.4,\n  \"whole\": 2,\n  \"list\": [\n    1,\n    2\n  ],\n  \
                    \"empty\": [],\n  \"nested\": {}\n}";
        assert_eq!(String::from_utf8(pretty(&s)).unwrap(), want);
    }

    #[test]
    fn compact_has_no_spaces() {
        #[derive(Serialize)]
        struct Status {
            status: &'static str,
        }
        assert_eq!(compact(&Status { status: "ok" }), br#"{"status":"ok"}"#);
    }
}
