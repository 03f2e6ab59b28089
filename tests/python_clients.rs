//! The nats-py suite in `tests/py` (auth, permissions, TLS through a real client library), run
//! once against natrix and once against the reference nats-server, which shows the suite itself
//! expects what nats-server does.
//!
//! Needs `.venv` with nats-py and pytest, which `./test` installs.

mod common;

use std::path::Path;
use std::process::Command;

/// Runs pytest on tests/py with `server` as the server under test; panics with pytest's output
/// when a case fails.
fn run_python_suite(server: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run ./test once, it installs nats-py and pytest",
        python.display()
    );
    let output = Command::new(&python)
        .args(["-m", "pytest", "-q", "tests/py"])
        .current_dir(root)
        .env("NATS_SERVER_UNDER_TEST", server)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        output.status.success(),
        "tests/py failed against {server} ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn nats_py_suite_passes_against_natrix() {
    run_python_suite(env!("CARGO_BIN_EXE_natrix"));
}

#[test]
fn nats_py_suite_passes_against_reference_nats_server() {
    run_python_suite(&common::nats_server_bin());
}
