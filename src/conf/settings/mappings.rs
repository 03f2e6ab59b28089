//! A `mappings { }` block (top level for `$G`, or inside an account; nats-server also takes
//! `maps`) into [`Mapping`]s, with nats-server's checks and texts (`parseAccountMappings` and
//! `parseAccountMapDest` in server/opts.go, `AddWeightedMappings` in server/accounts.go).
//!
//! Invariants: every error of the block is reported, each at a position, and a source with
//! an error yields no mapping; a source's value is a destination string, a list of
//! destination maps, or one destination map; each destination map has a weight 0–100.
//!
//! Positions: nats-server reports most of these at the key of the entry at fault (and the
//! "not a valid subject" error at the block); here each error is at the key of the mapping or
//! of the destination field at fault, or at the value when there is no key to name.

use std::fmt;

use crate::conf::{Kind, Pos, Value};
use crate::gofmt;
use crate::mapping::{is_valid_subject, MapDest, Mapping, MappingError};

/// One error of a `mappings` block; `Display` is `file:line:col: <nats-server's text>`.
#[derive(Clone, Debug, PartialEq)]
pub struct MappingsError {
    pub pos: Pos,
    pub kind: MappingsErrorKind,
}

impl fmt::Display for MappingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.kind)
    }
}

impl std::error::Error for MappingsError {}

/// What is wrong, in nats-server's words (`nats-server -t`, 2.15.1).
#[derive(Clone, Debug, PartialEq)]
pub enum MappingsErrorKind {
    /// The block, or a destination's `destination` or `cluster`, has the wrong type;
    /// nats-server panics on the Go type assertion and prints its message.
    WrongType {
        found: &'static str,
        expected: &'static str,
    },
    /// `Subject "a b" is not a valid subject`.
    InvalidSource(String),
    /// `Error adding mapping for "src" to "dest" : <reason>`, or without ` to "dest"` for a
    /// list or a single destination map.
    Adding {
        source: String,
        destination: Option<String>,
        error: MappingError,
    },
    /// A destination that is not a map (`"a": true`, `"a": ["b"]`).
    ExpectedEntry,
    /// A weight string that is not a number after its `%` is cut off.
    WeightText(String),
    /// A weight below 0 or above 100.
    WeightRange(i64),
    /// A weight that is neither a string nor an integer, as Go's `%v` writes it. nats-server's
    /// text ends in a new line, so it prints an empty line after it; kept.
    WeightType(String),
    UnknownField(String),
    MissingWeight(String),
}

impl fmt::Display for MappingsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MappingsErrorKind::*;
        match self {
            WrongType { found, expected } => {
                write!(
                    f,
                    "interface conversion: interface {{}} is {found}, not {expected}"
                )
            }
            InvalidSource(s) => write!(f, "Subject {} is not a valid subject", gofmt::quote(s)),
            Adding {
                source,
                destination: Some(d),
                error,
            } => write!(
                f,
                "Error adding mapping for {} to {} : {error}",
                gofmt::quote(source),
                gofmt::quote(d)
            ),
            Adding {
                source,
                destination: None,
                error,
            } => write!(
                f,
                "Error adding mapping for {} : {error}",
                gofmt::quote(source)
            ),
            ExpectedEntry => f.write_str("Expected an entry for the mapping destination"),
            WeightText(w) => write!(
                f,
                "Invalid weight {} for mapping destination",
                gofmt::quote(w)
            ),
            WeightRange(w) => write!(f, "Invalid weight {w} for mapping destination"),
            // writeln!, not write!: the new line is part of nats-server's text.
            WeightType(w) => writeln!(f, "Unknown entry type for weight of {w}"),
            UnknownField(k) => {
                write!(
                    f,
                    "Unknown field {} for mapping destination",
                    gofmt::quote(k)
                )
            }
            MissingWeight(d) => write!(
                f,
                "Missing weight for mapping destination {}",
                gofmt::quote(d)
            ),
        }
    }
}

/// Go's name for the type a config value decodes to, for the type assertion messages.
fn go_type(v: &Value) -> &'static str {
    match v.kind {
        Kind::Map(_) => "map[string]interface {}",
        Kind::Array(_) => "[]interface {}",
        Kind::String(_) => "string",
        Kind::Integer(_) => "int64",
        Kind::Float(_) => "float64",
        Kind::Bool(_) => "bool",
    }
}

/// Parses the value of a `mappings` (or `maps`) key. Returns every mapping, in block order,
/// or every error found.
pub fn parse_mappings(value: &Value) -> Result<Vec<Mapping>, Vec<MappingsError>> {
    let Some(block) = value.as_map() else {
        return Err(vec![MappingsError {
            pos: value.pos.clone(),
            kind: MappingsErrorKind::WrongType {
                found: go_type(value),
                expected: "map[string]interface {}",
            },
        }]);
    };
    let mut mappings = Vec::with_capacity(block.len());
    let mut errors = Vec::new();
    for entry in block {
        let source = entry.key.as_str();
        let at = |kind| MappingsError {
            pos: entry.key_pos.clone(),
            kind,
        };
        if !is_valid_subject(source) {
            errors.push(at(MappingsErrorKind::InvalidSource(source.to_string())));
            continue;
        }
        let (dests, single) = match &entry.value.kind {
            Kind::String(d) => (vec![MapDest::new(d, 100)], Some(d.clone())),
            Kind::Array(items) => {
                let mut dests = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(d) = destination(item, &mut errors) {
                        dests.push(d);
                    }
                }
                (dests, None)
            }
            _ => match destination(&entry.value, &mut errors) {
                Some(d) => (vec![d], None),
                None => continue,
            },
        };
        match Mapping::weighted(source, &dests) {
            Ok(m) => mappings.push(m),
            Err(error) => errors.push(at(MappingsErrorKind::Adding {
                source: source.to_string(),
                destination: single,
                error,
            })),
        }
    }
    if errors.is_empty() {
        Ok(mappings)
    } else {
        Err(errors)
    }
}

/// One `{destination: "x", weight: 40%, cluster: "c"}`; `None` after pushing its error.
/// nats-server stops at the first bad field of a destination.
fn destination(item: &Value, errors: &mut Vec<MappingsError>) -> Option<MapDest> {
    let fail = |errors: &mut Vec<MappingsError>, pos: &Pos, kind| {
        errors.push(MappingsError {
            pos: pos.clone(),
            kind,
        });
        None
    };
    let Some(map) = item.as_map() else {
        return fail(errors, &item.pos, MappingsErrorKind::ExpectedEntry);
    };
    let mut dest = MapDest::new("", 0);
    let mut weight_given = false;
    for field in map {
        let value = &field.value;
        let pos = &field.key_pos;
        match field.key.to_ascii_lowercase().as_str() {
            "dest" | "destination" | "cluster" => {
                let Some(s) = value.as_str() else {
                    let kind = MappingsErrorKind::WrongType {
                        found: go_type(value),
                        expected: "string",
                    };
                    return fail(errors, pos, kind);
                };
                if field.key.eq_ignore_ascii_case("cluster") {
                    dest.cluster = Some(s.to_string());
                } else {
                    dest.subject = s.to_string();
                }
            }
            "weight" => {
                let weight = match &value.kind {
                    Kind::String(s) => {
                        let text = s.strip_suffix('%').unwrap_or(s);
                        match text.parse::<i64>() {
                            Ok(w) => w,
                            Err(_) => {
                                let kind = MappingsErrorKind::WeightText(text.to_string());
                                return fail(errors, pos, kind);
                            }
                        }
                    }
                    Kind::Integer(w) => *w,
                    _ => {
                        let kind = MappingsErrorKind::WeightType(go_value(value));
                        return fail(errors, pos, kind);
                    }
                };
                match u8::try_from(weight) {
                    Ok(w) if w <= 100 => dest.weight_percent = w,
                    _ => return fail(errors, pos, MappingsErrorKind::WeightRange(weight)),
                }
                weight_given = true;
            }
            _ => {
                let kind = MappingsErrorKind::UnknownField(field.key.clone());
                return fail(errors, pos, kind);
            }
        }
    }
    if !weight_given {
        return fail(
            errors,
            &item.pos,
            MappingsErrorKind::MissingWeight(dest.subject),
        );
    }
    Some(dest)
}

/// A scalar as Go's `%v` prints it (floats as `%g` with the shortest digits).
fn go_value(v: &Value) -> String {
    match &v.kind {
        Kind::Bool(b) => b.to_string(),
        Kind::Float(x) => go_float(*x),
        Kind::Integer(n) => n.to_string(),
        Kind::String(s) => s.clone(),
        Kind::Map(_) => "map[...]".to_string(),
        Kind::Array(_) => "[...]".to_string(),
    }
}

/// Go's `%v` of a float64: `%g` with the shortest digits, in exponent form when the decimal
/// exponent is below -4 or at least 6 (nats-server printed `1e+06`, `123456.5`, `1e-05`).
fn go_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        format!("{x}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::{parse_str, System};
    use crate::mapping::Mappings;

    fn block(text: &str) -> Value {
        let map = parse_str(text, "m.conf", &mut System).expect("parses");
        map.get("mappings").expect("a mappings key").clone()
    }

    fn errors(text: &str) -> Vec<String> {
        match parse_mappings(&block(text)) {
            Ok(_) => panic!("{text} should be refused"),
            Err(errors) => errors.iter().map(|e| e.kind.to_string()).collect(),
        }
    }

    fn mapped(text: &str, subject: &str, rnd: u32) -> Option<String> {
        let list = parse_mappings(&block(text)).expect("valid");
        let table = Mappings::new(&list, None);
        let mut out = Vec::new();
        table
            .map(subject.as_bytes(), rnd, &mut out)
            .then(|| String::from_utf8(out).expect("utf-8"))
    }

    #[test]
    fn strings_lists_and_single_maps_give_mappings() {
        let text = r#"mappings {
            "d.*.*": "d2.$2.$1"
            "wt": [{destination: "wt.a", weight: 30%}, {dest: "wt.b", weight: "20"}]
            "one.*": {Destination: "q.$1", WEIGHT: 100}
            "none": []
            "cl": [{destination: cl.c1, weight: 100, cluster: c1}, {destination: cl.o, weight: 100}]
        }"#;
        let list = parse_mappings(&block(text)).expect("valid");
        let sources: Vec<&str> = list.iter().map(|m| m.source()).collect();
        assert_eq!(sources, ["d.*.*", "wt", "one.*", "none", "cl"]);
        let weights: Vec<u8> = list[1]
            .destinations(None)
            .iter()
            .map(|d| d.weight_cumulative_percent)
            .collect();
        assert_eq!(weights, [20, 50, 100]);
        assert_eq!(mapped(text, "d.a.b", 0).as_deref(), Some("d2.b.a"));
        assert_eq!(mapped(text, "one.x", 0).as_deref(), Some("q.x"));
        // An empty list maps the source to itself (nats-server -t accepts it).
        assert_eq!(mapped(text, "none", 0).as_deref(), Some("none"));
        assert_eq!(mapped(text, "cl", 0).as_deref(), Some("cl.o"));
        assert_eq!(mapped(text, "other", 0), None);
    }

    #[test]
    fn errors_have_nats_servers_texts() {
        // Each as `nats-server -t` (2.15.1) printed it after the position.
        let cases: &[(&str, &str)] = &[
            (
                r#"mappings: "x""#,
                "interface conversion: interface {} is string, not map[string]interface {}",
            ),
            (
                r#"mappings { "foo..bar": "x" }"#,
                r#"Subject "foo..bar" is not a valid subject"#,
            ),
            (
                r#"mappings { "a b": "x" }"#,
                r#"Subject "a b" is not a valid subject"#,
            ),
            (
                r#"mappings { "a": "b.$1" }"#,
                r#"Error adding mapping for "a" to "b.$1" : invalid mapping destination: wildcard index out of range in $1"#,
            ),
            (
                r#"mappings { "a": ["b"] }"#,
                "Expected an entry for the mapping destination",
            ),
            (
                r#"mappings { "a": true }"#,
                "Expected an entry for the mapping destination",
            ),
            (
                r#"mappings { "a": [{destination: 5, weight: 10}] }"#,
                "interface conversion: interface {} is int64, not string",
            ),
            (
                r#"mappings { "a": [{destination: "b", weight: 10, cluster: 5}] }"#,
                "interface conversion: interface {} is int64, not string",
            ),
            (
                r#"mappings { "a": [{destination: b, weight: true}] }"#,
                "Unknown entry type for weight of true\n",
            ),
            (
                r#"mappings { "a": [{destination: b, weight: 1.5}] }"#,
                "Unknown entry type for weight of 1.5\n",
            ),
            (
                r#"mappings { "a": [{destination: b, weight: "30 %"}] }"#,
                r#"Invalid weight "30 " for mapping destination"#,
            ),
            (
                r#"mappings { "a": [{destination: b, weight: "abc"}] }"#,
                r#"Invalid weight "abc" for mapping destination"#,
            ),
            (
                r#"mappings { "a": [{destination: "a", weight: "-5%"}] }"#,
                "Invalid weight -5 for mapping destination",
            ),
            (
                r#"mappings { "a": [{destination: "a", weight: 101}] }"#,
                "Invalid weight 101 for mapping destination",
            ),
            (
                r#"mappings { "a": [{Destination: b, WEIGHT: 30%, extra: 1}] }"#,
                r#"Unknown field "extra" for mapping destination"#,
            ),
            (
                r#"mappings { "a": {} }"#,
                r#"Missing weight for mapping destination """#,
            ),
            (
                r#"mappings { "a": [{destination: "a"}] }"#,
                r#"Missing weight for mapping destination "a""#,
            ),
            (
                r#"mappings { "a": [{destination: "a", weight: 10}, {destination: "a", weight: 10}] }"#,
                r#"Error adding mapping for "a" : duplicate entry for "a""#,
            ),
            (
                r#"mappings { "a": [{destination: x, weight: 60%}, {destination: y, weight: 50%}] }"#,
                r#"Error adding mapping for "a" : total weight needs to be <= 100"#,
            ),
            (
                r#"mappings { "a": [{destination: x, weight: 60, cluster: c}, {destination: y, weight: 50, cluster: c}] }"#,
                r#"Error adding mapping for "a" : total weight needs to be <= 100"#,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(errors(text), [*want], "{text}");
        }
    }

    #[test]
    fn every_error_of_a_block_is_reported_at_its_key() {
        let text =
            "mappings {\n  \"ok\": \"fine\"\n  \"a.*\": \"b.$2\"\n  \"c\": [{weight: 5, x: 1}]\n}";
        let errs = parse_mappings(&block(text)).expect_err("two errors");
        let lines: Vec<(u32, String)> = errs.iter().map(|e| (e.pos.line, e.to_string())).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].0, 3);
        assert!(lines[0].1.starts_with("m.conf:3:"), "{lines:?}");
        assert!(lines[0].1.ends_with(r#"Error adding mapping for "a.*" to "b.$2" : invalid mapping destination: wildcard index out of range in $2: [2]"#), "{lines:?}");
        assert_eq!(lines[1].0, 4);
        assert!(lines[1]
            .1
            .ends_with(r#"Unknown field "x" for mapping destination"#));
    }

    #[test]
    fn go_formats_floats_as_percent_v() {
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(100.0), "100");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(123456.5), "123456.5");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(0.0001), "0.0001");
    }
}
