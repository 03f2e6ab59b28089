//! NATS Streaming through a second client library: the pytest suite in `tests/py/streaming`,
//! written with asyncio-nats-streaming 0.4.0 (nats-io's Python STAN client) on
//! asyncio-nats-client 0.11.5, run against natrix serving STAN (`-cid test-cluster`).
//!
//! There is no nats-streaming-server binary on the registries, so there is no reference run:
//! each Python test names the place in `shared/reference/stan-protocol.md` it checks. The
//! library is installed from PyPI as published; `tests/py/streaming/asyncio_compat.py` says why
//! it needs a shim for Python 3.10's removal of asyncio's `loop=` argument, and what the shim
//! does.
//!
//! Needs `.venv-stan` with that client and pytest, which `./test` installs.

use std::path::Path;
use std::process::Command;

#[test]
fn asyncio_nats_streaming_suite_passes_against_natrix() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv-stan/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run ./test once, it installs asyncio-nats-streaming and pytest",
        python.display()
    );
    let output = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-c",
            "tests/py/streaming/pytest.ini",
            "tests/py/streaming",
        ])
        .current_dir(root)
        .env("NATS_SERVER_UNDER_TEST", env!("CARGO_BIN_EXE_natrix"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        output.status.success(),
        "tests/py/streaming failed against natrix ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
