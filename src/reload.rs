//! What a config reload may change, decided as nats-server decides it, and the
//! `Reloaded: ...` lines it logs. Sans-io: the running options and the reloaded ones in, the
//! lines or the refusal out; `lifecycle::reload_config` applies and logs them.
//!
//! nats-server refuses a reload that changes an option it cannot change at run time (the
//! listen address, the server name, the monitoring ports, max_pending, max_subscriptions,
//! no_auth_user, the lame duck settings), naming the first such option by its Go field
//! name, and then changes nothing. Everything else natrix has is applied. A `port` of 0 in
//! the reloaded options means "not given" and is no change. Options nats-server lacks
//! (`--shards`, `--spin_us`) are fixed at start and kept by the caller.

use std::fmt;
use std::time::Duration;

use crate::config::{Options, TLS_TIMEOUT_MS_DEFAULT};
use crate::gofmt;

/// A reload that changes what cannot be changed while running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReloadError {
    /// nats-server's name for the option (its Go field name).
    pub field: &'static str,
    pub old: String,
    pub new: String,
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "config reload not supported for {}: old={}, new={}",
            self.field, self.old, self.new
        )
    }
}

impl std::error::Error for ReloadError {}

/// The `Reloaded: ...` texts (without that prefix) for going from `old` to `new`, in
/// nats-server's order; or why the reload is refused.
pub fn changes(old: &Options, new: &Options) -> Result<Vec<String>, ReloadError> {
    refuse_fixed(old, new)?;
    let (ol, nl) = (&old.limits, &new.limits);
    let (oa, na) = (&old.auth, &new.auth);
    let tls_state = if new.tls.is_some() {
        "enabled"
    } else {
        "disabled"
    };
    // nats-server keeps a max_connections of 0 (refuse everyone) as -1.
    let max_connections = match nl.max_connections {
        0 => -1,
        n => i64::try_from(n).unwrap_or(i64::MAX),
    };
    let write_deadline = Duration::from_millis(nl.write_deadline_ms);
    let traced = new.logging.max_traced_msg_len_bytes;
    // (changed, text) in nats-server's order; users and accounts always count as changed.
    let candidates = [
        (old.trace != new.trace, format!("trace = {}", new.trace)),
        (old.debug != new.debug, format!("debug = {}", new.debug)),
        (
            old.logging.time != new.logging.time,
            format!("logtime = {}", new.logging.time),
        ),
        (
            ol.max_connections != nl.max_connections,
            format!("max_connections = {max_connections}"),
        ),
        (oa.nkeys != na.nkeys, "authorization nkey users".into()),
        (true, "authorization users".into()),
        (true, "accounts".into()),
        (oa.user != na.user, "authorization username".into()),
        (oa.password != na.password, "authorization password".into()),
        (oa.token != na.token, "authorization token".into()),
        (
            ol.ping_interval_ms != nl.ping_interval_ms,
            format!("ping_interval = {}", gofmt::duration(nl.ping_interval())),
        ),
        (
            ol.ping_max != nl.ping_max,
            format!("ping_max = {}", nl.ping_max),
        ),
        (
            old.auth_timeout() != new.auth_timeout(),
            format!("authorization timeout = {}", seconds(new.auth_timeout())),
        ),
        (
            ol.max_control_line_bytes != nl.max_control_line_bytes,
            format!("max_control_line = {}", nl.max_control_line_bytes),
        ),
        (
            ol.max_payload_bytes != nl.max_payload_bytes,
            format!("max_payload = {}", nl.max_payload_bytes),
        ),
        (
            old.pid_file != new.pid_file,
            format!("pid_file = {}", path(new.pid_file.as_deref())),
        ),
        (
            old.logging.file != new.logging.file,
            format!("log_file = {}", path(new.logging.file.as_deref())),
        ),
        (
            tls_timeout(old) != tls_timeout(new),
            format!("tls timeout = {}", seconds(tls_timeout(new))),
        ),
        (old.tls != new.tls, format!("tls = {tls_state}")),
        (
            ol.write_deadline_ms != nl.write_deadline_ms,
            format!("write_deadline = {}", gofmt::duration(write_deadline)),
        ),
        (
            old.logging.max_traced_msg_len_bytes != traced,
            format!("max_traced_msg_len = {traced}"),
        ),
    ];
    let lines = candidates
        .into_iter()
        .filter_map(|(changed, text)| changed.then_some(text))
        .collect();
    Ok(lines)
}

/// The first option, in nats-server's field order, that may not change.
fn refuse_fixed(old: &Options, new: &Options) -> Result<(), ReloadError> {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let port = |p: Option<u16>| p.unwrap_or(0).to_string();
    let lame = |ms: u64| gofmt::duration(Duration::from_millis(ms));
    let fixed: [(&'static str, String, String); 12] = [
        ("ServerName", text(&old.server_name), text(&new.server_name)),
        (
            // nats-server shows the configured name, empty for the default.
            "SystemAccount",
            text(&old.auth.accounts.system_account),
            text(&new.auth.accounts.system_account),
        ),
        ("Host", old.host.clone(), new.host.clone()),
        (
            "Port",
            old.port.to_string(),
            // 0: the reloaded options give no port.
            if new.port == 0 { old.port } else { new.port }.to_string(),
        ),
        (
            "MaxSubs",
            old.limits.max_subscriptions.to_string(),
            new.limits.max_subscriptions.to_string(),
        ),
        (
            "NoAuthUser",
            no_auth_user(old),
            no_auth_user_after(old, new),
        ),
        ("HTTPHost", text(&old.monitor.host), text(&new.monitor.host)),
        (
            "HTTPPort",
            port(old.monitor.http_port),
            port(new.monitor.http_port),
        ),
        (
            "HTTPSPort",
            port(old.monitor.https_port),
            port(new.monitor.https_port),
        ),
        (
            "MaxPending",
            old.limits.max_pending_bytes.to_string(),
            new.limits.max_pending_bytes.to_string(),
        ),
        (
            "LameDuckDuration",
            lame(old.lame_duck_duration_ms),
            lame(new.lame_duck_duration_ms),
        ),
        (
            "LameDuckGracePeriod",
            lame(old.lame_duck_grace_period_ms),
            lame(new.lame_duck_grace_period_ms),
        ),
    ];
    match fixed.into_iter().find(|(_, o, n)| o != n) {
        Some((field, old, new)) => Err(ReloadError { field, old, new }),
        None => Ok(()),
    }
}

fn no_auth_user(o: &Options) -> String {
    o.auth.no_auth_user.clone().unwrap_or_default()
}

/// The new no_auth_user, or the old one where nats-server lets it go: dropped together
/// with the user it named.
fn no_auth_user_after(old: &Options, new: &Options) -> String {
    match (&old.auth.no_auth_user, &new.auth.no_auth_user) {
        (Some(name), None) if !new.auth.users.iter().any(|u| &u.user == name) => name.clone(),
        _ => no_auth_user(new),
    }
}

fn tls_timeout(o: &Options) -> Duration {
    Duration::from_millis(
        o.tls
            .as_ref()
            .map_or(TLS_TIMEOUT_MS_DEFAULT, |t| t.timeout_ms),
    )
}

/// Seconds as Go prints a float64 (`2`, `0.5`).
fn seconds(d: Duration) -> String {
    gofmt::float(d.as_secs_f64())
}

fn path(p: Option<&std::path::Path>) -> String {
    p.map(|p| p.display().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::config::UserConfig;
    use crate::auth::Secret;
    use crate::config::TlsConfig;

    fn base() -> Options {
        Options::default()
    }

    /// The lines besides the two nats-server always logs.
    fn changed(new: &Options) -> Vec<String> {
        let mut lines = changes(&base(), new).expect("reloadable");
        lines.retain(|l| l != "authorization users" && l != "accounts");
        lines
    }

    #[test]
    fn an_unchanged_file_logs_only_users_and_accounts() {
        assert_eq!(
            changes(&base(), &base()).unwrap(),
            ["authorization users", "accounts"]
        );
    }

    #[test]
    fn each_reloadable_change_is_named_as_nats_server_names_it() {
        // Texts as nats-server 2.15.1 logged them for the same changes.
        let mut o = base();
        o.limits.max_payload_bytes = 2000;
        assert_eq!(changed(&o), ["max_payload = 2000"]);
        let mut o = base();
        o.limits.ping_interval_ms = 30_000;
        assert_eq!(changed(&o), ["ping_interval = 30s"]);
        let mut o = base();
        o.limits.write_deadline_ms = 3_000;
        assert_eq!(changed(&o), ["write_deadline = 3s"]);
        let mut o = base();
        o.auth.timeout_ms = Some(500);
        assert_eq!(changed(&o), ["authorization timeout = 0.5"]);
        let mut o = base();
        o.auth.user = Some("x".into());
        o.auth.password = Some(Secret("y".into()));
        assert_eq!(
            changed(&o),
            ["authorization username", "authorization password"]
        );
        let mut o = base();
        o.limits.max_connections = 0;
        assert_eq!(changed(&o), ["max_connections = -1"], "0 refuses everyone");
        let mut o = base();
        o.debug = true;
        o.limits.max_connections = 10;
        o.limits.max_control_line_bytes = 2048;
        assert_eq!(
            changed(&o),
            [
                "debug = true",
                "max_connections = 10",
                "max_control_line = 2048"
            ]
        );
    }

    #[test]
    fn turning_tls_on_also_moves_the_default_auth_timeout() {
        let mut o = base();
        o.tls = Some(TlsConfig {
            cert_file: "c.pem".into(),
            key_file: "k.pem".into(),
            ca_file: None,
            verify: false,
            handshake_first: false,
            timeout_ms: 4_000,
        });
        assert_eq!(
            changed(&o),
            [
                "authorization timeout = 5",
                "tls timeout = 4",
                "tls = enabled"
            ]
        );
        assert_eq!(
            changes(&o, &base()).unwrap().last().map(String::as_str),
            Some("tls = disabled")
        );
    }

    #[test]
    fn fixed_options_refuse_the_reload_with_nats_server_s_words() {
        let mut o = base();
        o.port = 14_989;
        let e = changes(&base(), &o).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "config reload not supported for Port: old={}, new=14989",
                base().port
            )
        );
        o.port = 0;
        assert!(changes(&base(), &o).is_ok(), "port 0 is no port given");
        let mut o = base();
        o.lame_duck_duration_ms = 40_000;
        assert_eq!(
            changes(&base(), &o).unwrap_err().to_string(),
            "config reload not supported for LameDuckDuration: old=2m0s, new=40s"
        );
        let mut o = base();
        o.server_name = Some("foo".into());
        o.limits.max_pending_bytes = 1_000_000;
        assert_eq!(
            changes(&base(), &o).unwrap_err().to_string(),
            "config reload not supported for ServerName: old=, new=foo",
            "the first in nats-server's field order is named"
        );
        let mut o = base();
        o.monitor.http_port = Some(18_223);
        assert_eq!(
            changes(&base(), &o).unwrap_err().to_string(),
            "config reload not supported for HTTPPort: old=0, new=18223"
        );
        let mut o = base();
        o.auth.accounts.system_account = Some("B".into());
        assert_eq!(
            changes(&base(), &o).unwrap_err().to_string(),
            "config reload not supported for SystemAccount: old=, new=B"
        );
    }

    #[test]
    fn no_auth_user_may_go_only_with_its_user() {
        let mut old = base();
        old.auth.no_auth_user = Some("a".into());
        old.auth.users = vec![UserConfig {
            user: "a".into(),
            password: Secret("p".into()),
            permissions: None,
        }];
        let mut new = old.clone();
        new.auth.no_auth_user = None;
        assert_eq!(
            changes(&old, &new).unwrap_err().to_string(),
            "config reload not supported for NoAuthUser: old=a, new="
        );
        new.auth.users.clear();
        assert!(changes(&old, &new).is_ok());
    }
}
