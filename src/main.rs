//! The `natrix` binary: parse the command line, log like nats-server, run the server.

use clap::Parser;
use natrix::config::Cli;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::parse();
    if cli.version {
        println!("natrix: v{}", natrix::proto::info::NATRIX_VERSION);
        return;
    }
    let opts = match cli.into_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("natrix: {e}");
            std::process::exit(1);
        }
    };
    natrix::logger::init(opts.debug, opts.trace);
    if let Err(e) = natrix::server::run(opts) {
        log::error!("{e}");
        std::process::exit(1);
    }
}
