//! Runs a script of tests/js (the npm clients, installed by `./test`) against a server,
//! bounded in time.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const JS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");

/// Runs `node <script>` in tests/js with `NATS_URL=url`, killed after `max`; asserts that it
/// exited 0 and returns its stdout.
pub fn run_script(script: &str, url: &str, max: Duration) -> String {
    assert!(
        std::path::Path::new(JS_DIR)
            .join("node_modules/@nats-io/jetstream")
            .exists(),
        "tests/js/node_modules is missing @nats-io/jetstream: run ./test once"
    );
    let mut child = Command::new("node")
        .arg(script)
        .current_dir(JS_DIR)
        .env("NATS_URL", url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let deadline = Instant::now() + max;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for node") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("node output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.is_some_and(|s| s.success()),
        "{script} failed ({status:?}):\n{stdout}{stderr}"
    );
    stdout
}

/// Asserts that each of `steps` is a whole line of `stdout`.
pub fn assert_steps(stdout: &str, steps: &[&str]) {
    for step in steps {
        assert!(
            stdout.lines().any(|l| l == *step),
            "missing {step:?}:\n{stdout}"
        );
    }
}
