//! The files under `tests/configs/`: what they parse to, where each value is, and where
//! each malformed file's error is.

use super::*;

#[test]
fn full_server_config_parses_every_setting() {
    let mut env = TestEnv::with_vars(&[("NATRIX_ADMIN_PASS", "s3cr3t")]);
    let map = parse_fixture("full.conf", &mut env);
    assert_eq!(at(&map, "server_name").as_str(), Some("natrix-east-1"));
    assert_eq!(at(&map, "listen").as_str(), Some("0.0.0.0:4222"));
    assert_eq!(at(&map, "http_port").as_i64(), Some(8222));
    assert_eq!(at(&map, "max_payload").to_bytes(), Ok(1024 * 1024));
    assert_eq!(at(&map, "max_pending").to_bytes(), Ok(64 * 1024 * 1024));
    assert_eq!(at(&map, "max_control_line").as_i64(), Some(4096));
    assert_eq!(at(&map, "max_connections").as_i64(), Some(64_000));
    assert_eq!(
        at(&map, "ping_interval").to_duration(),
        Ok(Duration::from_secs(120))
    );
    assert_eq!(at(&map, "ping_max").as_i64(), Some(2));
    assert_eq!(
        at(&map, "write_deadline").to_duration(),
        Ok(Duration::from_secs(10))
    );
    assert_eq!(
        at(&map, "lame_duck_duration").to_duration(),
        Ok(Duration::from_secs(120))
    );
    assert_eq!(
        at(&map, "lame_duck_grace_period").to_duration(),
        Ok(Duration::from_secs(10))
    );
    assert_eq!(at(&map, "debug").as_bool(), Some(false));
    assert_eq!(at(&map, "trace").as_bool(), Some(false));
    assert_eq!(at(&map, "logtime").as_bool(), Some(true));
    assert_eq!(
        at(&map, "log_file").as_str(),
        Some("/var/log/natrix/natrix.log")
    );
    assert_eq!(at(&map, "pid_file").as_str(), Some("/var/run/natrix.pid"));

    let auth = at(&map, "authorization");
    assert_eq!(at(&map, "authorization.timeout").as_f64(), Some(2.5));
    assert_eq!(
        value_json(at(&map, "authorization.users")),
        json!([
            {"user": "admin", "password": "s3cr3t"},
            {
                "user": "service",
                "password": "s3rv1ce!",
                "permissions": {
                    "publish": {"allow": ["svc.>", "_INBOX.>"], "deny": ["svc.admin.>"]},
                    "subscribe": {"allow": "svc.requests.*", "deny": []},
                    "allow_responses": {"max": 1, "expires": "1m"},
                },
            },
            {
                "user": "monitor",
                "password": "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG",
                "permissions": {
                    "publish": [],
                    "subscribe": ["$SYS.>", "q.> workers"],
                    "allow_responses": true,
                },
            },
        ])
    );
    // Keys from the include (and its own include) land in the block that includes them.
    let auth_keys: Vec<&str> = auth
        .as_map()
        .unwrap()
        .iter()
        .map(|e| e.key.as_str())
        .collect();
    assert_eq!(
        auth_keys,
        ["timeout", "SERVICE_PASS", "MONITOR_PASS", "users"]
    );

    assert_eq!(
        value_json(at(&map, "tls")),
        json!({
            "cert_file": "./certs/server.pem",
            "key_file": "./certs/server-key.pem",
            "ca_file": "./certs/ca.pem",
            "verify": true,
            "timeout": 2,
        })
    );
}

#[test]
fn full_server_config_positions_name_file_line_and_column() {
    let mut env = TestEnv::with_vars(&[("NATRIX_ADMIN_PASS", "s3cr3t")]);
    let map = parse_fixture("full.conf", &mut env);
    let entry = map.entry("max_payload").unwrap();
    assert!(entry.key_pos.file.ends_with("tests/configs/full.conf"));
    assert_eq!(line_col(&entry.key_pos), (9, 1));
    assert_eq!(line_col(&entry.value.pos), (9, 14));
    assert_eq!(
        line_col(&at(&map, "authorization.users.1.permissions.publish.deny").pos),
        (46, 17)
    );

    // A value from an included file is positioned in that file.
    let auth = at(&map, "authorization").as_map().unwrap();
    let service = auth.entry("SERVICE_PASS").unwrap();
    assert!(service
        .key_pos
        .file
        .ends_with("configs/includes/users.conf"));
    assert_eq!(line_col(&service.key_pos), (2, 1));
    let monitor = auth.entry("MONITOR_PASS").unwrap();
    assert!(monitor
        .key_pos
        .file
        .ends_with("configs/includes/nested/monitor.conf"));

    // A value taken from a variable is positioned at the reference.
    let password = at(&map, "authorization.users.1.password");
    assert!(password.pos.file.ends_with("tests/configs/full.conf"));
    assert_eq!(line_col(&password.pos), (42, 17));
    assert_eq!(
        format!("{}", password.pos),
        format!("{}:42:17", fixture("full.conf").display())
    );
}

#[test]
fn keys_used_as_variables_are_marked() {
    let mut env = TestEnv::with_vars(&[("NATRIX_ADMIN_PASS", "s3cr3t")]);
    let map = parse_fixture("full.conf", &mut env);
    let used = |m: &Map, key: &str| m.entry(key).unwrap().used_as_variable;
    assert!(used(&map, "ADMIN_PASS"));
    assert!(used(&map, "RESPONSES"));
    assert!(!used(&map, "server_name"));
    let auth = at(&map, "authorization").as_map().unwrap();
    assert!(used(auth, "SERVICE_PASS"));
    assert!(used(auth, "MONITOR_PASS"));
    assert!(!used(auth, "users"));
}

#[test]
fn syntax_fixture_covers_every_lexical_form() {
    let map = parse_fixture("syntax.conf", &mut TestEnv::default());
    let groups = [
        json!({
            "colon": 1, "equals": 2, "space": 3, "no_space_colon": 4, "key_then_newline": 5,
            "quoted key": 6, "single quoted key": 7,
            "semicolons": 8, "after_semicolon": 9, "commas": 10, "after_comma": 11,
            "hash": "a", "slashes": "b", "hash_inside": "c#d",
            "url": "nats://user:pass@host:4222",
        }),
        json!({
            "double": "tab\there \"quoted\" back\\slash Aé",
            "single": "raw \\t $NOT_A_VAR \"as is\"",
            "multi_line": "line one\nline two",
            "unquoted_escape": "a\tb",
            "block": "\nfirst line\n  second line",
            "empty": "",
            "bools": [true, true, true, true, true, true,
                      false, false, false, false, false, false, "true"],
        }),
        json!({
            "int": 42, "negative": -17, "float": 3.25, "negative_float": -0.5, "zero": 0,
            "sizes": [
                1000, 1000, 1024, 1024, 1024, 1024, 1024, 1024,
                2_000_000, 2_097_152, 2_097_152, 2_097_152,
                3_000_000_000_i64, 3_221_225_472_i64,
                1_000_000_000_000_i64, 1_099_511_627_776_i64,
                1_000_000_000_000_000_i64, 1_125_899_906_842_624_i64,
                1_000_000_000_000_000_000_i64, 1_152_921_504_606_846_976_i64,
                -1000,
            ],
        }),
        json!({
            "duration_unquoted": "10s", "duration_compound": "1h30m",
            "duration_fraction": "1.5h",
            "ip": "127.0.0.1", "host_port": "192.168.1.10:6222", "starts_with_digit": "3xyz",
            "date": "2024-01-02T03:04:05Z",
        }),
        json!({
            "commas_array": ["a", "b", "c"],
            "newlines_array": ["a", "b", "c"],
            "mixed_array": [1, "two", 3.0, {"four": 4}, ["five"], true],
            "empty_array": [], "empty_map": {},
            "nested": {"level1": {"level2": {"deep": [{"deeper": true}]}}},
            "map_no_separator": {"inner": 1},
            "duplicate": "second",
            "unicode_ключ": "значение ✓",
        }),
    ];
    let mut expected = serde_json::Map::new();
    for group in groups {
        if let serde_json::Value::Object(entries) = group {
            expected.extend(entries);
        }
    }
    let expected = serde_json::Value::Object(expected);
    assert_eq!(to_json(&map), expected);
    // Keys keep the order of their first definition.
    let keys: Vec<&str> = map.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(&keys[..3], ["colon", "equals", "space"]);
    assert_eq!(keys.last(), Some(&"unicode_ключ"));
    let duplicate = map.entry("duplicate").unwrap();
    assert_eq!(
        duplicate.key_pos.line, 69,
        "a redefinition replaces the entry"
    );
}

#[test]
fn json_style_config_matches_native_syntax() {
    let map = parse_fixture("json.conf", &mut TestEnv::default());
    let native = parse_ok(
        "server_name: json-style\nport: 4222\ndebug: false\nwrite_deadline: \"1h\"\n\
         cluster { port: 6222, routes: [nats://127.0.0.1:6223, nats://127.0.0.1:6224] }\n\
         authorization { users: [{user: a, password: b}] }\n",
    );
    assert_eq!(to_json(&map), to_json(&native));
}

#[test]
fn variables_are_block_scoped_then_environment() {
    let mut env = TestEnv::with_vars(&[
        ("NATRIX_TEST_PORT", "4222"),
        ("NATRIX_TEST_NAME", "env-name"),
        ("NATRIX_TEST_QUOTED", "'3xyz'"),
        ("NATRIX_TEST_LIST", "[1, 2, 3]"),
    ]);
    let map = parse_fixture("variables.conf", &mut env);
    let expected = json!({
        "index": 22,
        "nest": {"index": 11, "foo": 11, "sibling": {"bar": 11}},
        "bar": 22,
        "in_array": [22, {"x": 22}],
        "level": 2, "first": 1, "second": 2,
        "PERMS": {"publish": ["a.>"]},
        "user": {"permissions": {"publish": ["a.>"]}},
        "env_port": 4222,
        "env_string": "env-name",
        "env_quoted": "3xyz",
        "env_array": [1, 2, 3],
        "NATRIX_TEST_NAME": "from the file",
        "shadowed": "from the file",
        "hash": "$2a$11$ooo",
        "literal": "$index",
    });
    assert_eq!(to_json(&map), expected);
    // Values from the environment sit at the reference, nested ones included.
    let env_array = at(&map, "env_array");
    assert_eq!(line_col(&env_array.pos), (26, 13));
    assert_eq!(line_col(&at(&map, "env_array.2").pos), (26, 13));
}

/// Each malformed fixture, with where its error must be and what it must say.
#[test]
fn malformed_fixtures_name_line_and_column() {
    use ErrorKind as K;
    let unexpected = |expected, found| K::Unexpected { expected, found };
    let cases: Vec<(&str, (u32, u32), ErrorKind)> = vec![
        (
            "top_value_end.conf",
            (2, 9),
            unexpected(Expected::TopValueEnd, Found::Char('b')),
        ),
        (
            "unclosed_map.conf",
            (4, 1),
            unexpected(Expected::Closing('}'), Found::EndOfFile),
        ),
        ("bad_escape.conf", (3, 27), K::InvalidEscape('q')),
        (
            "undefined_variable.conf",
            (2, 7),
            K::UndefinedVariable("NATRIX_UNDEFINED_VARIABLE".into()),
        ),
        (
            "out_of_scope_variable.conf",
            (4, 9),
            K::UndefinedVariable("inner".into()),
        ),
        (
            "value_after_newline.conf",
            (1, 6),
            unexpected(Expected::Value, Found::NewLine),
        ),
        (
            "integer_overflow.conf",
            (1, 14),
            K::IntegerOutOfRange("99999999999999999999".into()),
        ),
        (
            "size_suffix.conf",
            (1, 14),
            K::InvalidSizeSuffix("1kbb".into()),
        ),
        (
            "size_overflow.conf",
            (1, 14),
            K::IntegerOutOfRange("9EB".into()),
        ),
        (
            "unclosed_string.conf",
            (3, 1),
            unexpected(Expected::Closing('"'), Found::EndOfFile),
        ),
        (
            "array_value_end.conf",
            (2, 26),
            unexpected(Expected::ArrayValueEnd, Found::Char('n')),
        ),
        (
            "map_value_end.conf",
            (2, 16),
            unexpected(Expected::MapValueEnd, Found::Char('f')),
        ),
        (
            "key_without_value.conf",
            (3, 1),
            unexpected(Expected::Value, Found::EndOfFile),
        ),
        (
            "stray_brace.conf",
            (3, 1),
            unexpected(Expected::EndOfFile, Found::Char('d')),
        ),
        (
            "negative_non_number.conf",
            (1, 11),
            K::InvalidNumber("-x".into()),
        ),
        (
            "short_date.conf",
            (1, 8),
            K::InvalidDate("2024-01-01".into()),
        ),
        (
            "unclosed_block.conf",
            (3, 1),
            unexpected(Expected::BlockEnd, Found::EndOfFile),
        ),
        (
            "empty_array_item.conf",
            (3, 3),
            unexpected(Expected::Value, Found::Char(',')),
        ),
    ];
    for (name, position, kind) in cases {
        let path = fixture(&format!("bad/{name}"));
        let env = &mut TestEnv::with_vars(&[]);
        let error = parse_file_with(&path, env).expect_err(name);
        assert_eq!(error.kind, kind, "{name}: {error}");
        assert_eq!(line_col(&error.pos), position, "{name}: {error}");
        assert_eq!(&*error.pos.file, path.as_path(), "{name}");
        let (line, column) = position;
        assert!(
            error
                .to_string()
                .starts_with(&format!("{}:{line}:{column}: ", path.display())),
            "{error}"
        );
    }
}

#[test]
fn errors_in_includes_name_the_included_file_and_the_include() {
    let env = &mut TestEnv::default();
    let error = parse_file_with(fixture("bad/error_in_include.conf"), env).unwrap_err();
    assert!(
        error.pos.file.ends_with("bad/included_with_error.conf"),
        "{error}"
    );
    assert_eq!(line_col(&error.pos), (2, 17));
    assert_eq!(
        error.kind,
        ErrorKind::Unexpected {
            expected: Expected::Value,
            found: Found::Char(',')
        }
    );
    assert_eq!(error.included_from.len(), 1);
    assert!(error.included_from[0]
        .file
        .ends_with("bad/error_in_include.conf"));
    assert_eq!(line_col(&error.included_from[0]), (2, 11));
    let text = error.to_string();
    assert!(
        text.contains("included_with_error.conf:2:17: expected a value, but got ','"),
        "{text}"
    );
    assert!(text.contains("(included from "), "{text}");

    let error = parse_file_with(fixture("bad/missing_include.conf"), env).unwrap_err();
    assert_eq!(line_col(&error.pos), (2, 9));
    match &error.kind {
        ErrorKind::Include { path, kind, .. } => {
            assert!(path.ends_with("bad/no_such_file.conf"), "{path:?}");
            assert_eq!(*kind, io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        error.to_string().contains("error parsing include file '"),
        "{error}"
    );
}

#[test]
fn include_cycles_are_refused() {
    let env = &mut TestEnv::default();
    let error = parse_file_with(fixture("bad/include_cycle.conf"), env).unwrap_err();
    assert!(
        matches!(&error.kind, ErrorKind::IncludeCycle(p) if p.ends_with("bad/include_cycle.conf"))
    );
    assert!(error.pos.file.ends_with("bad/cycle_b.conf"));
    assert_eq!(line_col(&error.pos), (2, 9));
    assert_eq!(error.included_from.len(), 1);

    let env = &mut TestEnv::default().file("self.conf", "a: 1\ninclude self.conf\n");
    let error = parse_file_with("self.conf", env).unwrap_err();
    assert!(matches!(error.kind, ErrorKind::IncludeCycle(_)), "{error}");
}

#[test]
fn parse_file_reads_from_the_file_system() {
    let map = parse_file(fixture("json.conf")).unwrap();
    assert_eq!(at(&map, "port").as_i64(), Some(4222));
    let error = parse_file(fixture("no_such.conf")).unwrap_err();
    assert!(matches!(
        error.kind,
        ErrorKind::Read {
            kind: io::ErrorKind::NotFound,
            ..
        }
    ));
    assert_eq!(error.pos.line, 0);
    assert!(
        error.to_string().contains("error opening config file"),
        "{error}"
    );
}
