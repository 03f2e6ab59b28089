#!/usr/bin/env python3
"""JetStream publishers in two accounts, against one account: does natrix spread the load?

natrix gives each account's JetStream to one shard (accounts in config order: A on shard 0,
B on shard 1 with 2 shards). Two layouts, each on a fresh file store, natrix and nats-server
2.15.1 interleaved round by round, the same config file for both (accounts A and B with
JetStream, users a and b):

- `2 accounts`: one natrix-bench `jspub` as user a (A's stream) and one as user b (B's
  stream), run at the same time: on natrix the two streams are on different shards;
- `1 account`: one `jspub --clients 2` as user a: two publishers into A's one stream.

Both publish --msgs messages in all (half each), --size bytes, window 256, default
sync_interval. Prints the messages stored per second over the wall time of both runs, and
the server's CPU per message (utime+stime from /proc, natrix's polling included).

    perf/js_accounts.py --natrix target/release/natrix --bench target/release/natrix-bench \
        --nats-server perf/.venv/bin/nats-server --rounds 3
"""
import argparse, json, os, subprocess, tempfile, time

from natsraw import cpu_s, free_port, wait_port

CONF = """jetstream {{ store_dir: "{sd}" }}
accounts {{
  A {{ jetstream: enabled, users: [{{user: a, password: a}}] }}
  B {{ jetstream: enabled, users: [{{user: b, password: b}}] }}
}}
"""


def bench(args, port, user, msgs, clients):
    return subprocess.Popen(
        [args.bench, "jspub", "--server", f"{user}:{user}@127.0.0.1:{port}", "--size",
         str(args.size), "--msgs", str(msgs), "--window", "256", "--clients", str(clients),
         "--timeout", "60", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def one(args, server, layout):
    port = free_port()
    with tempfile.TemporaryDirectory() as sd:
        conf = os.path.join(sd, "accounts.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(sd=os.path.join(sd, "store")))
        cmd = [args.natrix if server == "natrix" else args.nats_server, "-c", conf, "-a",
               "127.0.0.1", "-p", str(port)]
        srv = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, srv)
            c0, t0 = cpu_s(srv.pid), time.time()
            if layout == "2 accounts":
                runs = [bench(args, port, "a", args.msgs // 2, 1),
                        bench(args, port, "b", args.msgs // 2, 1)]
            else:
                runs = [bench(args, port, "a", args.msgs, 2)]
            outs = [r.communicate(timeout=120) for r in runs]
            wall, c1 = time.time() - t0, cpu_s(srv.pid)
            for (out, err), r in zip(outs, runs):
                if r.returncode != 0:
                    raise RuntimeError(f"natrix-bench failed: {err.strip()}")
                json.loads(out.strip().splitlines()[-1])
            return args.msgs / wall, (c1 - c0) * 1e9 / args.msgs
        finally:
            srv.kill()
            srv.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--natrix", default="target/release/natrix")
    ap.add_argument("--bench", default="target/release/natrix-bench")
    ap.add_argument("--nats-server", default="perf/.venv/bin/nats-server")
    ap.add_argument("--msgs", type=int, default=600_000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    results = {}
    for r in range(args.rounds):
        order = ["natrix", "nats-server"] if r % 2 == 0 else ["nats-server", "natrix"]
        for layout in ["2 accounts", "1 account"]:
            for server in order:
                rate, ns = one(args, server, layout)
                results.setdefault((server, layout), []).append((rate, ns))
                print(f"round {r + 1} {server:11} {layout:10}: {rate / 1e3:7.1f} k msgs/s, "
                      f"{ns:6.0f} ns server CPU/msg", flush=True)
    print("\nmedians:")
    for (server, layout), v in sorted(results.items()):
        rates = sorted(x[0] for x in v)
        nss = sorted(x[1] for x in v)
        print(f"{server:11} {layout:10}: {rates[len(rates) // 2] / 1e3:7.1f} k msgs/s "
              f"({rates[0] / 1e3:.1f}-{rates[-1] / 1e3:.1f}), "
              f"{nss[len(nss) // 2]:6.0f} ns/msg")


if __name__ == "__main__":
    main()
