"""`make bench-scale`: the scale targets measured as the app is deployed, then the worker loops.

Every figure of the first table comes from real ``odoo-bin`` servers and their cron threads
(bench/deployed.py: a fresh database per run, Send pressed through the ORM, nothing else
sending). One run of this process measures, all on the same machine in the same hour:

- each layout of BENCH_LAYOUTS (default 1x1,1x2,2x2) at N (default 100,000) through the http
  gateway at each latency of BENCH_LATENCIES (default 100,500 ms), BENCH_REPEATS times (3),
  repeats interleaved so that a change of load hits every layout;
- the big run: BENCH_SCALE_BIG recipients (1,000,000; 0 skips it) through 2 x 2 at 100 ms;
- Odoo's mass_mailing_sms at N through its IAP stand-in at 100 ms (BENCH_SCALE_ODOO=0 skips it);
- the second row, never in place of the first: our own worker loops (bench.py's runners, 4 of
  them) at N and each latency, one run each (BENCH_SCALE_LOOPS=0 skips them).

Then each target of the scale issue with its value and PASS, FAIL or NOT MEASURED. Results in
bench/results/scale-deployed-<timestamp>.{json,txt}. The former worker-loop plan is
`make bench-scale-loops` (bench.py's BENCH_PLAN=scale).

    make bench-scale
    BENCH_LAYOUTS=1x1,2x2 BENCH_LATENCIES=100 BENCH_REPEATS=1 BENCH_SCALE_BIG=0 make bench-scale N=20000
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import deployed  # noqa: E402
from sides import SIDES  # noqa: E402

import bench  # noqa: E402

TARGET_N = 100_000
TARGET_BIG = 1_000_000
TARGETS = {
    "scale_out": "2 x 2 threads (4 sender crons) at least 3x the throughput of 1 x 1 at 100,000, at each latency",
    "no_stall": "no stretch longer than 2 s without a message sent between the first SMS and the last",
    "first_sms": "first SMS within 2 s of Send",
    "big": "1,000,000 through 2 x 2 threads within 3 minutes at 100 ms",
    "vs_odoo": "at least 30x Odoo's mass_mailing_sms at 100,000 (2 x 2 at 100 ms against Odoo at 100 ms)",
}


def _settings(n):
    return {
        "N": n,
        "BENCH_LAYOUTS": os.environ.get("BENCH_LAYOUTS", "1x1,1x2,2x2"),
        "BENCH_LATENCIES": [float(x) for x in bench._env_list("BENCH_LATENCIES", "100,500")],
        "BENCH_REPEATS": int(os.environ.get("BENCH_REPEATS", "3")),
        "BENCH_SCALE_BIG": int(os.environ.get("BENCH_SCALE_BIG", str(TARGET_BIG))),
        "BENCH_SCALE_ODOO": int(os.environ.get("BENCH_SCALE_ODOO", "1")),
        "BENCH_SCALE_LOOPS": int(os.environ.get("BENCH_SCALE_LOOPS", "1")),
        "BENCH_DB_PREFIX": bench.DB_PREFIX,
    }


def _set_latency(latency):
    os.environ["BENCH_GATEWAY"] = "http"
    os.environ["BENCH_LATENCY_MS"] = f"{latency:g}"


def run_plan(n):
    cfg = _settings(n)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    plan = {"plan": "scale-deployed", "started": started, "settings": cfg, "deployed": [], "big": None,
            "odoo": None, "loops": []}  # fmt: skip
    out = bench.RESULTS / f"scale-deployed-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"

    def save():  # after every run, should the plan stop half-way
        Path(f"{out}.json").write_text(json.dumps(plan, indent=1, default=str))

    aud = bench._audience(n)
    layouts = deployed._layouts()
    for repeat in range(1, cfg["BENCH_REPEATS"] + 1):
        for latency in cfg["BENCH_LATENCIES"]:
            _set_latency(latency)
            for servers, threads in layouts:
                bench.log(f"scale plan: {servers}x{threads}, {latency:g} ms, N={n:,}, repeat {repeat}")
                plan["deployed"].append(_attempt(deployed.run_one, aud, servers, threads, repeat))
                save()
    if cfg["BENCH_SCALE_LOOPS"]:
        os.environ["BENCH_WORKERS"] = "4"
        for latency in cfg["BENCH_LATENCIES"]:
            _set_latency(latency)
            bench.log(f"scale plan: worker loops (4 runners), {latency:g} ms, N={n:,}")
            plan["loops"].append(dict(_attempt(bench.measure, SIDES["ours"], n, aud), latency_ms=latency))
            save()
    if cfg["BENCH_SCALE_ODOO"]:
        _set_latency(100)
        bench.log(f"scale plan: Odoo's mass_mailing_sms, 100 ms, N={n:,}")
        plan["odoo"] = _attempt(bench.measure, SIDES["odoo"], n, aud)
        save()
    aud = None  # the big audience is built after the small one is gone
    if cfg["BENCH_SCALE_BIG"]:
        _set_latency(100)
        big = bench._audience(cfg["BENCH_SCALE_BIG"])
        bench.log(f"scale plan: the big run, 2x2, 100 ms, N={cfg['BENCH_SCALE_BIG']:,}")
        plan["big"] = _attempt(deployed.run_one, big, 2, 2, 1)
        big = None
    loads = [r["load_before"] for r in plan["deployed"] if "load_before" in r]
    plan["provenance"] = bench.provenance(
        gateway="http gateway, latency in each row",
        load=f"load {min(loads):.1f}-{max(loads):.1f} at the runs' starts" if loads else None,
    )
    plan["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    plan["targets"] = targets(plan)
    text = "\n".join(report(plan))
    print(text, flush=True)
    Path(f"{out}.txt").write_text(text + "\n")
    save()
    bench.log(f"scale plan: written to {out}.json and .txt")


def _attempt(run, *args):
    """One run's figures, or a failed run's reason: the other runs go on."""
    try:
        return dict(run(*args), latency_ms=bench._latency_ms())
    except (Exception, SystemExit) as exc:
        bench.log(f"scale plan: run failed: {exc!r}")
        return {"failed": repr(exc), "latency_ms": bench._latency_ms()}


def _cell(plan, layout, latency):
    return [
        r for r in plan["deployed"]
        if not r.get("failed") and r["layout"] == layout and r["latency_ms"] == latency and r.get("rate")
    ]  # fmt: skip


def _median(runs, key):
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def targets(plan):
    """Each target: its value from this run, and PASS, FAIL or NOT MEASURED (a run skipped or
    failed, or made at another size than the target names)."""
    cfg, rows = plan["settings"], []
    at_size = cfg["N"] == TARGET_N

    def add(key, ok, measured, value):
        verdict = "NOT MEASURED" if ok is None or not measured else "PASS" if ok else "FAIL"
        rows.append({"key": key, "target": TARGETS[key], "verdict": verdict, "value": value})

    parts, oks = [], []
    for latency in cfg["BENCH_LATENCIES"]:
        one, four = _cell(plan, "1x1", latency), _cell(plan, "2x2", latency)
        if one and four:
            ratio = _median(four, "rate") / _median(one, "rate")
            oks.append(ratio >= 3)
            rates = f"{_median(four, 'rate'):,.0f}/s vs {_median(one, 'rate'):,.0f}/s"
            parts.append(f"{latency:g} ms {ratio:.2f}x ({rates})")
        else:
            parts.append(f"{latency:g} ms not measured")
    add("scale_out", all(oks) if oks else None, at_size and len(oks) == len(cfg["BENCH_LATENCIES"]),
        f"N={cfg['N']:,}: " + ", ".join(parts))  # fmt: skip

    measured = [r for r in plan["deployed"] if not r.get("failed")]
    big = plan["big"] if plan["big"] and not plan["big"].get("failed") else None
    stalls = [(r["longest_stall_s"], f"{r['layout']} {r['latency_ms']:g} ms #{r['repeat']}") for r in measured]
    if big:
        stalls.append((big["longest_stall_s"], "the big run"))
    if stalls:
        worst = max(stalls)
        value = f"longest stretch {worst[0]:.1f} s ({worst[1]}) over {len(stalls)} runs"
        add("no_stall", worst[0] <= 2.0, at_size, value)
    else:
        add("no_stall", None, False, "no run")
    firsts = [(r["first_sms_s"], f"{r['layout']} {r['latency_ms']:g} ms #{r['repeat']}") for r in measured]
    if firsts:
        worst = max(firsts)
        value = f"slowest first SMS {worst[0]:.2f} s ({worst[1]}) over {len(firsts)} runs"
        add("first_sms", worst[0] <= 2.0, at_size, value)
    else:
        add("first_sms", None, False, "no run")
    if big:
        add("big", big["last_sms_s"] <= 180, big["n"] == TARGET_BIG,
            f"{big['last_sms_s']:.1f} s for N={big['n']:,} ({big['rate']:,.0f}/s)")  # fmt: skip
    else:
        add("big", None, False, "not run (BENCH_SCALE_BIG=0)" if not cfg["BENCH_SCALE_BIG"] else "the big run failed")
    odoo = plan["odoo"] if plan["odoo"] and not plan["odoo"].get("failed") else None
    ours = _cell(plan, "2x2", 100.0)
    if odoo and ours:
        ratio = _median(ours, "rate") / odoo["rate"]
        value = f"{ratio:.0f}x: {_median(ours, 'rate'):,.0f}/s on 2 x 2 cron threads vs Odoo {odoo['rate']:,.0f}/s"
        add("vs_odoo", ratio >= 30, at_size, value)
    else:
        add("vs_odoo", None, False, "Odoo's run or ours at 2x2, 100 ms missing")
    return rows


def report(plan):
    cfg = plan["settings"]
    lines = [
        f"== scale plan as deployed (real odoo-bin servers, Odoo's cron threads): all figures from this run "
        f"({plan['started']} to {plan['finished']})",
        plan["provenance"],
        "",
        f"{'layout':>7} {'crons':>5} {'latency':>8} {'N':>9} {'first SMS s':>11} {'last SMS s':>10} {'msg/s':>8} "
        f"{'longest stall s':>15} {'x 1x1':>6}   runs (last SMS)",
    ]
    for latency in cfg["BENCH_LATENCIES"]:
        base = _median(_cell(plan, "1x1", latency), "rate")
        for layout in dict.fromkeys(r["layout"] for r in plan["deployed"] if not r.get("failed")):
            group = _cell(plan, layout, latency)
            if not group:
                continue
            rate = _median(group, "rate")
            lines.append(
                f"{layout:>7} {group[0]['sender_crons']:>5} {latency:>6g}ms {cfg['N']:>9,} "
                f"{_median(group, 'first_sms_s'):>11.2f} {_median(group, 'last_sms_s'):>10.1f} {rate:>8,.0f} "
                f"{_median(group, 'longest_stall_s'):>15.1f} {(f'{rate / base:.2f}' if base else '-'):>6}   "
                + ", ".join(f"{r['last_sms_s']:.1f}s" for r in group)
            )
    failed = [r for r in plan["deployed"] if r.get("failed")]
    if failed:
        lines.append(f"{len(failed)} run(s) failed: " + "; ".join(r["failed"] for r in failed))
    big = plan["big"]
    if big and not big.get("failed"):
        lines.append(
            f"big run: 2x2 at 100 ms, N={big['n']:,}: first SMS {big['first_sms_s']:.2f} s, last SMS "
            f"{big['last_sms_s']:.1f} s, {big['rate']:,.0f}/s, longest stall {big['longest_stall_s']:.1f} s"
        )
    elif cfg["BENCH_SCALE_BIG"]:
        lines.append(f"big run FAILED: {big['failed'] if big else 'not run'}")
    lines += ["", "where the cores went, Send to done (CPU time per 1,000 messages sent; machine busy = share of its "
              f"{os.cpu_count()} cores), and when the longest stall began (after Send, UTC):"]  # fmt: skip
    measured = [r for r in plan["deployed"] if not r.get("failed")] + ([big] if big and not big.get("failed") else [])
    for run in measured:
        head = f"{run['layout']} {run['latency_ms']:g} ms N={run['n']:,} #{run['repeat']}"
        lines.append(f"  {head}: {deployed.cpu_line(run)}")
    if plan["loops"]:
        lines += ["", "second row: our own worker loops (bench.py's runners, not Odoo's cron threads), 4 runners:"]
        for row in plan["loops"]:
            if row.get("failed"):
                lines.append(f"  {row['latency_ms']:g} ms: FAILED {row['failed']}")
            else:
                lines.append(
                    f"  {row['latency_ms']:g} ms: first SMS {row['first_sms_s']:.2f} s, total {row['total_s']:.1f} s, "
                    f"{row['rate']:,.0f}/s"
                )
    odoo = plan["odoo"]
    if odoo:
        lines += [
            "",
            "Odoo's mass_mailing_sms at 100 ms: "
            + (f"FAILED {odoo['failed']}" if odoo.get("failed") else
               f"first SMS {odoo['first_sms_s']:.2f} s, total {odoo['total_s']:.1f} s, {odoo['rate']:,.0f}/s"),
        ]  # fmt: skip
    lines += ["", "targets:"]
    for row in plan["targets"]:
        lines.append(f"  {row['verdict']:<12} {row['target']}: {row['value']}")
    return lines


def main(argv):
    import odoo

    odoo.tools.config.parse_config(["-c", bench.ODOO_RC, "--log-level=warn"])
    odoo.netsvc.init_logger()
    bench.RESULTS.mkdir(exist_ok=True)
    run_plan(int(argv[0]) if argv and argv[0] else TARGET_N)


if __name__ == "__main__":
    main(sys.argv[1:])
