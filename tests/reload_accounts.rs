//! SIGHUP reload of accounts (issue 9.5): new subject mappings and a changed import apply to
//! connections already open, the reload logs nats-server's `Reloaded:` lines, and changing
//! `system_account` is refused in nats-server's words. Runs against natrix (2 shards) or,
//! with `NATRIX_TEST_AGAINST_REFERENCE=1`, nats-server 2.15.1.

mod common;

use std::time::Duration;

use common::procs::{Server, TempDir};
use common::RawClient;

const QUIET: Duration = Duration::from_millis(300);

fn login(server: &Server, user: &str) -> RawClient {
    let mut c = server.raw();
    c.handshake(&format!(
        r#"{{"verbose":false,"pedantic":false,"user":"{user}","pass":"{user}"}}"#
    ));
    c
}

fn accounts_conf(mapping_to: &str, import_to: &str, system: &str) -> String {
    format!(
        "{system}accounts {{\n  A {{ users: [{{user: a, password: a}}], exports: [{{stream: \"public.>\"}}],\n    \
         mappings {{ \"orders.in\": \"{mapping_to}\" }} }}\n  \
         B {{ users: [{{user: b, password: b}}], imports: [{{stream: {{account: A, subject: \"public.>\"}}, to: \"{import_to}.>\"}}] }}\n  \
         S {{ users: [{{user: s, password: s}}] }}\n}}\n"
    )
}

#[test]
fn a_reload_rewires_mappings_and_imports_for_open_connections() {
    let dir = TempDir::new("reload-acc");
    let conf = dir.write("a.conf", &accounts_conf("orders.one", "from_a", ""));
    let server = Server::start(2, &["-c", &conf]);
    let mut a = login(&server, "a");
    let mut b = login(&server, "b");
    a.sync(b"SUB orders.one 1\r\nSUB orders.two 2\r\n");
    b.sync(b"SUB from_a.x 1\r\nSUB other.x 2\r\n");

    a.send(b"PUB orders.in 1\r\n1\r\nPUB public.x 1\r\n1\r\n");
    a.expect(b"MSG orders.one 1 1\r\n1\r\n");
    b.expect(b"MSG from_a.x 1 1\r\n1\r\n");

    dir.write("a.conf", &accounts_conf("orders.two", "other", ""));
    let lines = server.reload_and_read();
    assert!(
        lines.contains(&"[INF] Reloaded: accounts".to_string()),
        "{lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("[INF] Reloaded server configuration")
    );

    a.send(b"PUB orders.in 1\r\n2\r\nPUB public.x 1\r\n2\r\n");
    a.expect(b"MSG orders.two 2 1\r\n2\r\n");
    b.expect(b"MSG other.x 2 1\r\n2\r\n");
    a.expect_nothing(QUIET);
    b.expect_nothing(QUIET);
}

#[test]
fn a_reload_that_changes_the_system_account_is_refused() {
    let dir = TempDir::new("reload-sys");
    let conf = dir.write("s.conf", &accounts_conf("orders.one", "from_a", ""));
    let server = Server::start(2, &["-c", &conf]);
    dir.write(
        "s.conf",
        &accounts_conf("orders.one", "from_a", "system_account: S\n"),
    );
    let lines = server.reload_and_read();
    assert_eq!(
        lines.last().map(String::as_str),
        Some(
            "[ERR] Failed to reload server configuration: config reload not supported for \
             SystemAccount: old=, new=S"
        ),
        "{lines:?}"
    );
}
