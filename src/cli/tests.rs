use std::path::Path;

use super::*;

fn parse(args: &[&str]) -> Result<Options, String> {
    let cli = Cli::try_parse_from(std::iter::once("natrix").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    cli.into_options().map_err(|e| e.to_string())
}

/// As the binary parses: Go spellings first.
fn parse_go(args: &[&str]) -> Result<Options, String> {
    let argv = go_style_args(std::iter::once("natrix").chain(args.iter().copied()));
    let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
    cli.into_options().map_err(|e| e.to_string())
}

fn fixture(name: &str) -> String {
    format!("{}/tests/configs/real/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn defaults_match_nats_server() {
    let o = parse(&[]).unwrap();
    assert_eq!((o.host.as_str(), o.port), ("0.0.0.0", 4222));
    assert_eq!(o.limits.max_payload_bytes, 1048576);
    assert_eq!(o.limits.max_pending_bytes, 67108864);
    assert_eq!(o.limits.ping_interval_ms, 120_000);
}

#[test]
fn short_and_long_flags_and_combined_debug_trace() {
    let o = parse(&[
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "-n",
        "x",
        "-DV",
        "--shards",
        "3",
    ])
    .unwrap();
    assert_eq!((o.host.as_str(), o.port, o.shards), ("127.0.0.1", 0, 3));
    assert_eq!(o.server_name.as_deref(), Some("x"));
    assert!(o.debug && o.trace);
    let o = parse(&["--addr", "::1", "--port", "5000", "--name", "y"]).unwrap();
    assert_eq!((o.host.as_str(), o.port), ("::1", 5000));
}

#[test]
fn spin_defaults_on_only_with_several_shards_and_is_bounded() {
    let spin = |args: &[&str]| parse(args).unwrap().spin_before_park().as_micros();
    assert_eq!(spin(&["--shards", "1"]), 0);
    assert_eq!(spin(&["--shards", "2"]), 200);
    assert_eq!(spin(&["--shards", "1", "--spin_us", "150"]), 150);
    assert_eq!(spin(&["--shards", "4", "--spin_us", "0"]), 0);
    assert!(parse(&["--spin_us", "100001"]).is_err());
}

#[test]
fn spin_is_shorter_by_default_when_commits_wait_for_fdatasync() {
    let mut js = parse_go(&["--shards", "2", "-js"]).unwrap();
    assert_eq!(js.spin_before_park().as_micros(), 200);
    js.jetstream.as_mut().unwrap().sync_always = true;
    assert_eq!(js.spin_before_park().as_micros(), 50);
    js.spin_before_park_us = Some(300);
    assert_eq!(js.spin_before_park().as_micros(), 300);
    let spin = |args: &[&str]| parse_go(args).unwrap().spin_before_park().as_micros();
    assert_eq!(spin(&["--shards", "2", "-cid", "c"]), 200);
    assert_eq!(
        spin(&["--shards", "2", "-cid", "c", "-st", "FILE", "--dir", "/d"]),
        50
    );
    assert_eq!(
        spin(&["--shards", "1", "-cid", "c", "-st", "FILE", "--dir", "/d"]),
        0
    );
    // Without file_sync nothing waits for a sync.
    assert_eq!(
        spin(&["--shards", "2", "-st", "FILE", "-file_sync=false"]),
        200
    );
}

#[test]
fn unknown_flag_and_bad_values_are_errors() {
    assert!(parse(&["--bogus"]).is_err());
    assert!(parse(&["--shards", "0"]).is_err());
    assert!(parse(&["--shards", "65"]).is_err());
    assert!(parse(&["-p", "70000"]).is_err());
    assert!(parse(&["--max_payload", "10", "--max_pending", "5"]).is_err());
}

#[test]
fn nats_streaming_server_flags_turn_streaming_on() {
    assert!(parse_go(&["-p", "4222"]).unwrap().streaming.is_none());
    let o = parse_go(&[
        "-cid",
        "ticketing",
        "-st",
        "FILE",
        "--dir",
        "/tmp/st",
        "-hbi",
        "5s",
        "-hbt",
        "5s",
        "-hbf",
        "2",
        "-mc",
        "10",
        "-msu",
        "20",
        "-mm",
        "30",
        "-mb",
        "1KB",
        "-ma",
        "1h",
        "-mi",
        "2m",
        "-SD",
        "-m",
        "8222",
    ])
    .unwrap();
    let s = o.streaming.expect("streaming on");
    assert_eq!(s.cluster_id, "ticketing");
    assert!(s.file_store);
    assert_eq!(s.dir.as_deref(), Some(std::path::Path::new("/tmp/st")));
    assert_eq!(
        (s.hb_interval_ms, s.hb_timeout_ms, s.hb_fail_count),
        (5000, 5000, 2)
    );
    assert_eq!(
        (s.channels_max, s.subs_max, s.msgs_max, s.bytes_max),
        (Some(10), Some(20), Some(30), Some(1024))
    );
    assert_eq!(
        (s.age_max_ms, s.inactivity_max_ms),
        (Some(3_600_000), Some(120_000))
    );
    assert_eq!(o.monitor.http_port, Some(8222));
    assert!(parse_go(&["-st", "SQL"]).is_err());
}

#[test]
fn file_sync_is_a_go_boolean_flag_on_by_default() {
    let sync = |args: &[&str]| parse_go(args).unwrap().streaming.unwrap().file_sync;
    assert!(sync(&["-st", "FILE"]));
    assert!(!sync(&["-st", "FILE", "-file_sync=false"]));
    assert!(!sync(&["-st", "FILE", "--file_sync=0"]));
    assert!(sync(&["-file_sync"]));
    assert!(sync(&["-st", "FILE", "--file_sync=TRUE"]));
    // Any streaming flag turns NATS Streaming on, this one too.
    assert!(parse_go(&["-file_sync=false"]).unwrap().streaming.is_some());
    assert_eq!(
        parse_go(&["-st", "FILE", "-file_sync=yes"]).unwrap_err(),
        "invalid boolean value \"yes\" for -file_sync: parse error"
    );
}

#[test]
fn go_style_single_dash_flags_are_accepted() {
    let o = parse_go(&[
        "-js", "-sd", "/tmp/js", "-ms", "8443", "-port", "4333", "-DVV",
    ])
    .unwrap();
    assert_eq!(o.port, 4333);
    assert_eq!(o.monitor.https_port, Some(8443));
    assert!(o.debug && o.trace);
    assert!(o.jetstream.is_some());
    assert_eq!(
        o.store_dir.as_deref(),
        Some(std::path::Path::new("/tmp/js"))
    );
    // A value that looks like a flag stays a value.
    let o = parse_go(&["--user", "u", "--pass", "-user"]).unwrap();
    assert_eq!(o.auth.password, Some(crate::auth::Secret("-user".into())));
    let o = parse_go(&["-VV"]).unwrap();
    assert!(o.trace && !o.debug);
}

#[test]
fn logtime_and_tls_take_go_boolean_values() {
    assert!(parse(&[]).unwrap().logging.time);
    assert!(!parse(&["-T=false"]).unwrap().logging.time);
    assert!(!parse(&["--logtime=false"]).unwrap().logging.time);
    assert!(parse(&["-T"]).unwrap().logging.time);
    let o = parse(&["--tlscert", "c.pem", "--tlskey", "k.pem", "--tlsverify"]).unwrap();
    let tls = o.tls.unwrap();
    assert_eq!((tls.cert_file.to_str(), tls.verify), (Some("c.pem"), true));
    assert!(parse(&["--tls"])
        .unwrap_err()
        .contains("certificate must be present"));
    let o = parse(&["--tls=false", "--tlscert", "c.pem"]).unwrap();
    assert!(o.tls.is_none());
}

#[test]
fn nats_server_flags_set_their_options() {
    let o = parse(&[
        "-m",
        "8222",
        "-l",
        "/tmp/n.log",
        "-P",
        "/tmp/n.pid",
        "--user",
        "u",
        "--pass",
        "p",
    ])
    .unwrap();
    assert_eq!(o.monitor.http_port, Some(8222));
    assert_eq!(o.logging.file.as_deref(), Some(Path::new("/tmp/n.log")));
    assert_eq!(o.pid_file.as_deref(), Some(Path::new("/tmp/n.pid")));
    assert_eq!(o.auth.user.as_deref(), Some("u"));
    assert_eq!(parse(&["-m", "-1"]).unwrap().monitor.http_port, Some(0));
    assert_eq!(
        parse(&["--auth", "t"]).unwrap().auth.token,
        Some(crate::auth::Secret("t".into()))
    );
    let err = parse(&["-m", "8222", "--https_port", "8443"]).unwrap_err();
    assert_eq!(err, "can't specify both HTTP (8222) and HTTPs (8443) ports");
    let err = parse(&["-t"]).unwrap_err();
    assert!(err.contains("must specify [-c, --config]"), "{err}");
}

#[test]
fn flags_override_the_config_file() {
    let file = fixture("monitoring.conf");
    let from_file = parse(&["-c", &file]).unwrap();
    assert_eq!(from_file.port, 4333);
    assert_eq!(from_file.config_file.as_deref(), Some(Path::new(&file)));
    let o = parse(&[
        "-c",
        &file,
        "-p",
        "5555",
        "-m",
        "9999",
        "--max_payload",
        "2048",
        "-T=true",
        "-n",
        "flagname",
        "--ping_interval",
        "5",
    ])
    .unwrap();
    assert_eq!(o.port, 5555);
    assert_eq!(o.monitor.http_port, Some(9999));
    assert_eq!(o.limits.max_payload_bytes, 2048);
    assert!(o.logging.time);
    assert_eq!(o.server_name.as_deref(), Some("flagname"));
    assert_eq!(o.limits.ping_interval_ms, 5_000);
    // What the flags leave alone keeps the file's value.
    assert_eq!(
        o.limits.max_pending_bytes,
        from_file.limits.max_pending_bytes
    );
    assert_eq!(o.lame_duck_duration_ms, from_file.lame_duck_duration_ms);
}

#[test]
fn a_bad_config_file_is_an_error_naming_its_position() {
    let file = format!(
        "{}/tests/configs/real/bad/unknown_keys.conf",
        env!("CARGO_MANIFEST_DIR")
    );
    let err = parse(&["-c", &file]).unwrap_err();
    assert!(
        err.contains("unknown_keys.conf:3:1: unknown field \"bogus\""),
        "{err}"
    );
    let err = parse(&["-c", "/nonexistent/natrix.conf"]).unwrap_err();
    assert!(err.contains("/nonexistent/natrix.conf"), "{err}");
}

#[test]
fn signal_values_parse_like_nats_server() {
    use SignalCommand::*;
    let ok = |s: &str| parse_signal(s).unwrap();
    assert_eq!(ok("stop"), (Stop, SignalTarget::Any));
    assert_eq!(ok("quit=12"), (Quit, SignalTarget::Pid(12)));
    assert_eq!(ok("term"), (Term, SignalTarget::Any));
    assert_eq!(ok("reopen"), (Reopen, SignalTarget::Any));
    assert_eq!(
        ok("reload=/var/run/natrix.pid"),
        (Reload, SignalTarget::PidFile("/var/run/natrix.pid".into()))
    );
    assert_eq!(ok("ldm=1"), (LameDuck, SignalTarget::Pid(1)));
    let err = |s: &str| parse_signal(s).unwrap_err().to_string();
    assert_eq!(err("bogus"), "unknown signal \"bogus\"");
    assert_eq!(err("stop=1=2"), "invalid signal parameters: [2]");
    assert_eq!(err("stop=99999999999"), "invalid pid: 99999999999");
    let cli = Cli::try_parse_from(go_style_args(["natrix", "-sl", "ldm=7"])).unwrap();
    assert_eq!(
        cli.signal_request(),
        Some(Ok((LameDuck, SignalTarget::Pid(7))))
    );
}
