"""`make bench-deployed`: our sending as an administrator deploys it, on Odoo's own cron threads.

For each layout "servers x cron threads" (BENCH_LAYOUTS, default 1x1,1x2,2x2): a fresh
database with N list contacts (the audience of bench.py), the ``http`` gateway to the gateway
simulator at BENCH_LATENCY_MS, ``sms_marketing_custom.sender_crons`` = servers x threads,
then that many real ``odoo-bin`` servers started on the database (threaded, or with
BENCH_DEPLOYED_WORKERS=K: prefork with K HTTP workers and the cron worker processes).
Send is pressed through the ORM, as the form's button does, in this process: the servers
learn of it as they would of a user's Send (the cron trigger's NOTIFY). Nothing else sends.

This process then polls how many messages have left (the mailing's sent counter, every 0.1 s) and what the servers'
database sessions are doing (pg_stat_activity, every 0.25 s), until the mailing is done.
Printed per run: first SMS after Send, Send to last SMS, recipients/s, the longest stretch
with no message leaving (between the first and the last), and the sessions' wait events;
then per layout the median of BENCH_REPEATS runs and the ratio to 1x1, all from this run.
Results in bench/results/deployed-<timestamp>.{json,txt}.

    make bench-deployed N=100000 BENCH_LATENCY_MS=100
    BENCH_LAYOUTS=2x2 BENCH_DEPLOYED_WORKERS=2 make bench-deployed N=20000
"""

import collections
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import benchdb  # noqa: E402
from sides import SIDES  # noqa: E402

import bench  # noqa: E402

POLL_PROGRESS = 0.1
POLL_SESSIONS = 0.25
WARM_PATH = "/web/static/img/favicon.ico"
# a fixed piece of pure Python work, run on every core at once: the CPU time it takes says how fast this
# machine's cores are at that moment (on a virtual machine a loop like it took from 0.65 to 1.29 s of CPU
# within minutes, 2026-12-06), so a run's CPU per message can be read against the speed it ran at
SPEED_PROBE = """
import time
started = time.process_time()
total, table = 0, {}
for i in range(2_000_000):
    total += i * i % 7
    if i % 3 == 0:
        table[i % 200_000] = total
print(time.process_time() - started)
"""


def _layouts():
    layouts = []
    for item in os.environ.get("BENCH_LAYOUTS", "1x1,1x2,2x2").split(","):
        servers, threads = item.strip().lower().split("x")
        layouts.append((int(servers), int(threads)))
    return layouts


def _start_simulator(logs):
    port = bench._free_port()
    out = open(logs / "simulator.log", "w")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(
        [sys.executable, str(bench.STANDIN), "gateway", "--port", str(port),
         "--api-key", "bench", "--webhook-secret", "bench-secret", "--balance", "1e12",
         "--delivery", "delivered", "--delivery-delay", "0.5", "--latency-ms", str(bench._latency_ms())],
        stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    os.environ["BENCH_GATEWAY_URL"] = f"http://127.0.0.1:{port}"
    return proc, f"http://127.0.0.1:{port}/"


def _start_servers(db, servers, threads, logs):
    """``servers`` odoo-bin processes on ``db``, each with ``threads`` cron threads (or workers)."""
    import odoo

    odoo_bin = Path(odoo.__file__).resolve().parent.parent / "odoo-bin"
    prefork = int(os.environ.get("BENCH_DEPLOYED_WORKERS", "0"))
    procs, urls = [], []
    for number in range(servers):
        port = bench._free_port()
        out = open(logs / f"odoo-{number}.log", "w")  # noqa: SIM115 (closed with the process)
        cmd = [sys.executable, str(odoo_bin), "-c", bench.ODOO_RC, "-d", db, f"--db-filter=^{db}$",
               f"--http-port={port}", f"--max-cron-threads={threads}", f"--workers={prefork}",
               "--log-level=info", "--log-handler=werkzeug:WARNING"]  # fmt: skip
        if prefork:
            # a prefork server needs a free gevent port of its own
            cmd.append(f"--gevent-port={bench._free_port()}")
        procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        urls.append(f"http://127.0.0.1:{port}/web/login")
        if number == 0:
            bench._psql(
                db,
                "INSERT INTO ir_config_parameter (key, value) VALUES ('web.base.url', "
                f"'http://127.0.0.1:{port}'), ('web.base.url.freeze', 'True') "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            )
    return procs, urls


def _stop(procs):
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_for_first_cron_pass(conn, procs, logs):
    """Until no cron job is due: a new database's jobs are all due when its servers start (Odoo's
    daily auto-vacuum among them), and a deployed database ran them long before its Send."""

    def nothing_due():
        with conn.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM ir_cron WHERE active AND numbercall != 0 AND nextcall <= now() AT TIME ZONE 'UTC'"
            )
            return not cr.fetchone()[0]

    bench._wait_until(nothing_due, procs, f"the servers' first pass over the cron jobs did not end, see {logs}", 0.2)


def _cpu_seconds():
    """{role: CPU seconds used so far} of this machine's processes: the Odoo servers (``odoo-bin``),
    the gateway simulator, PostgreSQL (every ``postgres`` process), and the whole machine's busy time
    (``machine``, from /proc/stat), so that a run says where its cores went."""
    tick = os.sysconf("SC_CLK_TCK")
    used = collections.Counter()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields_ = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        seconds = (int(fields_[11]) + int(fields_[12])) / tick  # utime + stime
        if "odoo-bin" in command:
            used["odoo"] += seconds
        elif "standin.py gateway" in command:
            used["gateway"] += seconds
        elif command.startswith("postgres"):
            used["postgres"] += seconds
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:9]]
    # user nice system idle iowait irq softirq steal: busy is this machine's own work; steal is the time the
    # hypervisor gave its cores to others, which makes the same work take longer on a virtual machine
    used["machine"] = (sum(ticks) - ticks[3] - ticks[4] - ticks[7]) / tick
    used["steal"] = ticks[7] / tick
    return used


def _speed_probe():
    """Milliseconds of CPU that ``SPEED_PROBE`` takes, one copy per core at once (the median): lower is faster."""
    copies = [
        subprocess.Popen([sys.executable, "-c", SPEED_PROBE], stdout=subprocess.PIPE, text=True)
        for _core in range(os.cpu_count() or 1)
    ]
    return 1000 * statistics.median(float(copy.communicate()[0]) for copy in copies)


def _session_sample(cr, db, own_pid):
    """What the servers' sessions are doing now: (state, wait event, query head) of each."""
    cr.execute(
        """SELECT state, coalesce(wait_event_type || ':' || wait_event, '-'),
                  left(regexp_replace(query, '\\s+', ' ', 'g'), 70)
             FROM pg_stat_activity
            WHERE datname = %s AND pid != %s AND backend_type = 'client backend' AND state != 'idle'
              -- each running cron job's own cursor holds its ir_cron row for the job's length: Odoo's, not a wait
              AND regexp_replace(query, '\\s+', ' ', 'g') NOT LIKE '%%FROM ir_cron WHERE active = true%%'""",
        (db, own_pid),
    )
    return cr.fetchall()


def _queue_sample(cr, mailing_id):
    """The mailing's queue now: (traces no runner has claimed, res_id up to which its traces are built)."""
    cr.execute(
        """SELECT (SELECT COALESCE(sum(unclaimed_count), 0) FROM sms_marketing_mailing_figure WHERE mailing_id = %s),
                  (SELECT trace_build_cursor FROM sms_marketing_mailing WHERE id = %s)""",
        (mailing_id, mailing_id),
    )
    return cr.fetchone()


def _during(timeline, stall_at, stall_s):
    """What the samples taken during the longest stall saw: the sessions (state, wait, query head) and the
    queue (unclaimed traces, build cursor): nothing claimable while a window was built, or work left idle."""
    if stall_at is None:
        return None
    inside = [(t, sessions, queue) for t, sessions, queue in timeline if stall_at <= t <= stall_at + stall_s]
    sessions = collections.Counter(session for _t, samples, _queue in inside for session in samples)
    return {
        "samples": len(inside),
        "queue": [{"t": round(t, 2), "unclaimed": int(queue[0]), "build_cursor": queue[1]} for t, _s, queue in inside],
        "sessions": [{"state": s, "wait": w, "query": q, "samples": c} for (s, w, q), c in sessions.most_common(6)],
    }


def run_one(aud, servers, threads, repeat):
    """One run of one layout on a fresh database: N contacts, a mailing to them, sent."""
    load_before = os.getloadavg()[0]
    run_name = f"deployed-{servers}x{threads}-{aud.n}-{repeat}"
    logs = bench.RESULTS / run_name
    logs.mkdir(parents=True, exist_ok=True)
    with benchdb.seeded_db(aud) as (db, registry, list_id):
        mailing_id = benchdb.create_mailing(registry, list_id, aud)
        result = send_on_servers(db, registry, mailing_id, servers, threads, run_name, logs)
    return dict(result, n=aud.n, repeat=repeat, load_before=load_before)


def send_on_servers(db, registry, mailing_id, servers, threads, run_name, logs):
    """Start the gateway simulator and ``servers`` odoo-bin servers of ``threads`` cron threads on
    ``db``, press Send of ``mailing_id`` (its gateway made the simulator's), watch until it is done,
    stop them all. -> the figures of ``_result``."""
    import psycopg2

    from odoo import SUPERUSER_ID, api

    side = SIDES["ours"]
    procs = []
    try:
        sim, sim_url = _start_simulator(logs)
        procs.append(sim)
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            mailing = env["sms.marketing.mailing"].browse(mailing_id)
            mailing.gateway_id = side._gateway(env, credits=10**9)  # more than any run spends
            env["ir.config_parameter"].set_param("sms_marketing_custom.sender_crons", str(servers * threads))
            for item in filter(None, os.environ.get("BENCH_ENGINE_PARAMS", "").split(",")):
                key, value = item.split("=")  # e.g. build_max_step=20000: the engine's settings (PARAM_DEFAULTS)
                env["ir.config_parameter"].set_param(f"sms_marketing_custom.{key.strip()}", value.strip())
            env["sms.marketing.engine"]._sync_sender_crons()
        started, urls = _start_servers(db, servers, threads, logs)
        procs += started
        bench._wait_for([sim_url, *urls], procs, logs, "the gateway simulator or an Odoo server")
        # a server builds its map of static files (every module's manifest: 0.13 s of CPU) at its first
        # request for a path of 3 parts or more, such as a webhook's: a deployed server has long done so
        # (a prefork server's request warms the one HTTP worker that took it)
        bench._wait_for([url.replace("/web/login", WARM_PATH) for url in urls], procs, logs, "an Odoo server")
        conn = psycopg2.connect(dbname=db)
        conn.autocommit = True
        _wait_for_first_cron_pass(conn, procs, logs)
        with conn.cursor() as cr:
            cr.execute("SELECT pg_backend_pid()")
            own_pid = cr.fetchone()[0]
        probe_before = _speed_probe()
        bench.log(f"{run_name}: {len(started)} servers of {threads} cron threads up, pressing Send")
        cpu_before = _cpu_seconds()
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            t0 = time.time()
            side.send(env, mailing_id)
        send_s = time.time() - t0
        series, waits, last_session, timeline = [], collections.Counter(), 0.0, []
        deadline = t0 + float(os.environ.get("BENCH_DEPLOYED_TIMEOUT", "1800"))
        done, summary = False, {}
        with conn.cursor() as cr:
            while not done:
                now = time.time()
                if now > deadline or any(proc.poll() is not None for proc in procs):
                    raise SystemExit(f"{run_name}: a process died or the run took too long, see {logs}")
                # the mailing's counters (what its form shows), not a count of its traces: counting
                # 100,000 traces every 0.1 s took a third of a core from the servers it measures
                cr.execute(
                    "SELECT COALESCE(sum(sent_count), 0) FROM sms_marketing_mailing_figure WHERE mailing_id = %s",
                    (mailing_id,),
                )
                series.append((now - t0, cr.fetchone()[0]))
                if now - last_session >= POLL_SESSIONS:
                    last_session = now
                    sessions = _session_sample(cr, db, own_pid)
                    for state, event, query in sessions:
                        waits[(state, event, query)] += 1
                    timeline.append((now - t0, sessions, _queue_sample(cr, mailing_id)))
                    done, summary = side.progress(cr, mailing_id)
                time.sleep(POLL_PROGRESS)
        cpu_after, cpu_window_s = _cpu_seconds(), time.time() - t0
        probe_after = _speed_probe()
        with conn.cursor() as cr:
            # how the trace table was written: HOT updates write no index entry
            cr.execute(
                """SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd, autovacuum_count, autoanalyze_count
                     FROM pg_stat_user_tables WHERE relname = 'sms_marketing_trace'"""
            )
            names = ("inserted", "updated", "hot_updated", "autovacuums", "autoanalyzes")
            table_stats = dict(zip(names, cr.fetchone(), strict=True))
        conn.close()
    finally:
        _stop(procs)
        os.environ.pop("BENCH_GATEWAY_URL", None)
    cpu = {role: cpu_after[role] - cpu_before.get(role, 0.0) for role in cpu_after}
    result = _result(series, waits, summary, servers, threads, send_s, logs)
    result["during_longest_stall"] = _during(timeline, result["longest_stall_at_s"], result["longest_stall_s"])
    return dict(
        result,
        cpu_s=cpu,
        cpu_window_s=cpu_window_s,
        send_at=t0,
        trace_table=table_stats,
        speed_probe_ms=(probe_before, probe_after),
    )


def _result(series, waits, summary, servers, threads, send_s, logs):
    first = next((t for t, count in series if count > 0), None)
    last = next((t for t, count in series if count >= max(c for _, c in series)), None)
    stall, stall_at, previous_t, previous_count = 0.0, None, None, 0
    for t, count in series:
        if count > previous_count:
            if previous_t is not None and previous_count > 0 and t - previous_t > stall:
                stall, stall_at = t - previous_t, previous_t
            previous_t, previous_count = t, count
    cron_runs = sum(
        log_file.read_text(errors="replace").count("Starting job `") for log_file in logs.glob("odoo-*.log")
    )
    total = max(count for _, count in series)
    return {
        "layout": f"{servers}x{threads}",
        "servers": servers,
        "cron_threads": threads,
        "sender_crons": servers * threads,
        "prefork_workers": int(os.environ.get("BENCH_DEPLOYED_WORKERS", "0")),
        "latency_ms": bench._latency_ms(),
        "send_s": send_s,
        "first_sms_s": first,
        "last_sms_s": last,
        "rate": total / last if last else None,
        "longest_stall_s": stall,
        "longest_stall_at_s": stall_at,  # after Send
        "cron_runs": cron_runs,
        "summary": summary,
        "lock_wait_samples": sum(c for (s, w, q), c in waits.items() if w.startswith("Lock:")),
        "lock_waits": [
            {"wait": w, "query": q, "samples": c} for (s, w, q), c in waits.most_common() if w.startswith("Lock:")
        ],
        "top_sessions": [{"state": s, "wait": w, "query": q, "samples": c} for (s, w, q), c in waits.most_common(8)],
        "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


def report(runs, started):
    lines = [
        f"== deployed sending on Odoo's cron threads, all figures from this run ({started})",
        bench.provenance(gateway=f"http gateway {bench._latency_ms():g} ms/request"),
        "",
        f"{'layout':>7} {'crons':>5} {'N':>9} {'Send s':>7} {'first SMS s':>11} {'last SMS s':>10} "
        f"{'msg/s':>8} {'longest stall s':>15} {'x 1x1':>6}   runs",
    ]
    by_layout = collections.defaultdict(list)
    for run in runs:
        by_layout[(run["layout"], run["n"])].append(run)
    base = {}
    for (layout, n), group in by_layout.items():
        rate = statistics.median(r["rate"] for r in group if r["rate"])
        if layout == "1x1":
            base[n] = rate
    for (layout, n), group in by_layout.items():
        med = {k: statistics.median(r[k] for r in group if r[k] is not None) for k in
               ("send_s", "first_sms_s", "last_sms_s", "rate", "longest_stall_s")}  # fmt: skip
        ratio = f"{med['rate'] / base[n]:.1f}" if n in base else "-"
        each = ", ".join(f"{r['last_sms_s']:.1f}s" for r in group)
        lines.append(
            f"{layout:>7} {group[0]['sender_crons']:>5} {n:>9,} {med['send_s']:>7.2f} {med['first_sms_s']:>11.2f} "
            f"{med['last_sms_s']:>10.1f} {med['rate']:>8.0f} {med['longest_stall_s']:>15.1f} {ratio:>6}   {each}"
        )
    lines += [
        "",
        "medians of the runs of each layout; what the servers' sessions did most (samples of 0.25 s, the cron",
        "jobs' own lock cursors left out):",
    ]
    for run in runs:
        top = "; ".join(f"{s['samples']}x {s['state']} {s['wait']} {s['query']!r}" for s in run["top_sessions"][:3])
        locks = "; ".join(f"{s['samples']}x {s['wait']} {s['query']!r}" for s in run["lock_waits"][:2])
        top += f"; lock waits: {locks}" if locks else ""
        lines.append(f"  {run['layout']} #{run['repeat']}: {run['lock_wait_samples']} samples waiting on a lock; {top}")
    lines += ["", "where the cores went, Send to done (CPU time per 1,000 messages sent; machine busy = share of "
              f"its {os.cpu_count()} cores), when the longest stall began (after Send, UTC), and the speed probe "
              "(the CPU time of a fixed Python loop on every core at once, just before Send and just after the "
              "last SMS: lower is faster; on a virtual machine it varies from one minute to the next):"]  # fmt: skip
    for run in runs:
        lines.append(f"  {run['layout']} #{run['repeat']}: {cpu_line(run)}")
    lines += ["", "during the longest stall (samples of 0.25 s): the mailing's unclaimed traces and build cursor, "
              "what the sessions did:"]  # fmt: skip
    for run in runs:
        during = run.get("during_longest_stall")
        if not during:
            continue
        queue = ", ".join(f"{q['t']:.1f}s {q['unclaimed']:,}/{q['build_cursor']}" for q in during["queue"])
        sessions = "; ".join(f"{s['samples']}x {s['state']} {s['wait']} {s['query']!r}" for s in during["sessions"])
        lines.append(f"  {run['layout']} #{run['repeat']}: {queue or 'no sample'}; {sessions or 'no session'}")
    return lines


def cpu_line(run):
    """'Odoo a ms, PostgreSQL b ms, gateway c ms per 1,000; machine busy d%; longest stall at ...' of a run."""
    cpu, sent = run.get("cpu_s") or {}, (run.get("summary") or {}).get("traces", {})
    messages = sum(count for state, count in sent.items() if state != "canceled") or 1
    per_1000 = {role: 1e6 * cpu.get(role, 0.0) / messages for role in ("odoo", "postgres", "gateway")}
    capacity = (run.get("cpu_window_s") or 1) * (os.cpu_count() or 1)
    busy, steal = cpu.get("machine", 0.0) / capacity, cpu.get("steal", 0.0) / capacity
    at = run.get("longest_stall_at_s")
    stall = "none"
    if at is not None:
        began = time.strftime("%H:%M:%S", time.gmtime(run["send_at"] + at))
        stall = f"{run['longest_stall_s']:.1f} s from {at:.1f} s ({began})"
    table = run.get("trace_table") or {}
    probe = run.get("speed_probe_ms")
    speed = f"; speed probe {probe[0]:.0f} ms before, {probe[1]:.0f} ms after" if probe else ""
    hot = f"{100 * table['hot_updated'] / table['updated']:.0f}%" if table.get("updated") else "-"
    return (
        f"Odoo {per_1000['odoo']:.0f} ms, PostgreSQL {per_1000['postgres']:.0f} ms, "
        f"gateway {per_1000['gateway']:.0f} ms per 1,000; machine busy {100 * busy:.0f}%, stolen by the hypervisor "
        f"{100 * steal:.0f}%; trace updates HOT {hot}, "
        f"autovacuums {table.get('autovacuums', '-')}; longest stall {stall}{speed}"
    )


def main(argv):
    import odoo

    odoo.tools.config.parse_config(["-c", bench.ODOO_RC, "--log-level=warn"])
    odoo.netsvc.init_logger()
    os.environ["BENCH_GATEWAY"] = "http"
    n = int(argv[0]) if argv and argv[0] else 20_000
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    bench.RESULTS.mkdir(exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    aud = bench._audience(n)
    runs = []
    for servers, threads in _layouts():
        for repeat in range(1, repeats + 1):
            result = run_one(aud, servers, threads, repeat)
            bench.log(
                f"{result['layout']} #{repeat}: first SMS {result['first_sms_s']:.2f}s, "
                f"last {result['last_sms_s']:.1f}s, longest stall {result['longest_stall_s']:.1f}s, {result['summary']}"
            )
            runs.append(result)
    text = "\n".join(report(runs, started))
    print(text)
    out = bench.RESULTS / f"deployed-{time.strftime('%Y%m%d-%H%M%S')}"
    Path(f"{out}.txt").write_text(text + "\n")
    Path(f"{out}.json").write_text(json.dumps(runs, indent=1, default=str))
    bench.log(f"written to {out}.json and .txt")


if __name__ == "__main__":
    main(sys.argv[1:])
