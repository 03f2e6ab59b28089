//! Randomized inputs, bounded in count: parsing returns a value or an error, never panics.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

/// Characters that matter to the syntax, plus some that do not, for random inputs.
const ALPHABET: &[&str] = &[
    "{", "}", "[", "]", "(", ")", ":", "=", ",", ";", "#", "//", "/", "\"", "'", "\\", "\\x", "$",
    "$a", "$E", "$2a$", " ", "\t", "\n", "\r", "\n)\n", "a", "b", "include ", "k", "1", "0", "-",
    ".", "2024-", "e", "MB", "true", "é", "\u{feff}", "\u{a0}", "x", "4",
];

fn fuzz_env() -> TestEnv {
    TestEnv::with_vars(&[("E", "[1, $E2]"), ("E2", "$E"), ("F", "{")])
        .file("a", "a: $a\ninclude b\n")
        .file("b", "include a\n")
        .file("x", "x: [1, {y: 2}]\n")
}

fn check_no_panic(text: &str, env: &mut TestEnv) {
    if let Err(error) = parse_str(text, "fuzz.conf", env) {
        // The position is inside the text (or one past its end).
        let lines = text.split('\n').count() as u32;
        if *error.pos.file == *Path::new("fuzz.conf") {
            assert!(
                error.pos.line >= 1 && error.pos.line <= lines,
                "{text:?}: {error}"
            );
        }
        let _ = error.to_string();
    }
}

#[test]
fn random_input_never_panics() {
    let mut rng = StdRng::seed_from_u64(0x5eed_c0f1);
    let env = &mut fuzz_env();
    for _ in 0..20_000 {
        let len = rng.gen_range(0..40);
        let text: String = (0..len)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
            .collect();
        check_no_panic(&text, env);
    }
}

#[test]
fn every_prefix_and_random_mutation_of_fixtures_never_panics() {
    let mut rng = StdRng::seed_from_u64(0xf1c5_7ea5);
    let env = &mut fuzz_env();
    for name in ["full.conf", "syntax.conf", "json.conf", "variables.conf"] {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        for (i, _) in text.char_indices() {
            check_no_panic(&text[..i], env);
        }
        for _ in 0..300 {
            let mut bytes = text.clone().into_bytes();
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..bytes.len());
                let piece = ALPHABET[rng.gen_range(0..ALPHABET.len())].as_bytes();
                match rng.gen_range(0..3) {
                    0 => {
                        bytes.remove(at);
                    }
                    1 => bytes.splice(at..at, piece.iter().copied()).for_each(drop),
                    _ => bytes[at] = piece[0],
                }
            }
            check_no_panic(&String::from_utf8_lossy(&bytes), env);
        }
    }
}
