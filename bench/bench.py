"""`make bench [N=...]`: sms_marketing_custom against Odoo 17's mass_mailing_sms.

One run, same PostgreSQL, same Odoo tree. For each side:

1. a fresh database (a copy of a freshly installed template, without demo
   data), the same N contacts loaded by COPY into one mailing list;
2. one mailing with a tracked link and the opt-out link;
3. worker processes started beforehand, each with its own registry and
   cursor, running the side's cron method(s) in a loop the way Odoo's cron
   workers do (idle polls every 50 ms, back to back while there is work);
4. Send is pressed (committed) at t0; this process then polls the database
   until every message is final and samples the workers' RSS with psutil.

Figures: time from Send until the first SMS reaches the gateway boundary,
total time until every message is final, recipients per second (N / total,
as in ANCHORS.md), peak RSS of the largest worker, and SQL queries per 1,000
recipients (every query the workers and Send ran, minus the workers' idle
polls, counted with odoo.sql_db's per-process counter).

Environment: BENCH_ODOO_MAX (default 100000; above it Odoo's side is not run
and its column is extrapolated, and said so), BENCH_SIDES (default
"ours,odoo"), BENCH_WORKERS (our workers, default 2), BENCH_PROFILE=1
(cProfile every worker and print the hot spots), BENCH_KEEP_DB=1,
BENCH_DB_PREFIX (default smc_bench: names of the databases it creates and drops).

Network mode: BENCH_GATEWAY=http, both sides send over HTTP on 127.0.0.1 with
the same BENCH_LATENCY_MS per send request (default 100), each server started
before the side's workers and stopped after its run:
- ours through scripts/gateway_simulator.py with the ``http`` provider; its
  delivery reports come back through Odoo's HTTP webhook (an odoo-bin HTTP
  server on the bench database runs during the run). "Final" is accepted by the
  gateway, or delivered/failed through a report.
- Odoo's through scripts/iap_standin.py (IAP's JSON-RPC API): ``sms.endpoint``
  and ``iap.endpoint`` point to it and the database has an ``sms`` IAP account;
  Odoo's own ``SmsApi._contact_iap`` -> ``iap_jsonrpc`` makes the requests, only
  wrapped to time the first one (the same boundary as ours: the batch handed to
  the provider client). "Final" is accepted by IAP, as in sandbox mode (the
  stand-in posts no delivery reports).
Without it (sandbox mode), ours uses the in-process sandbox gateway and Odoo's
IAP call is replaced in process by a stand-in accepting every message.
The report prints the ratio ours/Odoo of one run in both modes, labelled with
the gateway; figures of an earlier run or extrapolated are labelled as such.
Results are written to bench/results/<side>-<N>.json (sandbox) or
<side>-<N>-http<latency>ms.json (network mode).
BENCH_RUNNERS="1,4" BENCH_REPEATS=3 sweeps the number of runners (sender
processes, each the queue cron in a loop) and prints median and range.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

import audience as audience_mod  # noqa: E402
from sides import SIDES  # noqa: E402

POLL = 0.1
# Databases of this run are named after it: benchmarks of several checkouts on one
# PostgreSQL must not drop each other's (BENCH_DB_PREFIX, e.g. per worktree).
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "smc_bench")
IDLE_SLEEP = 0.05
ODOO_RC = os.environ.get("ODOO_RC", str(ROOT / ".odoo" / "odoo.conf"))


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ databases
def _psql(db, sql):
    return subprocess.run(["psql", "-X", "-q", "-tA", "-d", db, "-c", sql], check=True, capture_output=True, text=True)


def _db_exists(name):
    out = _psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'").stdout
    return out.strip() == "1"


def _dropdb(name):
    subprocess.run(["dropdb", "--if-exists", "--force", name], check=True)
    shutil.rmtree(_filestore(name), ignore_errors=True)


def _filestore(name):
    import odoo

    return Path(odoo.tools.config.filestore(name))


def _addon_hash():
    digest = hashlib.sha1()
    for path in sorted((ROOT / "sms_marketing_custom").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def fresh_db(side, n):
    """A fresh database with the side's module installed, without demo data.
    Installing takes a minute; the installed template is kept and copied."""
    key = _addon_hash() if side.key == "ours" else "17"
    template = f"{DB_PREFIX}_tpl_{side.key}_{key}"
    if not _db_exists(template):
        log(f"installing {side.module} (without demo) in template {template}")
        for old in _psql(
            "postgres", f"SELECT datname FROM pg_database WHERE datname LIKE '{DB_PREFIX}_tpl_{side.key}_%'"
        ).stdout.split():
            _dropdb(old)
        cmd = [
            sys.executable,
            os.path.join(os.environ["ODOO_PATH"], "odoo-bin"),
            "-c",
            ODOO_RC,
            "-d",
            template,
            "-i",
            side.module,
            "--without-demo=all",
            "--stop-after-init",
            "--max-cron-threads=0",
            "--log-level=warn",
        ]
        with open(RESULTS / f"install-{template}.log", "w") as out:
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False).returncode:
                _dropdb(template)
                raise SystemExit(f"installing {side.module} failed, see {out.name}")
    db = f"{DB_PREFIX}_{side.key}_{n}"
    _dropdb(db)
    subprocess.run(["createdb", "-T", template, db], check=True)
    if _filestore(template).exists():
        shutil.copytree(_filestore(template), _filestore(db))
    return db


# ------------------------------------------------------------------- workers
def worker_main(side_key, db, role, stats_path, stop_path):
    """One cron worker: its own registry and cursors, the side's cron method
    in a loop. Writes <stats_path>.ready when warm, <stats_path> at the end."""
    import cProfile

    import odoo
    from odoo import SUPERUSER_ID, api, sql_db

    odoo.tools.config.parse_config(["-c", ODOO_RC, "--log-level=warn"])
    odoo.netsvc.init_logger()
    registry = odoo.modules.registry.Registry(db)
    side = SIDES[side_key]
    stats = {
        "handoffs": 0,
        "pid": os.getpid(),
        "role": role,
        "first_send": None,
        "iterations": 0,
        "work_iterations": 0,
        "work_queries": 0,
        "work_seconds": 0.0,
        "errors": [],
    }

    def on_first_send():
        stats["handoffs"] += 1
        if stats["first_send"] is None:
            stats["first_send"] = time.time()

    side.patch(registry, on_first_send)

    def iterate():
        q0, t0 = sql_db.sql_counter, time.perf_counter()
        try:
            with registry.cursor() as cr:  # commits on success, like ir.cron
                env = api.Environment(cr, SUPERUSER_ID, {})
                side.run_role(env, role)
        except Exception as exc:  # the cron would log and go on: so do we
            import traceback

            if len(stats["errors"]) < 5:
                stats["errors"].append(traceback.format_exc(limit=8))
            print(f"worker {role} {os.getpid()}: {exc!r}", file=sys.stderr, flush=True)
        return sql_db.sql_counter - q0, time.perf_counter() - t0

    iterate()  # warm the caches
    idle_queries = min(iterate()[0] for _ in range(3))  # what an idle poll costs
    stats["idle_queries"] = idle_queries
    profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") == "1" else None
    Path(str(stats_path) + ".ready").touch()
    while not os.path.exists(stop_path):
        if profiler:
            profiler.enable()
        handoffs = stats["handoffs"]
        queries, seconds = iterate()
        if profiler:
            profiler.disable()
        stats["iterations"] += 1
        if queries > idle_queries:  # did something (idle polls are not the work's queries)
            stats["work_iterations"] += 1
            stats["work_queries"] += queries
            stats["work_seconds"] += seconds
            stats["last_work_end"] = time.time()
        if stats["handoffs"] == handoffs:
            # Nothing reached the gateway: wait a little before the next run, as
            # an Odoo cron worker waits for its next trigger (no busy loop).
            time.sleep(IDLE_SLEEP)
    if profiler:
        profiler.dump_stats(str(stats_path) + ".prof")
    Path(stats_path).write_text(json.dumps(stats))


# --------------------------------------------------------------- measurement
def measure(side, n, aud):
    import odoo
    from odoo import SUPERUSER_ID, api

    db = fresh_db(side, n)
    registry = odoo.modules.registry.Registry(db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        list_id = side.create_list(env)
        if hasattr(side, "check_numbers"):
            side.check_numbers(aud)
        t = time.time()
        side.seed(cr, aud, list_id)
        log(f"{side.label}: seeded {n} contacts by COPY in {time.time() - t:.1f}s")
        mailing_id = side.create_mailing(env, list_id, aud)

    run_name = f"run-{side.key}-{n}"
    network = []
    if _network():
        network = _start_network(db, run_name) if side.key == "ours" else _start_iap_standin(run_name)
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            if side.key == "ours":
                mailing = env["sms.marketing.mailing"].browse(mailing_id)
                mailing.gateway_id = side._gateway(env, credits=n * 10 + 1000)
            else:
                side.use_iap(env, os.environ["BENCH_IAP_URL"])
    run_dir = RESULTS / run_name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    stop = run_dir / "stop"
    workers = []
    roles = side.roles if side.key != "ours" else ("queue",) * int(os.environ.get("BENCH_WORKERS", "2"))
    for i, role in enumerate(roles):
        stats_path = run_dir / f"worker-{i}-{role}.json"
        with open(run_dir / f"worker-{i}-{role}.log", "w") as out:
            proc = subprocess.Popen(
                [sys.executable, __file__, "worker", side.key, db, role, str(stats_path), str(stop)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        workers.append((proc, stats_path))
    try:  # the workers and the network servers are stopped whatever happens
        deadline = time.time() + 300
        while not all(Path(str(p) + ".ready").exists() for _, p in workers):
            if any(proc.poll() is not None for proc, _ in workers) or time.time() > deadline:
                raise SystemExit(f"a {side.label} worker did not start, see {run_dir}")
            time.sleep(0.1)
        spies = start_pyspy(workers, run_dir)
        t0, t_done, send_queries, summary, peaks = _send_and_wait(side, db, registry, mailing_id, workers, run_dir)
        stop_pyspy(spies)
        if network and side.key == "odoo":
            summary["iap_standin_credits_spent"] = _iap_credits_spent()
    finally:
        stop.touch()
        for proc, _ in workers:
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
        for proc in network:
            proc.terminate()
            proc.wait(timeout=30)
    stats = [json.loads(Path(p).read_text()) for _, p in workers]
    odoo.sql_db.close_db(db)
    odoo.modules.registry.Registry.delete(db)
    if os.environ.get("BENCH_KEEP_DB") != "1":
        _dropdb(db)

    rss_idle, peak_rss, peak_sum = peaks
    firsts = [s["first_send"] for s in stats if s["first_send"]]
    total = t_done - t0
    queries = send_queries + sum(s["work_queries"] for s in stats)
    result = {
        "side": side.key,
        "n": n,
        "db": db,
        "workers": len(workers),
        "gateway": _gateway_mode(),
        "gateway_server": (
            ("scripts/gateway_simulator.py" if side.key == "ours" else "scripts/iap_standin.py") if network else None
        ),
        "measured": True,
        "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "first_sms_s": (min(firsts) - t0) if firsts else None,
        "total_s": total,
        "rate": n / total,
        "peak_rss_mb": peak_rss / 2**20,
        "peak_rss_sum_mb": peak_sum / 2**20,
        "idle_rss_mb": rss_idle / 2**20,
        "queries_per_1000": queries * 1000 / n,
        "summary": summary,
        "errors": [e for s in stats for e in s["errors"]],
        "workers_stats": stats,
    }
    _result_path(side.key, n).write_text(json.dumps(result, indent=1))
    log(f"{side.label}: done in {total:.1f}s; {summary}")
    if result["errors"]:
        log(f"{side.label}: {len(result['errors'])} worker errors, first:\n{result['errors'][0]}")
    if os.environ.get("BENCH_PROFILE") == "1":
        print_profiles(side, run_dir)
    if spies:
        print_pyspy(side, run_dir)
    return result


def _network():
    return os.environ.get("BENCH_GATEWAY", "sandbox") == "http"


def _latency_ms():
    return float(os.environ.get("BENCH_LATENCY_MS", "100"))


def _gateway_mode():
    """How this run sends, as stored in each result ("gateway") and printed."""
    return f"http, {_latency_ms():g} ms" if _network() else "sandbox (in process)"


def _result_path(side_key, n):
    """bench/results/<side>-<N>.json; network mode: <side>-<N>-http<latency>ms.json (the
    figures of one mode are never read back as those of the other)."""
    suffix = f"-http{_latency_ms():g}ms" if _network() else ""
    return RESULTS / f"{side_key}-{n}{suffix}.json"


def _wait_for(urls, procs, logs, what):
    """Until every URL answers (any HTTP status), or fail if a process died or after 2 minutes."""
    import urllib.error
    import urllib.request

    def answers(url):
        try:
            urllib.request.urlopen(url, timeout=5).close()
        except urllib.error.HTTPError:
            return True  # up (it refused this anonymous request)
        except OSError:
            return False
        return True

    deadline = time.time() + 120
    while not all(answers(url) for url in urls):
        if time.time() > deadline or any(proc.poll() is not None for proc in procs):
            for proc in procs:
                proc.terminate()
            raise SystemExit(f"{what} did not start, see {logs}")
        time.sleep(0.5)


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_network(db, run_name):
    """The gateway simulator and an odoo-bin HTTP server (delivery reports) for the network mode."""
    import odoo

    logs = RESULTS / f"{run_name}-network"
    logs.mkdir(parents=True, exist_ok=True)
    sim_port, http_port = _free_port(), _free_port()
    with open(logs / "simulator.log", "w") as out:
        sim = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "gateway_simulator.py"), "--port", str(sim_port),
             "--api-key", "bench", "--webhook-secret", "bench-secret", "--balance", "1e12",
             "--delivery", "delivered", "--delivery-delay", "0.5", "--latency-ms", str(_latency_ms())],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    odoo_bin = Path(odoo.__file__).resolve().parent.parent / "odoo-bin"
    with open(logs / "odoo-http.log", "w") as out:
        server = subprocess.Popen(
            [sys.executable, str(odoo_bin), "-c", ODOO_RC, "-d", db, f"--db-filter=^{db}$",
             f"--http-port={http_port}", "--max-cron-threads=0", "--workers=0", "--log-level=warn"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    _psql(
        db,
        "INSERT INTO ir_config_parameter (key, value) VALUES ('web.base.url', "
        f"'http://127.0.0.1:{http_port}'), ('web.base.url.freeze', 'True') "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
    )
    os.environ["BENCH_GATEWAY_URL"] = f"http://127.0.0.1:{sim_port}"
    _wait_for(
        [f"http://127.0.0.1:{http_port}/web/login", f"http://127.0.0.1:{sim_port}/"],
        [sim, server],
        logs,
        "the network gateway or the Odoo HTTP server",
    )
    log(f"network mode: gateway simulator :{sim_port} ({_latency_ms():g} ms), Odoo HTTP :{http_port}")
    return [sim, server]


def _start_iap_standin(run_name):
    """Odoo's side in network mode: scripts/iap_standin.py with the same latency per send
    request as our gateway simulator, credits for any N; its URL in BENCH_IAP_URL."""
    logs = RESULTS / f"{run_name}-network"
    logs.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    with open(logs / "iap_standin.log", "w") as out:
        standin = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "iap_standin.py"), "--port", str(port),
             "--credits", "1e12", "--latency-ms", str(_latency_ms())],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    os.environ["BENCH_IAP_URL"] = url = f"http://127.0.0.1:{port}"
    _wait_for([url + "/"], [standin], logs, "the IAP stand-in")
    log(f"network mode: IAP stand-in :{port} ({_latency_ms():g} ms)")
    return [standin]


def _iap_credits_spent():
    """Credits the IAP stand-in charged (SMS parts accepted, from its 1e12): the proof that
    Odoo's side really sent over HTTP."""
    import urllib.request

    request = urllib.request.Request(
        os.environ["BENCH_IAP_URL"] + "/iap/1/balance",
        data=json.dumps({"jsonrpc": "2.0", "method": "call", "params": {}, "id": 1}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return round(1e12 - json.loads(response.read())["result"])


def provenance():
    """Commit, date, machine and settings of this run: printed with every result."""
    import platform

    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    ).stdout.strip()
    gateway = f"http gateway {_latency_ms():g} ms/request" if _network() else "sandbox (in process)"
    return (
        f"commit {commit or '?'}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.node()} ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}), {gateway}"
    )


def sweep(n, aud):
    """BENCH_RUNNERS x BENCH_REPEATS runs of our side: median and range of each runner count."""
    import statistics

    runners = [int(r) for r in os.environ.get("BENCH_RUNNERS", "1,2,4").split(",")]
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    rows = {}
    for count in runners:
        os.environ["BENCH_WORKERS"] = str(count)
        rows[count] = [measure(SIDES["ours"], n, aud) for _i in range(repeats)]
    lines = ["", f"sweep N={n:,}, {repeats} repeats, this run: {provenance()}", ""]
    lines.append("| runners | total s median [min-max] | recipients/s median [min-max] | first SMS s median | "
                 "peak RSS MB largest / sum | vs 1 runner |")  # fmt: skip
    lines.append("|---:|---:|---:|---:|---:|---:|")
    base = statistics.median(r["rate"] for r in rows[runners[0]])
    for count, results in rows.items():
        totals = [r["total_s"] for r in results]
        rates = [r["rate"] for r in results]
        firsts = [r["first_sms_s"] for r in results if r["first_sms_s"] is not None]
        lines.append(
            f"| {count} | {statistics.median(totals):.1f} [{min(totals):.1f}-{max(totals):.1f}] "
            f"| {statistics.median(rates):,.0f} [{min(rates):,.0f}-{max(rates):,.0f}] "
            f"| {statistics.median(firsts) if firsts else float('nan'):.2f} "
            f"| {max(r['peak_rss_mb'] for r in results):,.0f} / {max(r['peak_rss_sum_mb'] for r in results):,.0f} "
            f"| {statistics.median(rates) / base:.2f}x |"
        )
    print("\n".join(lines), flush=True)
    (RESULTS / f"sweep-{n}.json").write_text(json.dumps({str(k): v for k, v in rows.items()}, indent=1, default=str))


def start_pyspy(workers, run_dir):
    """BENCH_PYSPY=/path/to/py-spy: sample every worker from outside (100 Hz, no
    overhead in the worker) from Send until the end; hot spots printed after."""
    binary = os.environ.get("BENCH_PYSPY")
    if not binary:
        return []
    spies = []
    for i, (proc, _) in enumerate(workers):
        out = run_dir / f"pyspy-{i}.txt"
        cmd = [binary, "record", "--pid", str(proc.pid), "--format", "raw", "--rate", "100", "-o", str(out)]
        if os.environ.get("BENCH_PYSPY_IDLE") == "1":
            cmd.append("--idle")  # wall clock: time waiting for PostgreSQL and locks included
        spies.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(1)  # let py-spy attach
    return spies


def stop_pyspy(spies):
    import signal

    for spy in spies:
        spy.send_signal(signal.SIGINT)
    for spy in spies:
        spy.wait(timeout=60)


def print_pyspy(side, run_dir, top=25):
    """Share of the workers' busy samples per function: self (leaf) and total (on the stack)."""
    own, total, samples = {}, {}, 0
    for path in run_dir.glob("pyspy-*.txt"):
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            count = int(count)
            frames = [_frame_name(f) for f in stack.split(";")]
            if not any(f.endswith("iterate") for f in frames):
                continue  # between two cron runs: the worker's own idle wait
            samples += count
            own[frames[-1]] = own.get(frames[-1], 0) + count
            for frame in set(frames):
                total[frame] = total.get(frame, 0) + count
    if not samples:
        return
    print(f"\n== {side.label}: py-spy, {samples} busy samples of all workers", file=sys.stderr)
    for title, table in (("self", own), ("total (incl. callees)", total)):
        print(f"-- {title}", file=sys.stderr)
        for name, count in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"{100 * count / samples:6.1f}%  {name}", file=sys.stderr)


def _frame_name(frame):
    """'func (path/to/file.py:123)' -> 'file.py:func' with a short path."""
    func, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for prefix in ("/opt/odoo17/", str(ROOT) + "/"):
        path = path.replace(prefix, "")
    return f"{path}:{func}"


def _send_and_wait(side, db, registry, mailing_id, workers, run_dir):
    """Press Send, then poll until every message is final; sample the RSS meanwhile."""
    import psutil
    import psycopg2

    from odoo import SUPERUSER_ID, api, sql_db

    ps = [psutil.Process(proc.pid) for proc, _ in workers]
    rss_idle = max(p.memory_info().rss for p in ps)
    peak_rss, peak_sum = rss_idle, 0
    log(f"{side.label}: {len(workers)} workers ready, pressing Send")
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        q0 = sql_db.sql_counter
        t0 = time.time()
        side.send(env, mailing_id)
    log(f"{side.label}: Send took {time.time() - t0:.2f}s")
    send_queries = sql_db.sql_counter - q0

    conn = psycopg2.connect(dbname=db)
    conn.autocommit = True
    done, summary, last_check, t_done = False, {}, 0.0, None
    try:
        while not done:
            if any(proc.poll() is not None for proc, _ in workers):
                raise SystemExit(f"a {side.label} worker died, see {run_dir}")
            now = time.time()
            rss = [p.memory_info().rss for p in ps]
            peak_rss, peak_sum = max(peak_rss, *rss), max(peak_sum, sum(rss))
            if now - last_check >= 0.25:
                last_check = now
                with conn.cursor() as cr:
                    done, summary = side.progress(cr, mailing_id)
                t_done = time.time()
            time.sleep(POLL)
    finally:
        conn.close()
    return t0, t_done, send_queries, summary, (rss_idle, peak_rss, peak_sum)


def print_profiles(side, run_dir, top=25):
    import pstats

    files = [str(p) for p in sorted(run_dir.glob("*.prof"))]
    if not files:
        return
    stats = pstats.Stats(*files, stream=sys.stderr)
    print(f"\n== {side.label}: cProfile of all workers (tottime)", file=sys.stderr)
    stats.sort_stats("tottime").print_stats(top)
    print(f"\n== {side.label}: cProfile of all workers (cumulative)", file=sys.stderr)
    stats.sort_stats("cumulative").print_stats(top)


def extrapolated_odoo(n):
    """Odoo's figures at n when its side is not run: scaled from its largest
    measurement on this machine (bench/results), else from ANCHORS.md."""
    measured = []
    for path in RESULTS.glob("odoo-*.json"):
        data = json.loads(path.read_text())
        # only a measurement through the same gateway as this run (sandbox or HTTP at this latency)
        if data.get("measured") and data["n"] < n and data.get("gateway", "sandbox (in process)") == _gateway_mode():
            measured.append(data)
    if measured:
        base = max(measured, key=lambda d: d["n"])
        scale = n / base["n"]
        source = (
            f"extrapolated linearly from Odoo's measurement at N={base['n']} ({base['at']}, "
            f"gateway {base['gateway']})"
        )
        idle = base["idle_rss_mb"]  # a worker before Send: the part that does not grow with N
        return {
            "side": "odoo",
            "n": n,
            "measured": False,
            "gateway": base["gateway"],
            "source": source,
            "first_sms_s": base["first_sms_s"] * scale if base["first_sms_s"] else None,
            "total_s": base["total_s"] * scale,
            "rate": base["rate"],
            "peak_rss_mb": idle + (base["peak_rss_mb"] - idle) * scale,
            "queries_per_1000": base["queries_per_1000"],
        }
    return {
        "side": "odoo",
        "n": n,
        "measured": False,
        "source": "taken from ANCHORS.md (300 SMS/s, 13 KB per recipient, 2,000 queries per 1,000)",
        "first_sms_s": None,
        "total_s": n / 300,
        "rate": 300.0,
        "peak_rss_mb": 13 * n / 1024,
        "queries_per_1000": 2000.0,
    }


# ------------------------------------------------------------------- report
def _gateway_line(ours, odoo, same_run):
    """How each side sent: one line, and whether the two columns are like for like."""
    g_ours, g_odoo = ours.get("gateway", "sandbox (in process)"), odoo.get("gateway")
    if g_ours.startswith("http") and g_ours == g_odoo:
        how = (
            f"both sides over HTTP on 127.0.0.1, {g_ours.split(', ')[1]} per send request (ours: "
            "scripts/gateway_simulator.py, http provider; Odoo: scripts/iap_standin.py through its own "
            "SmsApi._contact_iap -> iap_jsonrpc)"
        )
    elif g_ours == g_odoo:
        how = "both sides in process (ours: sandbox gateway; Odoo: IAP call replaced by an accept-all stand-in)"
    else:
        return f"gateway: ours {g_ours}, Odoo {g_odoo or 'unknown'}: NOT LIKE FOR LIKE, the ratios are indicative only"
    return f"gateway: {how}" + ("" if same_run else "; the two columns are NOT from the same run")


def report(n, ours, odoo, same_run=False):
    """The table ours vs Odoo. same_run: both sides measured by this run (else the one
    read back from bench/results or extrapolated is labelled so)."""

    def fmt(value, spec):
        return "n/a" if value is None else format(value, spec)

    def ratio(a, b):
        return "n/a" if not a or not b else f"{a / b:.3g}x"

    mark = "" if odoo.get("measured") else "~"
    rows = [
        ("first SMS handed to gateway after Send (s)", "first_sms_s", ".2f"),
        ("total until every message is final (s)", "total_s", ".1f"),
        ("throughput (recipients/s)", "rate", ",.0f"),
        ("peak RSS of the largest worker (MB)", "peak_rss_mb", ",.0f"),
        ("SQL queries per 1,000 recipients", "queries_per_1000", ",.0f"),
    ]
    lines = [
        "",
        f"N={n:,} recipients, {ours['workers']} workers ({ours['db']})  vs  Odoo 17 mass_mailing_sms"
        + (f" ({odoo['db']}, mailing cron + SMS cron workers)" if odoo.get("measured") else ""),
        f"this run: {provenance()}",
        _gateway_line(ours, odoo, same_run),
        "",
        f"| {'figure':<44} | {'sms_marketing_custom':>20} | {'mass_mailing_sms':>16} | {'ours/odoo':>9} |",
        f"|{'-' * 46}|{'-' * 21}:|{'-' * 17}:|{'-' * 10}:|",
    ]
    for label, key, spec in rows:
        lines.append(
            f"| {label:<44} | {fmt(ours.get(key), spec):>20} | {mark + fmt(odoo.get(key), spec):>16} "
            f"| {ratio(ours.get(key), odoo.get(key)):>9} |"
        )
    lines.append("")
    lines.append(f"ours: {ours.get('summary')}" + (f", {ours['source']}" if ours.get("source") else ""))
    if odoo.get("measured"):
        lines.append(f"odoo: {odoo.get('summary')}" + (f", {odoo['source']}" if odoo.get("source") else ""))
    else:
        lines.append(f"odoo: NOT RUN at this N (BENCH_ODOO_MAX); its column is {odoo['source']}.")
    where = (
        f"same run, {ours.get('gateway', 'sandbox (in process)')}"
        if same_run
        else "NOT the same run: see the labels above"
    )
    lines.append(f"throughput ratio vs mass_mailing_sms at N={n} ({where}): {ours['rate'] / odoo['rate']:.1f}x")
    print("\n".join(lines), flush=True)


def main(argv):
    import odoo

    odoo.tools.config.parse_config(["-c", ODOO_RC, "--log-level=warn"])
    odoo.netsvc.init_logger()
    n = int(argv[0]) if argv and argv[0] else 10_000
    sides = os.environ.get("BENCH_SIDES", "ours,odoo").split(",")
    odoo_max = int(os.environ.get("BENCH_ODOO_MAX", "100000"))
    RESULTS.mkdir(exist_ok=True)

    t = time.time()
    aud = audience_mod.build(n)
    audience_mod.check_sample(aud)
    log(f"audience of {n}: {aud.stats}, {aud.expected_sendable()} to send (built in {time.time() - t:.1f}s)")

    if os.environ.get("BENCH_RUNNERS"):
        sweep(n, aud)
        return
    results = {}
    for key in ("ours", "odoo"):
        if key not in sides:
            continue
        if key == "odoo" and n > odoo_max:
            log(f"mass_mailing_sms is not run above BENCH_ODOO_MAX={odoo_max}: its figures are extrapolated")
            continue
        results[key] = measure(SIDES[key], n, aud)
    same_run = set(results) == {"ours", "odoo"}
    earlier = f"MEASURED IN AN EARLIER RUN ({{at}}), BENCH_SIDES={','.join(sides)}"
    if "ours" not in results:
        path = _result_path("ours", n)
        if not path.exists():
            return
        results["ours"] = json.loads(path.read_text())
        results["ours"]["source"] = earlier.format(at=results["ours"]["at"])
    if "odoo" not in results:
        path = _result_path("odoo", n)
        results["odoo"] = json.loads(path.read_text()) if n <= odoo_max and path.exists() else extrapolated_odoo(n)
        if results["odoo"].get("measured"):
            results["odoo"]["source"] = earlier.format(at=results["odoo"]["at"])
    report(n, results["ours"], results["odoo"], same_run)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker_main(*sys.argv[2:7])
    else:
        main(sys.argv[1:])
