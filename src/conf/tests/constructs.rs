//! Single constructs, and the places where natrix and nats-server part ways on purpose.

use super::*;

#[test]
fn unquoted_2m_is_an_integer_but_10s_is_a_string() {
    // nats-server's lexer reads `m` as a size suffix (conf/lex.go isNumberSuffix), so an
    // unquoted 2m is 2000000, which a duration setting reads as seconds.
    let map = parse_ok("a: 2m\nb: 10s\nc: \"2m\"\nd: 500ms\ne: 1h30m\n");
    assert_eq!(at(&map, "a").as_i64(), Some(2_000_000));
    assert_eq!(
        at(&map, "a").to_duration(),
        Ok(Duration::from_secs(2_000_000))
    );
    assert_eq!(at(&map, "b").as_str(), Some("10s"));
    assert_eq!(at(&map, "c").to_duration(), Ok(Duration::from_secs(120)));
    assert_eq!(at(&map, "d").to_duration(), Ok(Duration::from_millis(500)));
    assert_eq!(at(&map, "e").to_duration(), Ok(Duration::from_secs(5400)));
}

#[test]
fn top_level_braces_and_a_trailing_stray_brace_are_accepted() {
    for text in [
        "{}",
        "{ listen: 0.0.0.0:4222 }",
        "{\n  {\n    listen: 0.0.0.0:4222 // c\n  }\n  # c\n}\n# c\n",
        "listen: 0.0.0.0:4222\n}\n",
        "listen: 0.0.0.0:4222 }",
        "accounts { users = [{}]}\n}\n",
    ] {
        let map = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(map.len() <= 1, "{text:?}");
    }
    let error = parse_err("{ a: 1\n");
    assert_eq!(
        error.kind,
        ErrorKind::Unexpected {
            expected: Expected::Closing('}'),
            found: Found::EndOfFile
        }
    );
}

#[test]
fn key_may_be_followed_by_a_map_or_array_without_space() {
    let map = parse_ok("authorization{ user: a }\nroutes[a, b]\n");
    assert_eq!(
        to_json(&map),
        json!({"authorization": {"user": "a"}, "routes": ["a", "b"]})
    );
}

#[test]
fn numbers_before_a_closing_bracket_are_numbers() {
    // nats-server lexes `[1]` as the string "1]"; here it is the array it looks like.
    let map = parse_ok("a: [1]\nb: [1k]\nc: {x: 2}\n");
    assert_eq!(to_json(&map), json!({"a": [1], "b": [1000], "c": {"x": 2}}));
}

#[test]
fn crlf_line_ends_work() {
    let map = parse_ok("a: 1\r\nb {\r\n  c: [x\r\n y]\r\n}\r\nd: (\r\nblock\r\n)\r\n");
    assert_eq!(
        to_json(&map),
        json!({"a": 1, "b": {"c": ["x", "y"]}, "d": "\r\nblock"})
    );
    assert_eq!(line_col(&map.entry("d").unwrap().key_pos), (6, 1));
}

#[test]
fn include_keyword_needs_whitespace_and_paths_are_relative() {
    let env = &mut TestEnv::default()
        .file(
            "conf/main.conf",
            "include sub/a.conf\ninclude: literal\nINCLUDE 'sub/b.conf'\n",
        )
        .file("conf/sub/a.conf", "a: 1\ninclude ../c.conf # back up\n")
        .file("conf/sub/b.conf", "b: 2\n")
        .file("conf/c.conf", "c: 3\n");
    let map = parse_file_with("conf/main.conf", env).unwrap();
    assert_eq!(
        to_json(&map),
        json!({"a": 1, "c": 3, "include": "literal", "b": 2})
    );

    // Like Go's filepath.Join, a leading '/' does not make an include absolute.
    let env = &mut TestEnv::default()
        .file("conf/main.conf", "include /etc/x.conf\n")
        .file("conf/etc/x.conf", "x: 1\n");
    let map = parse_file_with("conf/main.conf", env).unwrap();
    assert_eq!(to_json(&map), json!({"x": 1}));

    let error = parse_err("include\n");
    assert_eq!(
        error.kind,
        ErrorKind::Unexpected {
            expected: Expected::IncludePath,
            found: Found::NewLine
        }
    );
}

#[test]
fn included_files_do_not_see_the_includers_variables() {
    let env = &mut TestEnv::default()
        .file("main.conf", "PASS: x\ninclude users.conf\n")
        .file("users.conf", "user: { password: $PASS }\n");
    let error = parse_file_with("main.conf", env).unwrap_err();
    assert_eq!(error.kind, ErrorKind::UndefinedVariable("PASS".into()));
    assert_eq!(&*error.pos.file, Path::new("users.conf"));
    assert_eq!(line_col(&error.pos), (1, 19));
}

#[test]
fn environment_values_are_parsed_as_config_values() {
    let mut env = TestEnv::with_vars(&[
        ("INT", "22"),
        ("SIZE", "1MB"),
        ("EMPTY", ""),
        ("BOOL", "on"),
        ("MAP", "{a: 1}"),
        ("CHAIN", "$INT"),
        ("SELF", "$SELF"),
        ("LOOP_A", "$LOOP_B"),
        ("LOOP_B", "$LOOP_A"),
        ("SPACED", "two words"),
        ("BAD", "\"unclosed"),
    ]);
    let map = parse_str(
        "i: $INT\ns: $SIZE\ne: $EMPTY\nb: $BOOL\nm: $MAP\nc: $CHAIN\n",
        "t.conf",
        &mut env,
    )
    .unwrap();
    assert_eq!(
        to_json(&map),
        json!({"i": 22, "s": 1_048_576, "e": "", "b": true, "m": {"a": 1}, "c": 22})
    );
    for (text, name) in [("x: $SELF", "SELF"), ("x: $LOOP_A", "LOOP_A")] {
        let error = parse_str(text, "t.conf", &mut env).unwrap_err();
        assert_eq!(line_col(&error.pos), (1, 4), "{error}");
        match &error.kind {
            ErrorKind::EnvVariable { name: n, reason } => {
                assert_eq!(n, name);
                assert!(matches!(
                    **reason,
                    ErrorKind::VariableCycle(_) | ErrorKind::EnvVariable { .. }
                ));
            }
            other => panic!("{other:?}"),
        }
    }
    for text in ["x: $SPACED", "x: $BAD"] {
        let error = parse_str(text, "t.conf", &mut env).unwrap_err();
        assert!(
            matches!(error.kind, ErrorKind::EnvVariable { .. }),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .starts_with("t.conf:1:4: variable reference for '"),
            "{error}"
        );
    }
}

#[test]
fn a_variable_defined_later_is_not_visible() {
    let error = parse_err("a: $b\nb: 1\n");
    assert_eq!(error.kind, ErrorKind::UndefinedVariable("b".into()));
    assert_eq!(
        error.to_string(),
        "test.conf:1:4: variable reference for 'b' can not be found"
    );
}

#[test]
fn escapes_in_strings() {
    let map = parse_ok(
        r#"a: "\x41\x62\t\n\r\"\\"
b: 'no \x41 escapes'
c: "\xe2\x9c\x93"
"#,
    );
    assert_eq!(at(&map, "a").as_str(), Some("Ab\t\n\r\"\\"));
    assert_eq!(at(&map, "b").as_str(), Some("no \\x41 escapes"));
    assert_eq!(at(&map, "c").as_str(), Some("✓"));
    assert_eq!(parse_err(r#"a: "\xff""#).kind, ErrorKind::InvalidUtf8);
    let error = parse_err("a: \"\\x4g\"");
    assert_eq!(
        error.kind,
        ErrorKind::Unexpected {
            expected: Expected::HexDigits,
            found: Found::Char('g')
        }
    );
    assert_eq!(line_col(&error.pos), (1, 8));
    let error = parse_err("a: \"abc\\");
    assert_eq!(
        error.kind,
        ErrorKind::Unexpected {
            expected: Expected::EscapeChar,
            found: Found::EndOfFile
        }
    );
}

#[test]
fn values_refused_where_nats_server_refuses_them() {
    use ErrorKind as K;
    let cases: &[(&str, ErrorKind, (u32, u32))] = &[
        ("a: .5", K::InvalidNumber(".5".into()), (1, 4)),
        ("a: -", K::InvalidNumber("-".into()), (1, 4)),
        ("a: -1.5h", K::InvalidNumber("-1.5h".into()), (1, 4)),
        ("a: 12-3", K::InvalidDate("12-3".into()), (1, 4)),
        (
            "a: [1,,2]",
            K::Unexpected {
                expected: Expected::Value,
                found: Found::Char(','),
            },
            (1, 7),
        ),
        (
            "a: [,]",
            K::Unexpected {
                expected: Expected::Value,
                found: Found::Char(','),
            },
            (1, 5),
        ),
        (
            "a: {b: 1,, c: 2}",
            K::Unexpected {
                expected: Expected::Key,
                found: Found::Char(','),
            },
            (1, 10),
        ),
        (
            "a: {: 1}",
            K::Unexpected {
                expected: Expected::Key,
                found: Found::Char(':'),
            },
            (1, 5),
        ),
        (
            "a: {b: 1]",
            K::Unexpected {
                expected: Expected::MapValueEnd,
                found: Found::Char(']'),
            },
            (1, 9),
        ),
        (
            "a: [1; 2]",
            K::Unexpected {
                expected: Expected::ArrayValueEnd,
                found: Found::Char(';'),
            },
            (1, 6),
        ),
        (
            "a:",
            K::Unexpected {
                expected: Expected::Value,
                found: Found::EndOfFile,
            },
            (1, 3),
        ),
        (
            "a: }",
            K::Unexpected {
                expected: Expected::Value,
                found: Found::Char('}'),
            },
            (1, 4),
        ),
        (
            "[1]",
            K::Unexpected {
                expected: Expected::Key,
                found: Found::Char('['),
            },
            (1, 1),
        ),
        (
            "a: 'x",
            K::Unexpected {
                expected: Expected::Closing('\''),
                found: Found::EndOfFile,
            },
            (1, 6),
        ),
        (
            "\"a: 1",
            K::Unexpected {
                expected: Expected::Closing('"'),
                found: Found::EndOfFile,
            },
            (1, 6),
        ),
        (
            "é: 1 2",
            K::Unexpected {
                expected: Expected::TopValueEnd,
                found: Found::Char('2'),
            },
            (1, 6),
        ),
    ];
    for (text, kind, position) in cases {
        let error = parse(text).expect_err(text);
        assert_eq!(&error.kind, kind, "{text:?}");
        assert_eq!(line_col(&error.pos), *position, "{text:?}");
    }
    let huge = format!("1{}.0", "0".repeat(400));
    let error = parse_err(&format!("a: {huge}"));
    assert_eq!(error.kind, K::FloatOutOfRange(huge));
    // Like nats-server, a float is digits, a dot and digits: no exponent.
    assert_eq!(at(&parse_ok("a: 1.0e4"), "a").as_str(), Some("1.0e4"));
}

#[test]
fn error_display_reads_like_nats_server() {
    let error = parse_err("port: 4222\nfoo bar baz\n");
    assert_eq!(
        error.to_string(),
        "test.conf:2:9: expected a top-level value to end with a new line, comment or EOF, \
         but got 'b' instead"
    );
    let error = parse_err("a: \"x\\q\"");
    assert_eq!(
        error.to_string(),
        "test.conf:1:6: invalid escape character 'q'; only \\xXX, \\t, \\n, \\r, \\\" and \\\\ \
         are allowed"
    );
    let error = parse_err("a: 99999999999999999999");
    assert_eq!(
        error.to_string(),
        "test.conf:1:4: integer '99999999999999999999' is out of the range"
    );
}

#[test]
fn nesting_is_bounded() {
    let deep_ok = format!("a: {}{}", "[".repeat(NESTING_MAX), "]".repeat(NESTING_MAX));
    assert!(parse(&deep_ok).is_ok());
    let too_deep = format!(
        "a: {}{}",
        "[".repeat(NESTING_MAX + 1),
        "]".repeat(NESTING_MAX + 1)
    );
    assert_eq!(parse_err(&too_deep).kind, ErrorKind::TooDeep);
    let maps = format!("a: {}", "{b: ".repeat(10_000));
    assert_eq!(parse_err(&maps).kind, ErrorKind::TooDeep);
}

#[test]
fn copies_made_by_variables_are_bounded() {
    let mut text = String::from("v0: [1, 2, 3, 4]\n");
    for i in 1..40 {
        text.push_str(&format!("v{i}: [$v{0}, $v{0}]\n", i - 1));
    }
    let error = parse_err(&text);
    assert_eq!(error.kind, ErrorKind::TooLarge);
    // Through the environment too.
    let mut env = TestEnv::with_vars(&[("A", "[$B, $B, $B, $B]"), ("B", "[$C, $C, $C, $C]")]);
    env.vars
        .insert("C".into(), format!("[{}]", vec!["1"; 2000].join(",")));
    let text = vec!["x: $A"; 100].join("\n");
    let error = parse_str(&text, "t.conf", &mut env).unwrap_err();
    assert_eq!(error.kind, ErrorKind::TooLarge, "{error}");
}
