use super::config::*;
use super::*;

fn account(name: &str) -> AccountConfig {
    AccountConfig {
        name: name.into(),
        ..AccountConfig::default()
    }
}

fn stream_export(s: &str) -> ExportConfig {
    ExportConfig {
        subject: s.into(),
        kind: ExportKind::Stream,
        accounts: vec![],
    }
}

fn service_export(s: &str) -> ExportConfig {
    ExportConfig {
        subject: s.into(),
        kind: ExportKind::Service {
            response: ResponseType::Singleton,
            threshold_ms: RESPONSE_THRESHOLD_MS_DEFAULT,
        },
        accounts: vec![],
    }
}

fn import(kind: ImportKind, account: &str, subject: &str, to: Option<&str>) -> ImportConfig {
    ImportConfig {
        kind,
        account: account.into(),
        subject: subject.into(),
        to: to.map(Into::into),
        prefix: None,
    }
}

fn compile(accounts: Vec<AccountConfig>) -> Result<Accounts, AccountsError> {
    Accounts::compile(
        &AccountsConfig {
            accounts,
            ..AccountsConfig::default()
        },
        None,
    )
}

#[test]
fn global_is_zero_and_system_exists_with_accounts() {
    let a = compile(vec![account("A"), account("B")]).unwrap();
    assert_eq!(a.id_of("$G"), Some(GLOBAL_ACCOUNT));
    assert_eq!(&*a.name(a.id_of("B").unwrap()), "B");
    assert_eq!(a.system(), a.id_of("$SYS"));
    assert!(!a.any_routes());
    assert!(Accounts::global_only().system().is_none());
}

#[test]
fn reserved_and_duplicate_names_are_refused_in_nats_server_words() {
    let e = compile(vec![account("$G")]).unwrap_err();
    assert_eq!(e.to_string(), "\"$G\" is a Reserved Account");
    let e = compile(vec![account("A"), account("A")]).unwrap_err();
    assert_eq!(e.to_string(), "Duplicate Account Entry: A");
}

#[test]
fn a_stream_import_becomes_a_route_in_the_exporter() {
    let mut a = account("A");
    a.exports.push(stream_export("a.>"));
    let mut b = account("B");
    b.imports
        .push(import(ImportKind::Stream, "A", "a.>", Some("from_a.>")));
    let accs = compile(vec![a, b]).unwrap();
    let ida = accs.id_of("A").unwrap();
    let r = &accs.get(ida).unwrap().stream_routes;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].to, accs.id_of("B").unwrap());
    assert!(accs.any_routes());
}

#[test]
fn imports_must_be_exported_to_the_importer() {
    let mut a = account("A");
    a.exports.push(ExportConfig {
        accounts: vec!["B".into()],
        ..stream_export("priv.>")
    });
    a.exports.push(service_export("svc.one"));
    let mut c = account("C");
    c.imports
        .push(import(ImportKind::Stream, "A", "priv.x", None));
    let e = compile(vec![a.clone(), account("B"), c]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Error adding stream import \"priv.x\": stream import not authorized"
    );
    let mut c = account("C");
    c.imports.push(import(
        ImportKind::Service { share: false },
        "A",
        "svc.>",
        None,
    ));
    let e = compile(vec![a.clone(), account("B"), c]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Error adding service import \"svc.>\": service import not authorized"
    );
    let mut c = account("C");
    c.imports
        .push(import(ImportKind::Stream, "NOPE", "x", None));
    let e = compile(vec![a, account("B"), c]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "\"NOPE\" account not defined for stream import"
    );
}

#[test]
fn service_import_cycles_are_refused() {
    let mut a = account("A");
    a.exports.push(service_export("q"));
    a.imports
        .push(import(ImportKind::Service { share: false }, "B", "q", None));
    let mut b = account("B");
    b.exports.push(service_export("q"));
    b.imports
        .push(import(ImportKind::Service { share: false }, "A", "q", None));
    let e = compile(vec![a, b]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Error adding service import \"q\": import forms a cycle"
    );
}

#[test]
fn an_account_may_import_from_itself() {
    let mut a = account("A");
    a.exports.push(service_export("real"));
    a.imports.push(import(
        ImportKind::Service { share: false },
        "A",
        "real",
        Some("alias"),
    ));
    let accs = compile(vec![a]).unwrap();
    assert_eq!(
        accs.get(accs.id_of("A").unwrap())
            .unwrap()
            .service_routes
            .len(),
        1
    );
}

#[test]
fn ids_are_kept_across_a_recompile() {
    let first = compile(vec![account("A"), account("B")]).unwrap();
    let again = Accounts::compile(
        &AccountsConfig {
            accounts: vec![account("C"), account("B")],
            ..AccountsConfig::default()
        },
        Some(&first),
    )
    .unwrap();
    assert_eq!(again.id_of("B"), first.id_of("B"));
    assert!(again.get(first.id_of("A").unwrap()).unwrap().removed);
    assert!(again.id_of("C").unwrap() as usize >= first.len());
}

#[test]
fn subsets_and_overlaps() {
    assert!(is_subset(b"svc.one", b"svc.>"));
    assert!(is_subset(b"svc.*", b"svc.>"));
    assert!(!is_subset(b"one.>", b"one.x"));
    assert!(!is_subset(b"a.*", b"a.b"));
    assert!(overlaps(b"a.*", b"a.b") && overlaps(b">", b"x.y") && !overlaps(b"a.b", b"a.c"));
}

fn js(name: &str) -> AccountConfig {
    AccountConfig {
        jetstream: true,
        ..account(name)
    }
}

fn slot(a: &Accounts, name: &str) -> Option<u32> {
    a.get(a.id_of(name).unwrap()).unwrap().js_slot
}

#[test]
fn jetstream_slots_follow_the_config_order_and_only_jetstream_accounts_get_one() {
    let a = compile(vec![js("A"), account("X"), js("B"), js("C")]).unwrap();
    let slots: Vec<Option<u32>> = ["$G", "A", "X", "B", "C", "$SYS"]
        .iter()
        .map(|n| slot(&a, n))
        .collect();
    assert_eq!(slots, [None, Some(0), None, Some(1), Some(2), None]);
    assert!(a.serves_jetstream(a.id_of("B").unwrap()));
    assert!(!a.serves_jetstream(a.id_of("X").unwrap()));
    // Without accounts, JetStream serves `$G`, in the first slot.
    let g = Accounts::global_only();
    assert_eq!(slot(&g, "$G"), Some(0));
    assert!(g.serves_jetstream(GLOBAL_ACCOUNT));
}

#[test]
fn a_reload_keeps_every_jetstream_slot_and_gives_new_accounts_the_next_ones() {
    let cfg = |accounts| AccountsConfig {
        accounts,
        ..AccountsConfig::default()
    };
    let first = Accounts::compile(&cfg(vec![js("B"), js("D")]), None).unwrap();
    assert_eq!((slot(&first, "B"), slot(&first, "D")), (Some(0), Some(1)));
    // A new account named first in the file, and X gaining JetStream, come after: B and D
    // stay where their streams are.
    let second =
        Accounts::compile(&cfg(vec![js("A"), js("B"), js("D"), js("X")]), Some(&first)).unwrap();
    let slots: Vec<Option<u32>> = ["A", "B", "D", "X"]
        .iter()
        .map(|n| slot(&second, n))
        .collect();
    assert_eq!(slots, [Some(2), Some(0), Some(1), Some(3)]);
    // D losing JetStream and getting it back keeps its slot.
    let third =
        Accounts::compile(&cfg(vec![js("A"), js("B"), account("D")]), Some(&second)).unwrap();
    let fourth = Accounts::compile(&cfg(vec![js("A"), js("B"), js("D")]), Some(&third)).unwrap();
    assert_eq!(slot(&fourth, "D"), Some(1));
}
