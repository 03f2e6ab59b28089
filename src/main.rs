//! The `natrix` binary: parse the command line, log like nats-server, run the server.

use clap::Parser;
use natrix::cli::Cli;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v2's `mi_option_e` (include/mimalloc.h), which the
/// Rust binding does not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// How long freed memory stays committed before mimalloc returns it to the OS (its default
/// is 10 ms). A consumer's backlog is freed and refilled within milliseconds under load;
/// with the default, the refill faulted fresh (huge) pages in again, which cost half of a
/// shard's CPU in a 1 -> 10 fan-out. After a second of calm the memory still goes back.
const ALLOCATOR_PURGE_DELAY_MS: std::ffi::c_long = 1000;

fn main() {
    // SAFETY: mi_option_set only stores the value; it is called before any thread starts.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ALLOCATOR_PURGE_DELAY_MS) };
    // nats-server's Go-style spellings (-js, -sl, -DV, ...) work too.
    let args = natrix::cli::go_style_args(std::env::args_os());
    let cli = Cli::parse_from(args.clone());
    if cli.version {
        println!("natrix: v{}", natrix::proto::info::NATRIX_VERSION);
        return;
    }
    if let Some(request) = cli.signal_request() {
        let sent = request
            .map_err(|e| e.to_string())
            .and_then(|(cmd, target)| natrix::lifecycle::send_signal(cmd, &target));
        if let Err(e) = sent {
            eprintln!("natrix: {e}");
            std::process::exit(1);
        }
        return;
    }
    let test_only = cli.test_config;
    let opts = match cli.into_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("natrix: {e}");
            std::process::exit(1);
        }
    };
    if test_only {
        let file = opts
            .config_file
            .as_deref()
            .unwrap_or(std::path::Path::new(""));
        println!("natrix: configuration file {} is valid", file.display());
        return;
    }
    natrix::logger::init(&opts);
    for w in &opts.warnings {
        log::warn!("{w}");
    }
    // SIGHUP reads the config file again and applies the same flags on top, as nats-server.
    let reload: natrix::server::Reloader = Box::new(move || {
        Cli::try_parse_from(args.clone())
            .map_err(|e| e.to_string())?
            .into_options()
            .map_err(|e| e.to_string())
    });
    if let Err(e) = natrix::server::run(opts, Some(reload)) {
        log::error!("{e}");
        std::process::exit(1);
    }
}
