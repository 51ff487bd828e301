"""`make bench [N=...]` and `make bench-scale`: sms_marketing_custom against Odoo 17's mass_mailing_sms.

For each side, in one run on the same PostgreSQL and Odoo tree: a fresh database with the
same N contacts in one mailing list, one mailing with a tracked link and the opt-out link,
worker processes running the side's cron method(s) in a loop; Send is pressed and this
process polls the database until every message is final, sampling the workers' RSS. It
prints first SMS, total time, recipients/s, Send, peak RSS and SQL queries per 1,000
recipients, and writes the results to bench/results/.

    make bench N=100000                                  # both sides, sandbox gateway
    BENCH_GATEWAY=http BENCH_LATENCY_MS=100 make bench   # both sides over HTTP on 127.0.0.1
    BENCH_RUNNERS=1,2,4 BENCH_REPEATS=3 make bench N=10000   # runner sweep, our side only
    make bench-scale-loops                               # BENCH_PLAN=scale: the worker loops' scale plan

docs/benchmark.md describes the method, every option (BENCH_*), the scale plan's targets
and the current figures.
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
STANDIN = ROOT / "scripts" / "dev" / "standin.py"  # runs one of the addon's provider stand-ins
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


def release_db(db):
    """Close this process's registry and connections of ``db`` and drop it (kept with BENCH_KEEP_DB=1)."""
    import odoo

    odoo.sql_db.close_db(db)
    odoo.modules.registry.Registry.delete(db)
    if os.environ.get("BENCH_KEEP_DB") != "1":
        _dropdb(db)


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

    load_before = os.getloadavg()[0]
    db = fresh_db(side, n)
    addon = _addon_hash() if side.key == "ours" else None  # the code its workers load
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

    run_name = f"run-{DB_PREFIX}-{side.key}-{n}"  # per prefix, as the databases: runs of two checkouts apart
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
        t0, t_done, send_s, send_queries, summary, peaks = _send_and_wait(
            side, db, registry, mailing_id, workers, run_dir
        )
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
        # their URLs die with them: a later run in this process (the scale plan) must not send there
        os.environ.pop("BENCH_GATEWAY_URL", None)
        os.environ.pop("BENCH_IAP_URL", None)
    stats = [json.loads(Path(p).read_text()) for _, p in workers]
    release_db(db)

    rss_idle, worker_peaks, peak_sum = peaks
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
            f"sms_marketing_custom/tests/standins/{'gateway' if side.key == 'ours' else 'iap'}.py" if network else None
        ),
        "measured": True,
        "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "addon": addon,
        "load_before": load_before,
        "first_sms_s": (min(firsts) - t0) if firsts else None,
        "send_s": send_s,
        "total_s": total,
        "rate": n / total,
        "peak_rss_mb": max(worker_peaks) / 2**20,
        "worker_peaks_mb": [peak / 2**20 for peak in worker_peaks],
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
    return _mode_label(f"{_latency_ms():g}" if _network() else "sandbox")


def _mode_label(mode):
    """A gateway mode of the scale plan ("sandbox" or a latency in ms through the HTTP gateway,
    e.g. "100"), as _gateway_mode() prints it."""
    return "sandbox (in process)" if mode == "sandbox" else f"http, {float(mode):g} ms"


def _use_mode(mode):
    """Make the next measure() send in this mode: sets BENCH_GATEWAY / BENCH_LATENCY_MS,
    which _network(), _latency_ms() and the network servers read."""
    os.environ["BENCH_GATEWAY"] = "sandbox" if mode == "sandbox" else "http"
    if mode != "sandbox":
        os.environ["BENCH_LATENCY_MS"] = f"{float(mode):g}"


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

    _wait_until(lambda: all(answers(url) for url in urls), procs, f"{what} did not start, see {logs}")


def _wait_until(condition, procs, failure, poll=0.5):
    """Until ``condition()`` holds; stop ``procs`` and exit with ``failure`` if one died or after 2 minutes."""
    deadline = time.time() + 120
    while not condition():
        if time.time() > deadline or any(proc.poll() is not None for proc in procs):
            for proc in procs:
                proc.terminate()
            raise SystemExit(failure)
        time.sleep(poll)


_ports_given = set()


def _free_port():
    """A free port: any the system gives, or the first free one of BENCH_PORTS ("18700-18799"),
    so that benches run side by side on one machine keep to their own range."""
    import socket

    first, _, last = os.environ.get("BENCH_PORTS", "0-0").partition("-")
    for port in range(int(first), int(last or first) + 1):
        if port in _ports_given:  # given to a process that may not listen yet
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            if port:
                _ports_given.add(port)
            return sock.getsockname()[1]
    raise SystemExit(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


def _start_network(db, run_name):
    """The gateway simulator and an odoo-bin HTTP server (delivery reports) for the network mode."""
    import odoo

    logs = RESULTS / f"{run_name}-network"
    logs.mkdir(parents=True, exist_ok=True)
    sim_port, http_port = _free_port(), _free_port()
    with open(logs / "simulator.log", "w") as out:
        sim = subprocess.Popen(
            [sys.executable, str(STANDIN), "gateway", "--port", str(sim_port),
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
    """Odoo's side in network mode: sms_marketing_custom/tests/standins/iap.py with the same latency per send
    request as our gateway simulator, credits for any N; its URL in BENCH_IAP_URL."""
    logs = RESULTS / f"{run_name}-network"
    logs.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    with open(logs / "iap_standin.log", "w") as out:
        standin = subprocess.Popen(
            [sys.executable, str(STANDIN), "iap", "--port", str(port),
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


def provenance(gateway=None, load=None):
    """Commit, date, machine and settings of this run: printed with every result.
    gateway, load: what to print instead of this process's mode and the current load."""
    import platform

    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if gateway is None:
        gateway = f"http gateway {_latency_ms():g} ms/request" if _network() else "sandbox (in process)"
    return (
        f"commit {commit or '?'}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.node()} ({os.cpu_count()} cores, {load or f'load {os.getloadavg()[0]:.1f}'}), {gateway}"
    )


def sweep(n, aud):
    """BENCH_RUNNERS x BENCH_REPEATS runs of our side: median and range of each runner count,
    in the scale plan's row format."""
    import statistics

    runners = [int(r) for r in os.environ.get("BENCH_RUNNERS", "1,2,4").split(",")]
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    mode = f"{_latency_ms():g}" if _network() else "sandbox"
    rows = {}
    for count in runners:
        os.environ["BENCH_WORKERS"] = str(count)
        rows[count] = [measure(SIDES["ours"], n, aud) for _i in range(repeats)]
    base_label = f"vs {_count(runners[0], 'runner')}"
    lines = [
        "",
        f"sweep N={n:,}, {_count(repeats, 'repeat')}, this run: {provenance()}",
        "",
        SCALE_COLUMNS.format(last=base_label),
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = statistics.median(r["rate"] for r in rows[runners[0]])
    for count, results in rows.items():
        vs = f"{statistics.median(r['rate'] for r in results) / base:.2f}x"
        lines.append(_scale_row(n, mode, count, results, vs))
    print("\n".join(lines), flush=True)
    (RESULTS / f"sweep-{n}.json").write_text(json.dumps({str(k): v for k, v in rows.items()}, indent=1, default=str))


# ----------------------------------------------------------------- scale plan
SCALE_N = 100_000  # the size of the sweep the scale targets name
SCALE_BIG = 1_000_000  # the size of their one big run
# the header of a table of _scale_row rows (sweep and scale plan), its last column named by the caller
SCALE_COLUMNS = (
    "| N | gateway | runners | total s | recipients/s | first SMS s | Send s | peak RSS MB largest | "
    "peak RSS MB sum | {last} |"
)
SCALE_TEXT = {
    "sandbox_share": "4 runners through the HTTP gateway (100 ms) reach >= 70% of the sandbox's at 100,000",
    "runners": "4 runners faster than 1 at 0, 100 and 300 ms at 100,000 (ratio of median throughputs > 1)",
    "big_total": "1,000,000 through the HTTP gateway (100 ms), 4 runners, one run: within 180 s",
    "big_first": "first SMS within 2 s of Send at 1,000,000",
    "send": "Send returns within 1 s at any size (largest Send of every run of ours in the plan)",
    "memory": "largest worker's peak RSS at 1,000,000 within 20% of that at 100,000 (http 100 ms, 4 runners)",
    "odoo": "throughput >= 30x Odoo's mass_mailing_sms at 100,000 (same gateway, latency, audience)",
}


def _count(number, noun):
    """'1 run', '3 runs'."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _duration(seconds):
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _env_list(name, default):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _audience(n):
    t = time.time()
    aud = audience_mod.build(n)
    audience_mod.check_sample(aud)
    log(f"audience of {n}: {aud.stats}, {aud.expected_sendable()} to send (built in {time.time() - t:.1f}s)")
    return aud


def scale_plan():
    """BENCH_PLAN=scale (`make bench-scale`): every run the scale targets need, in one run of
    this process; then the tables, each target with its value and verdict, written to
    bench/results/scale-<timestamp>.json and .txt."""
    cfg = {
        "BENCH_SCALE_NS": [int(n) for n in _env_list("BENCH_SCALE_NS", f"10000,{SCALE_N}")],
        "BENCH_SCALE_MODES": [
            m if m == "sandbox" else f"{float(m):g}" for m in _env_list("BENCH_SCALE_MODES", "sandbox,0,100,300")
        ],
        "BENCH_RUNNERS": [int(r) for r in _env_list("BENCH_RUNNERS", "1,2,4")],
        "BENCH_REPEATS": int(os.environ.get("BENCH_REPEATS", "3")),
        "BENCH_SCALE_BIG": int(os.environ.get("BENCH_SCALE_BIG", str(SCALE_BIG))),
        "BENCH_SCALE_ODOO": int(os.environ.get("BENCH_SCALE_ODOO", "1")),
        "BENCH_DB_PREFIX": DB_PREFIX,
    }
    # the size of the 100,000 targets; another when overridden (then they are NOT MEASURED)
    ref_n = SCALE_N if SCALE_N in cfg["BENCH_SCALE_NS"] else max(cfg["BENCH_SCALE_NS"])
    jobs = []  # (kind, N, gateway mode, runners, repeat): "ours" cells, Odoo's run, the big run
    for n in cfg["BENCH_SCALE_NS"]:
        for repeat in range(1, cfg["BENCH_REPEATS"] + 1):  # repeats interleaved: a change of load hits every cell
            for mode in cfg["BENCH_SCALE_MODES"]:
                jobs += [("ours", n, mode, count, repeat) for count in cfg["BENCH_RUNNERS"]]
        if cfg["BENCH_SCALE_ODOO"] and n == ref_n:
            jobs.append(("odoo", n, "100", None, 1))
    if cfg["BENCH_SCALE_BIG"]:
        jobs.append(("big", cfg["BENCH_SCALE_BIG"], "100", 4, 1))

    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    out = RESULTS / f"scale-{stamp}"
    plan = {"plan": "scale", "name": out.name, "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    plan.update(settings=cfg, ref_n=ref_n, runs=[])
    aud, spent, done_n = None, 0.0, 0
    for i, (kind, n, mode, count, repeat) in enumerate(jobs, 1):
        left = sum(job[1] for job in jobs[i - 1 :] if job[0] != "odoo")
        eta = f", ETA ~{_duration(spent / done_n * left)} for our runs left (Odoo's not counted)" if done_n else ""
        what = {
            "ours": f"{_count(count, 'runner')}, repeat {repeat}/{cfg['BENCH_REPEATS']}",
            "odoo": "Odoo's mass_mailing_sms, one run",
            "big": f"{count} runners, the big run",
        }[kind]
        log(f"scale plan: run {i} of {len(jobs)}: N={n:,}, {_mode_label(mode)}, {what}{eta}")
        t = time.time()
        if aud is None or aud.n != n:
            aud = None  # the previous size's audience goes before the next is built
            aud = _audience(n)
        _use_mode(mode)
        if count:
            os.environ["BENCH_WORKERS"] = str(count)
        side = SIDES["odoo" if kind == "odoo" else "ours"]
        try:
            result = measure(side, n, aud)
        except (Exception, SystemExit) as exc:  # reported as failed; the other runs go on
            log(f"scale plan: run {i} failed: {exc!r}")
            result = {"side": side.key, "n": n, "gateway": _mode_label(mode), "measured": False, "failed": repr(exc)}
        if kind != "odoo":
            spent, done_n = spent + time.time() - t, done_n + n
        result["plan"] = {"kind": kind, "mode": mode, "runners": count, "repeat": repeat}
        plan["runs"].append(result)
        Path(f"{out}.json").write_text(json.dumps(plan, indent=1, default=str))  # so far, should it stop

    loads = [r["load_before"] for r in plan["runs"] if "load_before" in r]
    load = f"load {min(loads):.1f}-{max(loads):.1f} at the runs' starts" if loads else None
    plan["provenance"] = provenance(gateway="gateway mode in each row", load=load)
    plan["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    plan["targets"] = _scale_targets(plan)
    text = "\n".join(_scale_report(plan))
    print(text, flush=True)
    Path(f"{out}.txt").write_text(text + "\n")
    Path(f"{out}.json").write_text(json.dumps(plan, indent=1, default=str))
    log(f"scale plan: written to {out}.json and {out}.txt")


def _plan_runs(plan, kind, n, mode, count):
    """The plan's successful runs of one cell."""
    cell = {"kind": kind, "mode": mode, "runners": count}
    return [
        r for r in plan["runs"] if r.get("measured") and r["n"] == n and all(r["plan"][k] == v for k, v in cell.items())
    ]


def _spread(values, spec):
    """'median [min-max]' ('value' for one run)."""
    import statistics

    if not values:
        return "n/a"
    text = format(statistics.median(values), spec)
    return text if len(values) == 1 else f"{text} [{format(min(values), spec)}-{format(max(values), spec)}]"


def _worker_peaks(result):
    peaks = result["worker_peaks_mb"]
    return (
        f"each worker's peak RSS {' / '.join(f'{p:,.0f}' for p in peaks)} MB, sum {sum(peaks):,.0f} MB "
        f"(peak of the sum {result['peak_rss_sum_mb']:,.0f} MB)"
    )


def _scale_report(plan):
    """The plan's printed report: header, one table per N, the big run, Odoo, the targets."""
    import statistics

    cfg, prov = plan["settings"], plan["provenance"]
    runners = cfg["BENCH_RUNNERS"]
    addons = sorted({r["addon"] for r in plan["runs"] if r.get("addon")})
    lines = [
        "",
        f"== scale plan {plan['name']}: all figures from this run ({plan['started']} to {plan['finished']})",
        f"this run: {prov}",
        "settings: " + " ".join(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in cfg.items()),
        (
            f"sms_marketing_custom files (sha1) {addons[0]} in every run"
            if len(addons) <= 1
            else f"THE MODULE CHANGED DURING THE RUN: runs measured {', '.join(addons)} (see addon in the JSON)"
        ),
        f"written to bench/results/{plan['name']}.json and .txt",
    ]
    base_label = f"vs {_count(runners[0], 'runner')}"
    for n in cfg["BENCH_SCALE_NS"]:
        lines += [
            "",
            f"N={n:,}: median [min-max] of {_count(cfg['BENCH_REPEATS'], 'run')} per cell; {base_label} = ratio "
            f"of median recipients/s, same N and gateway ({plan['name']}, all figures from this run)",
            f"this run: {prov}",
            "",
            SCALE_COLUMNS.format(last=base_label),
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for mode in cfg["BENCH_SCALE_MODES"]:
            base = _plan_runs(plan, "ours", n, mode, runners[0])
            for count in runners:
                results = _plan_runs(plan, "ours", n, mode, count)
                failed = cfg["BENCH_REPEATS"] - len(results)
                vs = (
                    f"{statistics.median(r['rate'] for r in results) / statistics.median(r['rate'] for r in base):.2f}x"
                    if results and base
                    else "n/a"
                )
                lines.append(_scale_row(n, mode, f"{count}" + (f" ({failed} failed)" if failed else ""), results, vs))
    big_n = cfg["BENCH_SCALE_BIG"]
    if big_n:
        lines += ["", f"big run: N={big_n:,}, one run ({plan['name']}, all figures from this run)", f"this run: {prov}"]
        big = _plan_runs(plan, "big", big_n, "100", 4)
        lines += [
            "",
            SCALE_COLUMNS.format(last="each worker's peak RSS MB"),
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        peaks = " / ".join(f"{p:,.0f}" for p in big[0]["worker_peaks_mb"]) if big else "n/a"
        lines.append(_scale_row(big_n, "100", "4" if big else "4 (failed)", big, peaks))
    else:
        lines += ["", "big run: NOT RUN (BENCH_SCALE_BIG=0)"]
    lines += _scale_odoo_lines(plan)
    lines += [
        "",
        f"targets ({plan['name']}, all figures from this run; NOT MEASURED = an input skipped or its size "
        "overridden by the settings, its value at the size measured shown for information):",
        f"this run: {prov}",
    ]
    for t in plan["targets"]:
        lines.append(f"[{t['verdict']}] {t['target']}: {t['value']}")
        lines += [f"    {detail}" for detail in t["details"]]
    return lines


def _scale_row(n, mode, runners, results, last):
    def col(key, spec):
        return _spread([r[key] for r in results if r.get(key) is not None], spec)

    return (
        f"| {n:,} | {_mode_label(mode)} | {runners} | {col('total_s', '.1f')} | {col('rate', ',.0f')} "
        f"| {col('first_sms_s', '.2f')} | {col('send_s', '.2f')} | {col('peak_rss_mb', ',.0f')} "
        f"| {col('peak_rss_sum_mb', ',.0f')} | {last} |"
    )


def _ours_median(results, n):
    """Our runs of one cell as one column of report(): the median of each figure."""
    import statistics

    middle = sorted(results, key=lambda r: r["rate"])[len(results) // 2]
    ours = {"n": n, "workers": middle["workers"], "gateway": middle["gateway"], "summary": middle["summary"]}
    ours["db"] = f"median of {_count(len(results), 'run')} of this plan"
    ours["source"] = f"each figure the median of {_count(len(results), 'run')}; summary of the median run"
    for key in ("first_sms_s", "total_s", "rate", "peak_rss_mb", "queries_per_1000"):
        values = [r[key] for r in results if r.get(key) is not None]
        ours[key] = statistics.median(values) if values else None
    return ours


def _scale_odoo_lines(plan):
    ref_n, prov = plan["ref_n"], plan["provenance"]
    lines = ["", f"Odoo's mass_mailing_sms, N={ref_n:,}, http 100 ms, one run ({plan['name']})"]
    if not plan["settings"]["BENCH_SCALE_ODOO"]:
        return [*lines, "NOT RUN (BENCH_SCALE_ODOO=0)"]
    odoo = _plan_runs(plan, "odoo", ref_n, "100", None)
    ours = _plan_runs(plan, "ours", ref_n, "100", 4)
    if not odoo:
        return [*lines, "FAILED: see the log and the JSON"]
    if not ours:
        return [
            *lines,
            f"this run: {prov}",
            f"odoo: {odoo[0]['rate']:,.0f}/s; no run of ours at http 100 ms, 4 runners",
        ]
    return [*lines, *report_lines(ref_n, _ours_median(ours, ref_n), odoo[0], True, prov)]


def _scale_targets(plan):
    """Each target of the scale issue: its value from this plan's runs and PASS, FAIL or NOT
    MEASURED (an input skipped, or measured at another size than the target's)."""
    import statistics

    med = statistics.median
    ref_n, big_n = plan["ref_n"], plan["settings"]["BENCH_SCALE_BIG"]
    at_ref = f"N={ref_n:,}" + ("" if ref_n == SCALE_N else f" (not {SCALE_N:,}: overridden)")
    at_big = f"N={big_n:,}" + ("" if big_n == SCALE_BIG else f" (not {SCALE_BIG:,}: overridden)")
    ours_runs = [r for r in plan["runs"] if r.get("measured") and r["plan"]["kind"] != "odoo"]
    big = _plan_runs(plan, "big", big_n, "100", 4)
    big = big[0] if big else None
    no_big = f"no big run ({'BENCH_SCALE_BIG=0' if not big_n else 'it failed'})"
    targets = []

    def cell(mode, count):
        return _plan_runs(plan, "ours", ref_n, mode, count)

    def rate(results):
        return med(r["rate"] for r in results)

    def add(key, ok, measured, value, details=()):
        verdict = "NOT MEASURED" if ok is None or not measured else "PASS" if ok else "FAIL"
        targets.append(
            {"key": key, "target": SCALE_TEXT[key], "verdict": verdict, "value": value, "details": list(details)}
        )

    http, sandbox = cell("100", 4), cell("sandbox", 4)
    if http and sandbox:
        share = rate(http) / rate(sandbox)
        # the sandbox's fastest runner count too: the verdict compares like with like (4 runners each)
        best = max(
            ((count, cell("sandbox", count)) for count in plan["settings"]["BENCH_RUNNERS"] if cell("sandbox", count)),
            key=lambda item: rate(item[1]),
        )
        add(
            "sandbox_share",
            share >= 0.70,
            ref_n == SCALE_N,
            f"{share:.0%} at {at_ref}: {rate(http):,.0f}/s through http 100 ms vs {rate(sandbox):,.0f}/s in the "
            f"sandbox, 4 runners (medians of {len(http)} and {_count(len(sandbox), 'run')})",
            [
                f"the sandbox's fastest cell: {_count(best[0], 'runner')}, {rate(best[1]):,.0f}/s; "
                f"4 runners through http 100 ms reach {rate(http) / rate(best[1]):.0%} of it"
            ],
        )
    else:
        add("sandbox_share", None, False, f"no run at {at_ref} with 4 runners through http 100 ms and the sandbox")

    parts, oks = [], []
    for latency in ("0", "100", "300"):
        four, one = cell(latency, 4), cell(latency, 1)
        if four and one:
            oks.append(rate(four) / rate(one) > 1)
            parts.append(f"{latency} ms {rate(four) / rate(one):.2f}x ({rate(four):,.0f}/s vs {rate(one):,.0f}/s)")
        else:
            parts.append(f"{latency} ms not measured")
    add(
        "runners",
        all(oks) if oks else None,
        ref_n == SCALE_N and len(oks) == 3,
        f"at {at_ref}, 4 vs 1 runner: " + ", ".join(parts),
    )

    if big:
        add(
            "big_total",
            big["total_s"] <= 180,
            big_n == SCALE_BIG,
            f"{big['total_s']:.1f} s at {at_big} ({big['rate']:,.0f}/s)",
        )
        first = big["first_sms_s"]
        add(
            "big_first",
            None if first is None else first <= 2,
            big_n == SCALE_BIG,
            f"{'n/a' if first is None else f'{first:.2f} s'} at {at_big}",
        )
    else:
        add("big_total", None, False, no_big)
        add("big_first", None, False, no_big)

    if ours_runs:
        slowest = max(ours_runs, key=lambda r: r["send_s"])
        largest = max(r["n"] for r in ours_runs)
        odoo_send = [f"{r['send_s']:.2f} s" for r in plan["runs"] if r.get("measured") and r["side"] == "odoo"]
        add(
            "send",
            slowest["send_s"] <= 1,
            big is not None and big_n == SCALE_BIG,
            f"max {slowest['send_s']:.2f} s over {_count(len(ours_runs), 'run')} of ours, N up to {largest:,}"
            f" (that run: N={slowest['n']:,}, {slowest['gateway']}, {slowest['workers']} runners)"
            + (f"; Odoo's Send, not counted: {', '.join(odoo_send)}" if odoo_send else ""),
            [] if big else [f"{no_big}: the largest size is not covered"],
        )
    else:
        add("send", None, False, "no run of ours succeeded")

    if big and http:
        ref = med(r["peak_rss_mb"] for r in http)
        add(
            "memory",
            big["peak_rss_mb"] <= 1.2 * ref,
            big_n == SCALE_BIG and ref_n == SCALE_N,
            f"{big['peak_rss_mb']:,.0f} MB at {at_big} vs {ref:,.0f} MB at {at_ref} "
            f"(median of {_count(len(http), 'run')}, http 100 ms, 4 runners): {big['peak_rss_mb'] / ref - 1:+.1%}",
            [f"N={big_n:,}: {_worker_peaks(big)}"]
            + [f"N={ref_n:,} run {i}: {_worker_peaks(r)}" for i, r in enumerate(http, 1)],
        )
    else:
        add("memory", None, False, no_big if not big else f"no run at {at_ref} with 4 runners through http 100 ms")

    odoo = _plan_runs(plan, "odoo", ref_n, "100", None)
    if odoo and http:
        ratio = rate(http) / odoo[0]["rate"]
        add(
            "odoo",
            ratio >= 30,
            ref_n == SCALE_N,
            f"{ratio:.1f}x at {at_ref}, http 100 ms, same run: ours with {http[0]['workers']} runners "
            f"{rate(http):,.0f}/s (median of {_count(len(http), 'run')}) vs Odoo {odoo[0]['rate']:,.0f}/s (one run)",
        )
    else:
        why = "BENCH_SCALE_ODOO=0" if not plan["settings"]["BENCH_SCALE_ODOO"] else "a run missing or failed"
        add("odoo", None, False, f"not measured at {at_ref} ({why})")
    return targets


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
    """Press Send, then poll until every message is final; sample each worker's RSS meanwhile.
    -> (t0, t_done, Send's duration, Send's queries, summary, (idle RSS of the largest worker,
    each worker's peak RSS, peak of the workers' sum)), RSS in bytes."""
    import psutil
    import psycopg2

    from odoo import SUPERUSER_ID, api, sql_db

    ps = [psutil.Process(proc.pid) for proc, _ in workers]
    worker_peaks = [p.memory_info().rss for p in ps]
    rss_idle, peak_sum = max(worker_peaks), 0
    log(f"{side.label}: {len(workers)} workers ready, pressing Send")
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        q0 = sql_db.sql_counter
        t0 = time.time()
        side.send(env, mailing_id)
    send_s = time.time() - t0  # until Send's transaction is committed: what the user waits for
    log(f"{side.label}: Send took {send_s:.2f}s")
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
            worker_peaks = [max(peak, now_rss) for peak, now_rss in zip(worker_peaks, rss, strict=True)]
            peak_sum = max(peak_sum, sum(rss))
            if now - last_check >= 0.25:
                last_check = now
                with conn.cursor() as cr:
                    done, summary = side.progress(cr, mailing_id)
                t_done = time.time()
            time.sleep(POLL)
    finally:
        conn.close()
    return t0, t_done, send_s, send_queries, summary, (rss_idle, worker_peaks, peak_sum)


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
    measurement on this machine (bench/results), else from the reference figures of
    Odoo 17 mass_mailing_sms as shipped on a 2-core machine (docs/benchmark.md)."""
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
        "source": (
            "taken from reference figures of Odoo 17 mass_mailing_sms as shipped, measured on a 2-core "
            "machine (300 SMS/s, 13 KB per recipient, 2,000 queries per 1,000)"
        ),
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
            "the gateway stand-in, http provider; Odoo: the IAP stand-in (sms_marketing_custom/tests/standins/) "
            "through its own SmsApi._contact_iap -> iap_jsonrpc)"
        )
    elif g_ours == g_odoo:
        how = "both sides in process (ours: sandbox gateway; Odoo: IAP call replaced by an accept-all stand-in)"
    else:
        return f"gateway: ours {g_ours}, Odoo {g_odoo or 'unknown'}: NOT LIKE FOR LIKE, the ratios are indicative only"
    return f"gateway: {how}" + ("" if same_run else "; the two columns are NOT from the same run")


def report(n, ours, odoo, same_run=False):
    """The table ours vs Odoo. same_run: both sides measured by this run (else the one
    read back from bench/results or extrapolated is labelled so)."""
    print("\n".join(report_lines(n, ours, odoo, same_run, provenance())), flush=True)


def report_lines(n, ours, odoo, same_run, prov):
    """report()'s lines, under the provenance line prov."""

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
        f"this run: {prov}",
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
    return lines


def main(argv):
    import odoo

    odoo.tools.config.parse_config(["-c", ODOO_RC, "--log-level=warn"])
    odoo.netsvc.init_logger()
    n = int(argv[0]) if argv and argv[0] else 10_000
    sides = os.environ.get("BENCH_SIDES", "ours,odoo").split(",")
    odoo_max = int(os.environ.get("BENCH_ODOO_MAX", "100000"))
    RESULTS.mkdir(exist_ok=True)

    if os.environ.get("BENCH_PLAN") == "scale":
        scale_plan()
        return
    if os.environ.get("BENCH_DEPLOYED") == "1":  # our side on odoo-bin's cron threads: the scale plan at n
        import deployed_plan

        deployed_plan.run_plan(n)
        return
    aud = _audience(n)
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
