//! The subject rewrites of imports: `to: "from_a.>"`, `to: "rev.$2.$1"`, `prefix: "pfx"`.
//!
//! An import transform only moves wildcard tokens (nats-server allows no other mapping
//! function in an import, because the server must be able to map a subscription back), so it
//! is a list of literal and wildcard-reference tokens. `$N` and `{{wildcard(N)}}` name the
//! N-th wildcard of the source pattern; a plain `*` in the destination takes the next one in
//! order; `>` carries the rest of the subject.
//!
//! Invariant: [`ImportTransform::apply`] is called only on subjects its source pattern
//! matches; it then never fails.

use crate::subject;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Dst {
    Literal(Vec<u8>),
    /// The value of the source's wildcard number N (1-based).
    Wildcard(usize),
    /// Everything the source's `>` matched.
    Rest,
}

/// A compiled rewrite from subjects matching `pattern` to the destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportTransform {
    /// The source pattern, with `$N` references turned into `*`.
    pub pattern: Vec<u8>,
    /// For each `*` of `pattern` in order, the wildcard number it fills.
    src_numbers: Vec<usize>,
    dst: Vec<Dst>,
}

/// Why a transform cannot be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransformError {
    /// The destination uses a function other than a wildcard reference.
    NotAWildcardFunction,
    /// A reference to a wildcard the source does not have, or a `>` only on one side.
    WildcardMismatch,
    /// The prefix of a stream import contains a wildcard.
    PrefixWildcard,
}

impl ImportTransform {
    /// Subjects matching `pattern` pass unchanged.
    pub fn identity(pattern: &str) -> ImportTransform {
        let mut n = 0;
        let dst = subject::tokens(pattern.as_bytes())
            .map(|t| match t {
                subject::PWC => {
                    n += 1;
                    Dst::Wildcard(n)
                }
                subject::FWC => Dst::Rest,
                lit => Dst::Literal(lit.to_vec()),
            })
            .collect();
        ImportTransform {
            pattern: pattern.as_bytes().to_vec(),
            src_numbers: (1..=n).collect(),
            dst,
        }
    }

    /// From the subjects matching `src` (whose `*` are numbered in order) to `dst` (which
    /// names them with `$N`, `{{wildcard(N)}}` or, in order, `*`).
    pub fn forward(src: &str, dst: &str) -> Result<ImportTransform, TransformError> {
        let wildcards = subject::tokens(src.as_bytes())
            .filter(|t| *t == subject::PWC)
            .count();
        let src_has_rest = subject::tokens(src.as_bytes()).any(|t| t == subject::FWC);
        let dst = parse_destination(dst, wildcards, src_has_rest)?;
        Ok(ImportTransform {
            pattern: src.as_bytes().to_vec(),
            src_numbers: (1..=wildcards).collect(),
            dst,
        })
    }

    /// The reverse form of a service import: the importer publishes on `local` (whose `$N`
    /// tokens say which wildcard of `subject` they fill), the exporter gets `subject`.
    pub fn service(local: &str, subject_pattern: &str) -> Result<ImportTransform, TransformError> {
        let mut pattern = Vec::new();
        let mut src_numbers = Vec::new();
        let mut next = 0;
        for (i, t) in subject::tokens(local.as_bytes()).enumerate() {
            if i > 0 {
                pattern.push(b'.');
            }
            match wildcard_reference(t)? {
                Some(n) => {
                    pattern.push(b'*');
                    src_numbers.push(n);
                }
                None if t == subject::PWC => {
                    next += 1;
                    pattern.push(b'*');
                    src_numbers.push(next);
                }
                None => pattern.extend_from_slice(t),
            }
        }
        let local_has_rest = subject::tokens(&pattern).any(|t| t == subject::FWC);
        let mut n = 0;
        let mut dst = Vec::new();
        for t in subject::tokens(subject_pattern.as_bytes()) {
            dst.push(match t {
                subject::PWC => {
                    n += 1;
                    Dst::Wildcard(n)
                }
                subject::FWC if local_has_rest => Dst::Rest,
                subject::FWC => return Err(TransformError::WildcardMismatch),
                lit => Dst::Literal(lit.to_vec()),
            });
        }
        let subject_has_rest = dst.contains(&Dst::Rest);
        // Every wildcard of the exported subject must be filled from the local subject, and
        // the local subject may not carry a wildcard the exporter would drop.
        let mut filled: Vec<usize> = src_numbers.clone();
        filled.sort_unstable();
        filled.dedup();
        if filled != (1..=n).collect::<Vec<_>>() || local_has_rest != subject_has_rest {
            // A literal `to` for a literal subject (`onex` for `one.x`) is fine: n == 0.
            if !(n == 0 && src_numbers.is_empty() && !local_has_rest) {
                return Err(TransformError::WildcardMismatch);
            }
        }
        Ok(ImportTransform {
            pattern,
            src_numbers,
            dst,
        })
    }

    /// Stream import with `prefix`: `prefix.` + the exported subject.
    pub fn prefixed(src: &str, prefix: &str) -> Result<ImportTransform, TransformError> {
        if !subject::is_literal(prefix.as_bytes()) {
            return Err(TransformError::PrefixWildcard);
        }
        let mut t = ImportTransform::identity(src);
        t.dst.insert(0, Dst::Literal(prefix.as_bytes().to_vec()));
        Ok(t)
    }

    /// Whether the destination is the source unchanged.
    pub fn is_identity(&self) -> bool {
        *self == ImportTransform::identity(&String::from_utf8_lossy(&self.pattern))
    }

    /// The destination pattern a subscription would use (wildcards as `*` and `>`).
    pub fn destination_pattern(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, d) in self.dst.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            match d {
                Dst::Literal(l) => out.extend_from_slice(l),
                Dst::Wildcard(_) => out.push(b'*'),
                Dst::Rest => out.push(b'>'),
            }
        }
        out
    }

    /// Rewrites `subj` (which matches `pattern`) into `out`.
    pub fn apply(&self, subj: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let mut values: smallvec::SmallVec<[&[u8]; 4]> = smallvec::SmallVec::new();
        let mut rest: &[u8] = &[];
        let mut remaining = subj;
        let mut wildcard_index = 0;
        for p in subject::tokens(&self.pattern) {
            if p == subject::FWC {
                rest = remaining;
                break;
            }
            let (tok, tail) = subject::split_first(remaining);
            if p == subject::PWC {
                let n = self.src_numbers.get(wildcard_index).copied().unwrap_or(0);
                wildcard_index += 1;
                if values.len() < n {
                    values.resize(n, &[]);
                }
                if n > 0 {
                    values[n - 1] = tok;
                }
            }
            remaining = tail.unwrap_or(&[]);
        }
        for (i, d) in self.dst.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            match d {
                Dst::Literal(l) => out.extend_from_slice(l),
                Dst::Wildcard(n) => {
                    out.extend_from_slice(values.get(n - 1).copied().unwrap_or(b""))
                }
                Dst::Rest => out.extend_from_slice(rest),
            }
        }
    }
}

/// `$N` or `{{wildcard(N)}}` (any case, spaces allowed inside the braces): Some(N).
fn wildcard_reference(t: &[u8]) -> Result<Option<usize>, TransformError> {
    if let Some(n) = t.strip_prefix(b"$") {
        if !n.is_empty() && n.iter().all(u8::is_ascii_digit) {
            return Ok(std::str::from_utf8(n).ok().and_then(|s| s.parse().ok()));
        }
        return Ok(None);
    }
    let s = String::from_utf8_lossy(t);
    let Some(inner) = s.strip_prefix("{{").and_then(|s| s.strip_suffix("}}")) else {
        return Ok(None);
    };
    let inner: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
    let lower = inner.to_ascii_lowercase();
    let Some(arg) = lower
        .strip_prefix("wildcard(")
        .and_then(|s| s.strip_suffix(')'))
    else {
        return Err(TransformError::NotAWildcardFunction);
    };
    arg.parse()
        .map(Some)
        .map_err(|_| TransformError::WildcardMismatch)
}

fn parse_destination(
    dst: &str,
    wildcards: usize,
    src_has_rest: bool,
) -> Result<Vec<Dst>, TransformError> {
    let mut next = 0;
    let mut out = Vec::new();
    for t in subject::tokens(dst.as_bytes()) {
        out.push(match wildcard_reference(t)? {
            Some(n) if n >= 1 && n <= wildcards => Dst::Wildcard(n),
            Some(_) => return Err(TransformError::WildcardMismatch),
            None if t == subject::PWC => {
                next += 1;
                if next > wildcards {
                    return Err(TransformError::WildcardMismatch);
                }
                Dst::Wildcard(next)
            }
            None if t == subject::FWC => {
                if !src_has_rest {
                    return Err(TransformError::WildcardMismatch);
                }
                Dst::Rest
            }
            None => Dst::Literal(t.to_vec()),
        });
    }
    if src_has_rest && !out.contains(&Dst::Rest) {
        return Err(TransformError::WildcardMismatch);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &ImportTransform, s: &str) -> String {
        let mut out = Vec::new();
        t.apply(s.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn stream_to_rewrites_the_prefix_and_keeps_the_rest() {
        let t = ImportTransform::forward("a.>", "from_a.>").unwrap();
        assert_eq!(run(&t, "a.x.y"), "from_a.x.y");
        assert_eq!(t.destination_pattern(), b"from_a.>");
    }

    #[test]
    fn stream_to_reorders_wildcards() {
        let t = ImportTransform::forward("rs.*.*", "rev.$2.$1").unwrap();
        assert_eq!(run(&t, "rs.x.y"), "rev.y.x");
        let t =
            ImportTransform::forward("rs.*.*", "rev.{{wildcard(2)}}.{{ Wildcard(1) }}").unwrap();
        assert_eq!(run(&t, "rs.x.y"), "rev.y.x");
    }

    #[test]
    fn prefix_prepends_and_refuses_wildcards() {
        let t = ImportTransform::prefixed("priv.>", "pfx").unwrap();
        assert_eq!(run(&t, "priv.z"), "pfx.priv.z");
        assert_eq!(
            ImportTransform::prefixed("priv.>", "p.*"),
            Err(TransformError::PrefixWildcard)
        );
    }

    #[test]
    fn service_to_maps_local_tokens_into_the_exported_subject() {
        let t = ImportTransform::service("local.$2.$1", "ws.*.*").unwrap();
        assert_eq!(t.pattern, b"local.*.*");
        assert_eq!(run(&t, "local.p.q"), "ws.q.p");
        let t = ImportTransform::service("onex", "one.x").unwrap();
        assert_eq!(run(&t, "onex"), "one.x");
        let t = ImportTransform::service("svc.>", "svc.>").unwrap();
        assert_eq!(run(&t, "svc.echo"), "svc.echo");
    }

    #[test]
    fn functions_other_than_wildcard_are_refused() {
        assert_eq!(
            ImportTransform::forward("x.*", "y.{{partition(3,1)}}"),
            Err(TransformError::NotAWildcardFunction)
        );
        assert_eq!(
            ImportTransform::forward("x.*", "y.$2"),
            Err(TransformError::WildcardMismatch)
        );
        assert_eq!(
            ImportTransform::service("a.x", "b.*"),
            Err(TransformError::WildcardMismatch)
        );
    }

    #[test]
    fn identity_is_recognised() {
        assert!(ImportTransform::identity("a.*.>").is_identity());
        assert!(!ImportTransform::forward("a.>", "b.>")
            .unwrap()
            .is_identity());
    }
}
