"""The report of perf/compare: medians over rounds, the markdown tables and the latency plot.

Input is what perf/compare writes to its JSON-lines file: one `meta` record (commit, machine,
servers, layouts, workloads, parameters) followed by one `run` record per natrix-bench
invocation. Everything here works from those records alone, so `perf/compare --report FILE`
can redo a report without measuring again.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

CLIENT_BOUND_MARK = "‡"
OVERLAP_MARK = "~"
# natrix-bench workloads whose point is latency at a fixed request rate: their msgs/s is the
# rate we asked for, so the "median run" is picked by p99 latency instead.
FIXED_RATE_KINDS = ("reqrep-open",)
# Rows without traffic: reported as the server's CPU time over the wait (idle_table).
IDLE_KINDS = ("idle",)
# Rows that count misses (propagation_table), not throughput.
MISS_KINDS = ("propagation",)
LATENCY_PLOT_KINDS = ("reqrep", "reqrep-open", "jspub", "jsconsume", "stanpub", "kvput", "kvget")
# natrix-bench workloads whose report carries a `redelivery` object (phase by phase).
REDELIVERY_KINDS = ("jsredeliver", "stanredeliver")


def read_jsonl(path: Path) -> tuple[dict, list[dict]]:
    meta, runs = None, []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            record = json.loads(line)
            if record.get("kind") == "meta":
                meta = record
            elif record.get("kind") == "meta_update" and meta is not None:
                meta.update({k: v for k, v in record.items() if k != "kind"})
            elif record.get("kind") == "run":
                runs.append(record)
    if meta is None:
        raise ValueError(f"{path}: no meta record")
    return meta, runs


# ---------------------------------------------------------------------------------------------
# Statistics over the rounds of one (layout, workload, server) cell


@dataclass
class Cell:
    """The measured rounds of one server on one workload in one layout."""

    ok_runs: list[dict]
    failed: int
    kind: str

    @property
    def results(self) -> list[dict]:
        return [r["result"] for r in self.ok_runs]

    def values(self, key: str) -> list[float]:
        return [r[key] for r in self.results if r.get(key) is not None]

    def latency_values(self, key: str) -> list[float]:
        return [r["latency_us"][key] for r in self.results
                if r.get("latency_us") and r["latency_us"].get(key) is not None]

    def median(self, key: str) -> float | None:
        vals = self.values(key)
        return statistics.median(vals) if vals else None

    def spread(self, key: str) -> tuple[float, float] | None:
        vals = self.values(key)
        return (min(vals), max(vals)) if vals else None

    def latency_median(self, key: str) -> float | None:
        vals = self.latency_values(key)
        return statistics.median(vals) if vals else None

    def ack_latency_median(self, key: str) -> float | None:
        vals = [r["ack_latency_us"][key] for r in self.results
                if r.get("ack_latency_us") and r["ack_latency_us"].get(key) is not None]
        return statistics.median(vals) if vals else None

    def median_run(self) -> dict | None:
        """The round whose headline is the median (the lower middle one for an even count):
        by msgs/s, or by p99 latency for fixed-rate workloads."""
        results = self.results
        if not results:
            return None
        if self.kind in FIXED_RATE_KINDS and all(r.get("latency_us") for r in results):
            ranked = sorted(results, key=lambda r: r["latency_us"]["p99"])
        else:
            ranked = sorted(results, key=lambda r: r.get("msgs_per_s") or 0.0)
        return ranked[(len(ranked) - 1) // 2]


def build_cells(meta: dict, runs: list[dict]) -> dict[tuple[str, str, str], Cell]:
    kinds = {w["name"]: w["kind"] for w in meta["workloads"]}
    cells: dict[tuple[str, str, str], Cell] = {}
    for run in runs:
        if run.get("phase") != "measure":
            continue
        key = (run["layout"], run["workload"], run["server"])
        cell = cells.setdefault(key, Cell([], 0, kinds.get(run["workload"], "")))
        if run["ok"]:
            cell.ok_runs.append(run)
        else:
            cell.failed += 1
    return cells


# ---------------------------------------------------------------------------------------------
# Number formatting


def _unit(value: float) -> tuple[float, str]:
    if value >= 1e6:
        return 1e6, " M"
    if value >= 1e3:
        return 1e3, " k"
    return 1.0, ""


def _num(value: float) -> str:
    """Three significant figures, at most two decimals."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_with_spread(median: float | None, spread: tuple[float, float] | None,
                    scale_units: bool = True) -> str:
    if median is None:
        return "–"
    div, suffix = _unit(median) if scale_units else (1.0, "")
    text = f"{_num(median / div)}{suffix}"
    if spread:
        low, high = _num(spread[0] / div), _num(spread[1] / div)
        if low != high:
            text += f" ({low}–{high})"
    return text


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _overlap(a: tuple[float, float] | None, b: tuple[float, float] | None) -> bool:
    return bool(a and b and a[0] <= b[1] and b[0] <= a[1])


# ---------------------------------------------------------------------------------------------
# Markdown


def server_labels(meta: dict, runs: list[dict]) -> dict[str, str]:
    """Column names: the configured label, else the key plus the INFO version seen."""
    labels = {}
    for key in meta["servers_order"]:
        label = meta["servers"].get(key, {}).get("label")
        if not label:
            versions = sorted({r["result"].get("server_version") for r in runs
                               if r["server"] == key and r["ok"] and r["result"].get("server_version")})
            label = f"{key} {'/'.join(versions)}".strip()
        labels[key] = label
    return labels


def layout_table(meta: dict, runs: list[dict], cells: dict, layout_key: str) -> list[str]:
    servers = [s for s in meta["servers_order"] if any(k[0] == layout_key and k[2] == s for k in cells)]
    ours = [s for s in servers if s.startswith("natrix")]
    references = [s for s in servers if not s.startswith("natrix")]
    labels = server_labels(meta, runs)
    short = {s: labels[s].replace("nats-server ", "nats ") for s in servers}

    header = ["workload"]
    header += [f"{short[s]} msgs/s" for s in servers]
    if references:
        header += [f"{short[n]} / faster nats" for n in ours]
    header.append("MB/s (" + " / ".join(short[s] for s in servers) + ")")
    header += [f"p50 / p99 µs {short[s]}" for s in servers]
    with_acks = any(c.latency_median("p50") is not None and c.results and
                    any(r.get("ack_latency_us") for r in c.results)
                    for k, c in cells.items() if k[0] == layout_key)
    if with_acks:
        header += [f"ack p50 / p99 µs {short[s]}" for s in servers]
    header += [f"server ns/msg {short[s]}" for s in servers]
    if references:
        header += [f"ns/msg {short[n]} / leaner nats" for n in ours]

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for workload in meta["workloads"]:
        name = workload["name"]
        if workload["kind"] in IDLE_KINDS or workload["kind"] in MISS_KINDS:
            continue  # in idle_table, propagation_table
        row_cells = {s: cells.get((layout_key, name, s)) for s in servers}
        if not any(c for c in row_cells.values()):
            continue
        row = [workload["title"]]
        # msgs/s, with the client-bound mark from the median run
        for s in servers:
            cell = row_cells[s]
            if cell is None or not cell.ok_runs:
                row.append("failed" if cell and cell.failed else "–")
                continue
            text = fmt_with_spread(cell.median("msgs_per_s"), cell.spread("msgs_per_s"))
            median_run = cell.median_run()
            if median_run and median_run.get("client_bound"):
                text += f" {CLIENT_BOUND_MARK}"
            if cell.failed:
                text += f" ({cell.failed} failed)"
            row.append(text)
        if references:
            fixed_rate = workload["kind"] in FIXED_RATE_KINDS
            for n in ours:
                row.append("(fixed rate)" if fixed_rate else _throughput_ratio(row_cells, n, references))
        # MB/s
        row.append(" / ".join(_num(c.median("mb_per_s")) if c and c.median("mb_per_s") is not None else "–"
                              for c in (row_cells[s] for s in servers)))
        # latency
        for s in servers:
            cell = row_cells[s]
            p50 = cell.latency_median("p50") if cell else None
            p99 = cell.latency_median("p99") if cell else None
            row.append("–" if p50 is None or p99 is None else f"{_num(p50)} / {_num(p99)}")
        if with_acks:
            for s in servers:
                cell = row_cells[s]
                p50 = cell.ack_latency_median("p50") if cell else None
                p99 = cell.ack_latency_median("p99") if cell else None
                row.append("–" if p50 is None or p99 is None else f"{_num(p50)} / {_num(p99)}")
        # server CPU per message
        for s in servers:
            cell = row_cells[s]
            row.append(fmt_with_spread(cell.median("server_ns_per_msg"), cell.spread("server_ns_per_msg"),
                                       scale_units=False) if cell else "–")
        if references:
            for n in ours:
                row.append(_cpu_ratio(row_cells, n, references))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def idle_table(meta: dict, runs: list[dict], cells: dict, layout_key: str) -> list[str]:
    """The idle rows: each server's CPU time while no client was connected."""
    servers = [s for s in meta["servers_order"] if any(k[0] == layout_key and k[2] == s for k in cells)]
    labels = server_labels(meta, runs)
    lines: list[str] = []
    for workload in meta["workloads"]:
        if workload["kind"] not in IDLE_KINDS:
            continue
        row_cells = {s: cells.get((layout_key, workload["name"], s)) for s in servers}
        if not any(row_cells.values()):
            continue
        if not lines:
            lines = ["| row | " + " | ".join(f"{labels[s]} server CPU s" for s in servers) + " |",
                     "|" + "---|" * (len(servers) + 1)]
        row = [workload["title"]]
        for s in servers:
            cell = row_cells[s]
            if cell is None or not cell.ok_runs or cell.median("server_cpu_s") is None:
                row.append("–")
                continue
            lo_hi = cell.spread("server_cpu_s")
            median = cell.median("server_cpu_s")
            row.append(f"{median:.2f}" + (f" ({lo_hi[0]:.2f}–{lo_hi[1]:.2f})" if lo_hi else ""))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def propagation_table(meta: dict, runs: list[dict], cells: dict, layout_key: str) -> list[str]:
    """The propagation rows: tries whose PUB missed a SUB made just before on another
    connection (published - delivered), median over the rounds with the range."""
    servers = [s for s in meta["servers_order"] if any(k[0] == layout_key and k[2] == s for k in cells)]
    labels = server_labels(meta, runs)
    lines: list[str] = []
    for workload in meta["workloads"]:
        if workload["kind"] not in MISS_KINDS:
            continue
        row_cells = {s: cells.get((layout_key, workload["name"], s)) for s in servers}
        if not any(row_cells.values()):
            continue
        if not lines:
            lines = ["| row | " + " | ".join(f"{labels[s]} misses" for s in servers) + " |",
                     "|" + "---|" * (len(servers) + 1)]
        row = [workload["title"]]
        for s in servers:
            cell = row_cells[s]
            ok = [r for r in (cell.results if cell else []) if r.get("published")]
            if not ok:
                row.append("–")
                continue
            misses = sorted(r["published"] - r["delivered"] for r in ok)
            median = misses[len(misses) // 2]
            spread = f" ({misses[0]}–{misses[-1]})" if len(misses) > 1 else ""
            row.append(f"{median} of {ok[0]['published']}{spread}")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _ratio(row_cells: dict, ours_key: str, references: list[str], metric: str, pick) -> str:
    """ours / the best reference on `metric`, where `pick` (max or min) chooses the best."""
    ours = row_cells[ours_key]
    theirs = [row_cells[s] for s in references if row_cells[s] and row_cells[s].median(metric)]
    if not ours or ours.median(metric) is None or not theirs:
        return "–"
    best = pick(theirs, key=lambda c: c.median(metric))
    text = fmt_ratio(ours.median(metric) / best.median(metric))
    if _overlap(ours.spread(metric), best.spread(metric)):
        text = OVERLAP_MARK + text
    return text


def _throughput_ratio(row_cells: dict, natrix: str, references: list[str]) -> str:
    return _ratio(row_cells, natrix, references, "msgs_per_s", max)


def _cpu_ratio(row_cells: dict, natrix: str, references: list[str]) -> str:
    return _ratio(row_cells, natrix, references, "server_ns_per_msg", min)


def _medians_over(rounds: int) -> str:
    return "one round, no medians" if rounds == 1 else f"medians over {rounds} rounds"


def legend(meta: dict) -> list[str]:
    rounds = meta["rounds"]
    return [
        f"Every number is the **median over {rounds} round{'s' if rounds != 1 else ''}** "
        "(a fresh server per run, servers interleaved and their order alternated between rounds); "
        "the range in parentheses is the min–max over the rounds.",
        "",
        "- Column names: nats = nats-server (see Setup for the exact builds).",
        "- msgs/s: natrix-bench's `msgs_per_s`: messages delivered to all subscribers together "
        "per second, or the publish rate the server ingested when nothing is delivered (pub). "
        "For fanout it counts every delivery; for reqrep it is requests/s; for reqrep-open it is "
        "the fixed request rate asked for, so there the latency is what to compare. KV rows: puts "
        "acknowledged or direct gets answered per second (latency: each one's round trip). Redelivery "
        "rows: redeliveries per second in the window, and server ns/msg is per redelivery (see "
        "Redelivery phases).",
        "- natrix / faster nats-server: natrix's median divided by the better reference median "
        f"(above 1 = natrix faster). `{OVERLAP_MARK}` = the min–max ranges overlap, so the "
        "difference is within the run-to-run noise.",
        "- MB/s: payload bytes only.",
        "- p50 / p99 µs: medians over rounds of natrix-bench's latency percentiles "
        "(payloads carry their send time; reqrep: round trip; reqrep-open: from the scheduled send time; "
        "JetStream: jspub from the publish to its ack, jsconsume from the pull request to each message, "
        "jsworkqueue from the publish to the delivery; jspush has none; STAN: stanpub from the publish "
        "to its PubAck, stansub has none).",
        "- ack p50 / p99 µs (JetStream tables): round trips of what the server acknowledges back: "
        "the double ack's confirmation (pull + double ack) and the publish acks (work queue).",
        "- server ns/msg: server user+system CPU time during the run per delivered message "
        "(per published one for pub), from /proc/PID/stat. ns/msg ratio below 1 = natrix uses less CPU.",
        f"- `{CLIENT_BOUND_MARK}`: natrix-bench was the bottleneck in the median run "
        "(`client_bound`: its CPU use was ≥ 90 % of the cores it may use), so the number is a "
        "floor for the server, not its ceiling.",
        "- The median run (for the mark and the latency plot) is the round with the median msgs/s; "
        "for reqrep-open, the round with the median p99.",
    ]


def markdown(meta: dict, runs: list[dict], plot_name: str | None) -> str:
    cells = build_cells(meta, runs)
    labels = server_labels(meta, runs)
    commit = meta["commit"]
    machine = meta["machine"]
    out: list[str] = []
    title = "natrix vs nats-server"
    if meta.get("quick"):
        title += " (QUICK SMOKE TEST, not a result)"
    elif meta["rounds"] < 5:
        title += f" ({meta['rounds']} round{'s' if meta['rounds'] != 1 else ''}: fewer than the 5 a result needs)"
    out += [f"# {title}", "", f"Run started {meta['started_utc']} UTC, took {meta.get('duration_min', '?')} min, "
            f"with `{meta.get('command', 'perf/compare')}`.", ""]
    if meta.get("warnings"):
        out += ["**Warnings:**", ""] + [f"- {w}" for w in meta["warnings"]] + [""]

    out += ["## Setup", ""]
    dirty = "dirty" if commit["dirty"] else "clean"
    out.append(f"- commit: `{commit['sha']}` ({dirty} tree"
               + (f": {', '.join(commit['dirty_files'][:12])}" + (" …" if len(commit["dirty_files"]) > 12 else "")
                  if commit["dirty"] else "") + ")")
    out.append(f"- machine: {machine['nproc']} CPUs ({machine['cpu_model']}), kernel {machine['kernel']}, "
               f"{machine['mem_gib']:.1f} GiB memory; load average at start {machine['loadavg']}")
    out.append("- servers:")
    for key in meta["servers_order"]:
        server = meta["servers"][key]
        info_versions = sorted({r["result"].get("server_version") for r in runs
                                if r["server"] == key and r["ok"] and r["result"].get("server_version")})
        out.append(f"  - {labels[key]}: `{server['binary']}` — `--version`: {server.get('version_output', '?')}; "
                   f"INFO `version`: {', '.join(info_versions) or '?'}")
    for note in meta.get("server_notes", []):
        out.append(f"  - {note}")
    for note in meta.get("notes", []):
        out.append(f"- {note}")
    out.append(f"- load generator: `{meta['bench']['binary']}`")
    limits = meta["limits"]
    out.append(f"- limits, the same for every server: max_payload {limits['max_payload']} B, "
               f"max_pending {limits['max_pending']} B")
    if any(w.get("js_sync") for w in meta["workloads"]):
        out.append("- JetStream rows: every run on a fresh file store (`-js -sd <tempdir>`, removed after "
                   "the run), natrix and nats-server only; `sync_interval always` rows give both servers a "
                   "config file with `jetstream { sync_interval: always }`, the other rows their defaults")
    if any(w.get("stan") for w in meta["workloads"]):
        out.append("- NATS Streaming rows: natrix serves STAN (`-cid test-cluster`, memory store or "
                   "`-st FILE --dir <tempdir>`) and runs the STAN workload; nats-server, in the same row "
                   "and rounds, runs the JetStream twin on a fresh file store (`-js -sd <tempdir>`; default "
                   "sync_interval, or `sync_interval: always` in the rows that say so), so the ratio is "
                   "natrix's STAN against nats-server's JetStream. natrix's STAN file store fdatasyncs "
                   "every flush before it acks (`file_sync`, the default), except in the rows that say "
                   "`--file_sync=false`, where acked means written")
    if any(w["kind"] in ("kvput", "kvget") for w in meta["workloads"]):
        out.append("- KV rows: a fresh `-js -sd <tempdir>` per run, natrix and nats-server only; the bucket "
                   "is made as nats.go/nats-py/nats.js make one (stream `KV_<bucket>` on `$KV.<bucket>.>`, "
                   "max_msgs_per_subject 1, discard new, allow_direct, deny_delete, allow_rollup_hdrs, "
                   "2 min duplicate window, file storage); gets are direct gets "
                   "(`$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>`) of keys put once before the clock")
    if any(w["kind"] in REDELIVERY_KINDS for w in meta["workloads"]):
        out.append("- redelivery rows: the JetStream stream uses **memory storage** (16 B payloads), the STAN "
                   "channel natrix's memory store; the servers still get `-js -sd <tempdir>`")
    longer = sorted({(w["timeout_s"], w["name"]) for w in meta["workloads"]
                     if w.get("timeout_s") and w["timeout_s"] != meta["bench"]["timeout_s"]})
    out.append(f"- rounds: {meta['rounds']}; message counts scaled by {meta['scale']}; "
               f"natrix-bench `--timeout {meta['bench']['timeout_s']}`"
               + "".join(f" (`{t}` for {name})" for t, name in longer))
    out += ["", "Layouts:", ""]
    for layout in meta["layouts"]:
        shards = f"`--shards {layout['shards']}`" if layout["shards"] else "its default shards"
        procs = f"`GOMAXPROCS={layout['gomaxprocs']}`" if layout["gomaxprocs"] else "its default GOMAXPROCS"
        out.append(f"- **{layout['key']}: {layout['title']}** — servers `taskset -c {layout['server_cpus']}` "
                   f"(natrix {shards}, nats-server {procs}); "
                   "natrix-bench " + (f"`--cpus {layout['bench_cpus']}`" if layout["bench_cpus"] else "unpinned"))
    out += ["", "Workloads (one natrix-bench invocation each):", "", "| workload | natrix-bench arguments |", "|---|---|"]
    for w in meta["workloads"]:
        args = f"`{' '.join(w['args'])}`"
        if w.get("twin_args"):
            args = f"natrix: {args}; nats-server: `{' '.join(w['twin_args'])}`"
        out.append(f"| {w['title']} | {args} |")
    out.append("")

    for layout in meta["layouts"]:
        if not any(k[0] == layout["key"] for k in cells):
            continue
        out += [f"## Layout {layout['key']}: {layout.get('name', layout['title'])}", "", f"{layout['title']}; {_medians_over(meta['rounds'])}.", ""]
        out += layout_table(meta, runs, cells, layout["key"])
        out.append("")
        idle = idle_table(meta, runs, cells, layout["key"])
        if idle:
            out += ["Idle (no client; the server's CPU time over the wait, read from /proc/PID/stat "
                    "with 10 ms ticks):", ""] + idle + [""]
        window = propagation_table(meta, runs, cells, layout["key"])
        if window:
            out += ["Propagation window (SUB on one connection, a busy-wait, PUB on another: on "
                    "natrix on the other shard; no PING; a message not in within 200 ms is a miss):",
                    ""] + window + [""]
    out += redelivery_section(meta, runs, cells)
    out += legend(meta) + [""]
    if plot_name:
        out += ["## Latency", "", f"![latency percentiles]({plot_name})", "",
                "Percentile distribution of the median round (HDR log scale on x).", ""]

    failures = [r for r in runs if not r["ok"]]
    if failures:
        out += ["## Failed runs", ""]
        for r in failures:
            out.append(f"- round {r['round']} layout {r['layout']} {r['workload']} {r['server']}: {r['error']}")
        out.append("")
    killed = [r for r in runs if r.get("stopped_by") in ("sigkill", "exited")]
    if killed:
        out += ["## Servers that did not stop on SIGTERM (or had exited)", ""]
        for r in killed:
            out.append(f"- round {r['round']} layout {r['layout']} {r['workload']} {r['server']}: {r['stopped_by']}")
        out.append("")
    out.append(f"Raw natrix-bench results: `{meta.get('jsonl_name', '')}` (one JSON object per run).")
    return "\n".join(out) + "\n"


def _redelivery_median(cell: Cell, key: str) -> float | None:
    vals = [r["redelivery"][key] for r in cell.results
            if r.get("redelivery") and r["redelivery"].get(key) is not None]
    return statistics.median(vals) if vals else None


def redelivery_section(meta: dict, runs: list[dict], cells: dict) -> list[str]:
    """The phases of the redelivery rows, one line per server: the first pass, the idle
    phase (everything delivered, nothing due) and the window of redeliveries."""
    rows = [w for w in meta["workloads"] if w["kind"] in REDELIVERY_KINDS
            or (w.get("twin_args") or [""])[0] in REDELIVERY_KINDS]
    if not rows:
        return []
    labels = server_labels(meta, runs)
    out = ["## Redelivery phases", "",
           "Messages delivered and never acked. First pass: from the subscription (consumer creation) "
           "to the last first delivery. Idle: from 1 s after the first pass to 1 s before the first "
           "deadline (only with a first ack wait longer than the first pass), the server's CPU in it as "
           "a share of one core. Window: from the first redelivery, the redeliveries counted and the "
           "server's CPU per redelivery. "
           + _medians_over(meta["rounds"]).capitalize() + ".", "",
           "| row | server | pending | first pass s | idle s | idle CPU s | idle CPU, % of a core | "
           "first redelivery at s | delivered before it | redeliveries in window | redeliveries/s | "
           "distinct redelivered | server µs / redelivery |",
           "|" + "---|" * 13]

    def num(value: float | None, scale: float = 1.0) -> str:
        return "–" if value is None else _num(value * scale)

    for w in rows:
        for s in meta["servers_order"]:
            cell = cells.get(("j", w["name"], s))
            if cell is None:
                continue
            if not cell.ok_runs:
                out.append(f"| {w['title']} | {labels[s]} | failed | | | | | | | | | | |")
                continue
            m = lambda key: _redelivery_median(cell, key)  # noqa: E731
            out.append("| " + " | ".join([
                w["title"], labels[s], fmt_with_spread(m("pending"), None), num(m("first_pass_s")),
                num(m("idle_s")), num(m("idle_server_cpu_s")), num(m("idle_core_pct")),
                num(m("first_redelivery_s")), fmt_with_spread(m("delivered_before_window"), None),
                fmt_with_spread(m("redeliveries"), None), fmt_with_spread(m("redeliveries_per_s"), None),
                fmt_with_spread(m("distinct_redelivered"), None), num(m("server_ns_per_redelivery"), 1e-3),
            ]) + " |")
    return out + [""]


def stdout_tables(meta: dict, runs: list[dict]) -> str:
    cells = build_cells(meta, runs)
    out = []
    for layout in meta["layouts"]:
        if any(k[0] == layout["key"] for k in cells):
            out += [f"Layout {layout['key']}: {layout['title']} ({_medians_over(meta['rounds'])})", ""]
            out += layout_table(meta, runs, cells, layout["key"]) + [""]
    out += redelivery_section(meta, runs, cells)
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Latency plot

_PERCENTILE_TICKS = [(0, "0"), (90, "90"), (99, "99"), (99.9, "99.9"), (99.99, "99.99"), (99.999, "99.999")]


def _hdr_x(percentile: float) -> float:
    return 1.0 / (1.0 - percentile / 100.0)


def write_latency_plot(meta: dict, runs: list[dict], path: Path) -> bool:
    """One subplot per (latency workload, layout), every server on it. Returns False (and
    writes nothing) when no run has latency percentiles to plot."""
    cells = build_cells(meta, runs)
    labels = server_labels(meta, runs)
    workloads = [w for w in meta["workloads"] if w["kind"] in LATENCY_PLOT_KINDS]
    layouts = [l for l in meta["layouts"] if any(k[0] == l["key"] for k in cells)]
    panels = []
    for w in workloads:
        for l in layouts:
            if not any(k[0] == l["key"] and k[1] == w["name"] for k in cells):
                continue  # this row does not run in this layout
            series = []
            for s in meta["servers_order"]:
                cell = cells.get((l["key"], w["name"], s))
                run = cell.median_run() if cell else None
                points = [(p, us) for p, us in (run or {}).get("latency_percentiles") or [] if p < 100.0]
                if points:
                    series.append((labels[s], points))
            panels.append((w, l, series))
    if not any(series for _, _, series in panels):
        return False

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    cols = len(layouts) if len(layouts) > 1 else min(2, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 4.2 * rows), squeeze=False)
    for i in range(len(panels), rows * cols):
        axes[i // cols][i % cols].set_visible(False)
    for i, (w, l, series) in enumerate(panels):
        ax = axes[i // cols][i % cols]
        top = 1.0
        for label, points in series:
            xs = [_hdr_x(p) for p, _ in points]
            ax.plot(xs, [us for _, us in points], marker=".", linewidth=1.4, label=label)
            top = max(top, max(xs))
        ticks = [(p, t) for p, t in _PERCENTILE_TICKS if _hdr_x(p) <= top * 1.01]
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks([_hdr_x(p) for p, _ in ticks])
        ax.set_xticklabels([t for _, t in ticks])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel("percentile")
        ax.set_ylabel("latency (µs)")
        ax.set_title(f"{w['title']}\nlayout {l['key']}: {l.get('name', l['title'])}", fontsize=10)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
            lambda v, _: f"{v:g}" if str(f"{v:g}")[0] in "25" else ""))
        ax.grid(True, which="both", alpha=0.3)
        if series:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(f"Latency percentiles, median round of {meta['rounds']} — commit {meta['commit']['short']}",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (4.2 * rows)))  # room for the suptitle
    fig.savefig(path)
    plt.close(fig)
    return True
