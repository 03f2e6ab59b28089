//! natrix-bench: a load generator for NATS servers. It speaks the raw protocol over blocking
//! sockets, one pinned thread per client, and reports msgs/s, MB/s, latency percentiles from
//! HDR histograms, the server's CPU time per delivered message, and its own CPU use, so that a
//! run where the generator was the bottleneck says so. See perf/README.md.

mod jetstream;
mod js_api;
mod kv;
mod measure;
mod propagation;
mod proto;
mod redeliver;
mod stan;
mod stan_api;
mod workload;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serde::Serialize;

use measure::{own_cpu_s, percentiles, process_cpu_s, Latency};
use workload::{Params, Workload};

/// A run is flagged client-bound when the generator kept its cores this busy.
const CLIENT_BOUND_UTIL: f64 = 0.9;

#[derive(Parser, Debug)]
#[command(
    name = "natrix-bench",
    version,
    about = "Load generator for NATS servers"
)]
struct Cli {
    /// What to run (see perf/README.md).
    #[arg(value_enum)]
    workload: Workload,
    /// Server address.
    #[arg(short, long, default_value = "127.0.0.1:4222")]
    server: String,
    /// Payload size: 16, 128, 1KiB, 64KiB ... (K and M are 1024-based).
    #[arg(long, default_value = "128", value_parser = parse_size)]
    size: usize,
    /// Messages (or requests) published in total.
    #[arg(long, default_value_t = 1_000_000)]
    msgs: u64,
    /// Publishers, subscribers, members or requesters, depending on the workload.
    #[arg(long)]
    clients: Option<usize>,
    /// Subject, or subject prefix for multisubject.
    #[arg(long, default_value = "bench")]
    subject: String,
    /// multisubject: distinct subjects.
    #[arg(long, default_value_t = 100_000)]
    subjects: usize,
    /// reqrep-open: requests per second, in total.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Pin client threads round-robin to these CPUs, e.g. 1 or 0,1.
    #[arg(long, value_delimiter = ',')]
    cpus: Vec<usize>,
    /// The server's pid, to read its CPU time from /proc/PID/stat.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// JetStream and STAN publishers: unacknowledged messages at most (1 = synchronous publish).
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// Pull consumers: messages asked for per pull request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// jsconsume: ack as a request and wait for every confirmation of a batch.
    #[arg(long)]
    ack_sync: bool,
    /// jsworkqueue: publishers beside the --clients pullers.
    #[arg(long, default_value_t = 2)]
    publishers: usize,
    /// reqrep on natrix: requesters on the responder's shard (same) or another (split).
    #[arg(long, value_enum)]
    placement: Option<workload::Placement>,
    /// With --placement: natrix's shard count.
    #[arg(long, default_value_t = 2)]
    natrix_shards: u64,
    /// kvput, kvget: keys in the bucket.
    #[arg(long, default_value_t = 10_000)]
    keys: u64,
    /// jsredeliver, stanredeliver: the ack wait of redeliveries, in milliseconds (STAN
    /// rounds it up to whole seconds).
    #[arg(long, default_value_t = 1_000)]
    ack_wait_ms: u64,
    /// jsredeliver: the first delivery's ack wait, in milliseconds (`backoff` [this,
    /// --ack-wait-ms]); gives an idle phase with everything delivered and nothing due.
    #[arg(long)]
    first_ack_wait_ms: Option<u64>,
    /// jsredeliver, stanredeliver: seconds to count redeliveries for.
    #[arg(long, default_value_t = 10)]
    redeliver_secs: u64,
    /// propagation: microseconds of busy-wait between the SUB and the PUB.
    #[arg(long, default_value_t = 0.0)]
    delay_us: f64,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
}

fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: usize = number
        .parse()
        .map_err(|_| format!("not a size: {text:?}"))?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return Err(format!("unknown size unit in {text:?}")),
    };
    Ok(number * scale)
}

#[derive(Serialize)]
struct Report {
    workload: Workload,
    size: usize,
    msgs: u64,
    clients: usize,
    server: String,
    server_version: String,
    elapsed_s: f64,
    published: u64,
    pub_rate: f64,
    delivered: u64,
    delivery_rate: f64,
    msgs_per_s: f64,
    mb_per_s: f64,
    latency_us: Option<Latency>,
    latency_percentiles: Option<Vec<[f64; 2]>>,
    ack_latency_us: Option<Latency>,
    redelivery: Option<redeliver::RedeliveryStats>,
    server_cpu_s: Option<f64>,
    server_ns_per_msg: Option<f64>,
    client_cpu_s: f64,
    client_cores: f64,
    client_util: f64,
    client_bound: bool,
    error: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let clients = cli.clients.unwrap_or(match cli.workload {
        Workload::Fanout | Workload::Queue | Workload::Manypub | Workload::Jsworkqueue => 4,
        _ => 1,
    });
    let params = Params {
        server: cli.server.clone(),
        size: cli.size,
        msgs: cli.msgs,
        clients,
        subject: cli.subject.clone(),
        subjects: cli.subjects,
        rate: cli.rate,
        cpus: cli.cpus.clone(),
        timeout: Duration::from_secs(cli.timeout),
        window: cli.window.max(1),
        batch: cli.batch.max(1),
        ack_sync: cli.ack_sync,
        publishers: cli.publishers.max(1),
        server_pid: cli.server_pid,
        placement: cli.placement.map(|p| (p, cli.natrix_shards)),
        keys: cli.keys.max(1),
        ack_wait_ms: cli.ack_wait_ms.max(1),
        first_ack_wait_ms: cli.first_ack_wait_ms,
        redeliver_secs: cli.redeliver_secs.max(1),
        delay_us: cli.delay_us.max(0.0),
    };
    let server_cpu = || cli.server_pid.and_then(|pid| process_cpu_s(pid).ok());
    let outcome = match workload::run(cli.workload, params) {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("natrix-bench: {}: {e}", cli.server);
            return ExitCode::FAILURE;
        }
    };
    let (server_after, own_after) = outcome
        .cpu_at_end
        .unwrap_or_else(|| (server_cpu(), own_cpu_s()));
    // From when the clock started: connecting and any setup (a stream's pre-fill) before it
    // are not the run's.
    let (server_before, own_before) = outcome.cpu_at_start;

    let secs = |end: u64| end.saturating_sub(outcome.start_ns) as f64 / 1e9;
    let elapsed_s = secs(outcome.pub_end_ns.max(outcome.last_delivery_ns));
    let rate = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    let pub_rate = rate(outcome.published, secs(outcome.pub_end_ns));
    let delivery_rate = rate(outcome.delivered, secs(outcome.last_delivery_ns));
    let msgs_per_s = if outcome.delivered > 0 {
        delivery_rate
    } else {
        pub_rate
    };
    let server_cpu_s = server_before.zip(server_after).map(|(b, a)| a - b);
    let per_msg = outcome.delivered.max(if outcome.delivered == 0 {
        outcome.published
    } else {
        0
    });
    let client_cores = if cli.cpus.is_empty() {
        std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
    } else {
        cli.cpus.len() as f64
    };
    let client_cpu_s = own_after - own_before;
    let client_util = if elapsed_s > 0.0 {
        client_cpu_s / (elapsed_s * client_cores)
    } else {
        0.0
    };
    let report = Report {
        workload: cli.workload,
        size: cli.size,
        msgs: cli.msgs,
        clients,
        server: cli.server.clone(),
        server_version: outcome.server_version.clone(),
        elapsed_s,
        published: outcome.published,
        pub_rate,
        delivered: outcome.delivered,
        delivery_rate,
        msgs_per_s,
        mb_per_s: msgs_per_s * cli.size as f64 / 1e6,
        latency_us: Latency::of(&outcome.latency),
        latency_percentiles: percentiles(&outcome.latency),
        ack_latency_us: Latency::of(&outcome.ack_latency),
        redelivery: outcome.redelivery.clone(),
        server_cpu_s,
        server_ns_per_msg: server_cpu_s
            .filter(|_| per_msg > 0)
            .map(|cpu| cpu * 1e9 / per_msg as f64),
        client_cpu_s,
        client_cores,
        client_util,
        client_bound: client_util >= CLIENT_BOUND_UTIL,
        error: outcome.error.clone(),
    };
    if cli.json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("a report serializes")
        );
    } else {
        print_report(&report);
    }
    if report.error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_report(r: &Report) {
    println!(
        "{:?} {} B x {} msgs, {} client(s), server {} ({})",
        r.workload, r.size, r.msgs, r.clients, r.server, r.server_version
    );
    println!("  elapsed        {:.3} s", r.elapsed_s);
    println!(
        "  published      {} at {:.0} msgs/s",
        r.published, r.pub_rate
    );
    if r.delivered > 0 {
        println!(
            "  delivered      {} at {:.0} msgs/s",
            r.delivered, r.delivery_rate
        );
    }
    println!(
        "  throughput     {:.0} msgs/s, {:.1} MB/s of payload",
        r.msgs_per_s, r.mb_per_s
    );
    if let Some(l) = &r.latency_us {
        println!(
            "  latency µs     p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  p99.99 {:.1}  max {:.1}  ({} samples)",
            l.p50, l.p90, l.p99, l.p99_9, l.p99_99, l.max, l.count
        );
    }
    if let Some(l) = &r.ack_latency_us {
        println!(
            "  ack round trip p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  ({} samples)",
            l.p50, l.p90, l.p99, l.p99_9, l.max, l.count
        );
    }
    if let Some(d) = &r.redelivery {
        let opt =
            |v: Option<f64>, unit: &str| v.map_or("–".to_string(), |v| format!("{v:.3}{unit}"));
        println!(
            "  pending        {} (first pass {}, {} delivered before the window)",
            d.pending,
            opt(d.first_pass_s, " s"),
            d.delivered_before_window
        );
        println!(
            "  idle phase     {} with server CPU {} ({} of a core)",
            opt(d.idle_s, " s"),
            opt(d.idle_server_cpu_s, " s"),
            opt(d.idle_core_pct, " %")
        );
        println!(
            "  redeliveries   {} in {:.3} s from the first ({:.3} s after subscribing): {:.0}/s, {} distinct, {}",
            d.redeliveries,
            d.window_s,
            d.first_redelivery_s,
            d.redeliveries_per_s,
            d.distinct_redelivered,
            opt(d.server_ns_per_redelivery.map(|ns| ns / 1000.0), " µs of server CPU each")
        );
    }
    if let (Some(cpu), Some(per)) = (r.server_cpu_s, r.server_ns_per_msg) {
        println!("  server CPU     {cpu:.3} s, {per:.0} ns per message");
    }
    println!(
        "  client CPU     {:.3} s on {} core(s): {:.0}% busy{}",
        r.client_cpu_s,
        r.client_cores,
        r.client_util * 100.0,
        if r.client_bound {
            " (CLIENT-BOUND: the generator was the bottleneck)"
        } else {
            ""
        }
    );
    if r.workload == Workload::Propagation {
        println!(
            "  missed         {} of {} tries",
            r.published.saturating_sub(r.delivered),
            r.published
        );
    }
    if let Some(e) = &r.error {
        println!("  ERROR          {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16"), Ok(16));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("1MB"), Ok(1 << 20));
        assert!(parse_size("1x").is_err());
        assert!(parse_size("").is_err());
    }
}
