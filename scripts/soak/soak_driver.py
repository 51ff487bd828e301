#!/usr/bin/env python3
"""Soak test of the sending engine: kills, concurrent workers, gateway faults.

What it proves (docs/design.md invariants), on a real PostgreSQL database and the
real gateway simulator (sms_marketing_custom/tests/standins/gateway.py) over HTTP on 127.0.0.1:

* every valid recipient receives exactly one SMS per mailing, none twice, none
  lost, even when sender processes are SIGKILLed at random points and
  restarted, and while several of them work on the same mailings;
* the credit ledger balances: sum of the moves == balance change, what the
  gateway charged == what the traces cost, nothing spent on refused messages;
* with a schedule of gateway faults (time-outs after the gateway accepted,
  5xx, 429, slow answers, partial batches) every message ends sent or failed
  with a reason;
* no unhandled serialization or deadlock error in the workers.

How: it copies a database with the module installed (``--template-db``, via
pg_dump, which works while the template is in use) or installs one
(``--fresh``), creates the audience (valid, invalid, blacklisted and
duplicate numbers), a gateway on the "http" provider pointing to a fault
proxy in front of the simulator, and queues the mailings. Worker processes
(``soak_driver.py worker``) call the queue cron method in a loop; the driver
SIGKILLs random workers and starts new ones, then waits for the mailings to be
done and checks everything against the simulator's record of what it sent.
It prints a JSON summary (last line) and exits 1 when an invariant is broken.

Profiles: ``--profile ci`` (500 recipients, 3 kills, 3 workers, a few faults:
run by the pytest suite) and ``--profile soak`` (5,000 recipients x 10 kills,
4 workers, 3 mailings, a full fault schedule: ``make soak``).
"""

import argparse
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))  # scripts/soak/ -> the repository
DEV = os.path.join(ROOT, "scripts", "dev")
API_KEY = "soak-key"
WEBHOOK_SECRET = "soak-secret"

PROFILES = {
    "ci": {
        "recipients": 500,
        "mailings": 2,
        "workers": 3,
        "kills": 3,
        "batch_size": 20,
        "faults": 6,
        "timeout": 1.0,
        "kill_window": (4, 12),
        "deadline": 75,
    },
    "soak": {
        "recipients": 5000,
        "mailings": 3,
        "workers": 4,
        "kills": 10,
        "batch_size": 100,
        "faults": 40,
        "timeout": 2.0,
        "kill_window": (5, 90),
        "deadline": 900,
    },
}


def log(*args):
    print("[soak]", *args, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------- fault proxy
class FaultProxy:
    """HTTP proxy between Odoo and the simulator that breaks requests on a schedule.

    ``plan`` is a list of faults consumed one per send request (None = pass):
    ``timeout_after`` (forward, the gateway sends, then answer too late: the
    client times out although the messages left), ``timeout`` (never forward),
    ``500``/``503``/``429`` (refuse without forwarding), ``slow`` (forward and
    answer after most of the client's time-out), ``partial`` (forward, then
    drop the second half of the results from the answer).
    """

    def __init__(self, upstream, client_timeout):
        self.upstream = upstream
        self.client_timeout = client_timeout
        self.plan = []
        self.injected = {}
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, code, body):
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (time-out): expected

            def _forward(self, method, body=None):
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body, method=method, headers=dict(self.headers)
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        return response.status, response.read()
                except urllib.error.HTTPError as e:
                    return e.code, e.read()

            def do_GET(self):
                self._reply(*self._forward("GET"))

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault = None
                if self.path == "/sms/v1/send":
                    with proxy.lock:
                        fault = proxy.plan.pop(0) if proxy.plan else None
                        if fault:
                            proxy.injected[fault] = proxy.injected.get(fault, 0) + 1
                if fault in ("500", "503", "429"):
                    return self._reply(int(fault), b'{"error": "injected"}')
                if fault == "timeout":
                    time.sleep(proxy.client_timeout + 0.5)
                    return self._reply(504, b'{"error": "injected time-out"}')
                code, answer = self._forward("POST", body)
                if fault == "timeout_after":
                    time.sleep(proxy.client_timeout + 0.5)
                elif fault == "slow":
                    time.sleep(proxy.client_timeout * 0.6)
                elif fault == "partial" and code == 200:
                    payload = json.loads(answer)
                    results = payload.get("results") or []
                    payload["results"] = results[: max(1, len(results) // 2)]
                    answer = json.dumps(payload).encode()
                self._reply(code, answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"


# ---------------------------------------------------------------------- odoo helpers
def odoo_env_values():
    """ODOO_PATH, PYTHON and the config file, as scripts/dev/odoo_env.sh sets them."""
    rc = os.environ.get("ODOO_RC") or os.path.join(ROOT, ".odoo", "odoo.conf")
    odoo_path = os.environ.get("ODOO_PATH")
    if not odoo_path or not os.path.exists(rc):
        out = subprocess.run(
            ["bash", "-c", f'source "{DEV}/odoo_env.sh" >/dev/null && echo "$ODOO_PATH" && echo "$ODOO_RC"'],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        odoo_path, rc = out[0], out[1]
    return odoo_path, rc


def open_registry(db, rc, odoo_path):
    sys.path.insert(0, odoo_path)
    import odoo

    odoo.tools.config.parse_config(["-c", rc, "-d", db, "--log-level=warn", "--max-cron-threads=0"])
    return odoo, odoo.registry(db)


def create_database(db, template, fresh, rc, odoo_path):
    subprocess.run(["dropdb", "--if-exists", db], check=True, capture_output=True)
    if template and not fresh:
        subprocess.run(["createdb", db], check=True)
        # pg_dump works while the template is in use (createdb -T does not)
        dump = subprocess.Popen(["pg_dump", "--no-owner", template], stdout=subprocess.PIPE)
        subprocess.run(
            ["psql", "-q", "-d", db, "-v", "ON_ERROR_STOP=1"], stdin=dump.stdout, check=True, stdout=subprocess.DEVNULL
        )
        dump.stdout.close()
        if dump.wait():
            raise SystemExit(f"pg_dump of {template} failed")
        return
    subprocess.run(
        [
            sys.executable,
            os.path.join(odoo_path, "odoo-bin"),
            "-c",
            rc,
            "-d",
            db,
            "-i",
            "sms_marketing_custom",
            "--without-demo=all",
            "--stop-after-init",
            "--log-level=warn",
            "--max-cron-threads=0",
            "--http-port=0",
        ],
        check=True,
    )


def setup_data(env, cfg, proxy_url, seed):
    """Audience, gateway and queued mailings; returns what the checks need."""
    rnd = random.Random(seed)
    icp = env["ir.config_parameter"]
    for key, value in {
        "batch_size": cfg["batch_size"],
        "build_first_step": max(50, cfg["recipients"] // 10),
        "retry_base_seconds": 1,
        "retry_max_seconds": 2,
        "max_tries": 12,
        "time_budget": 20,
    }.items():
        icp.set_param(f"sms_marketing_custom.{key}", str(value))
    # Nothing else in this copy sends: only our mailings are due.
    env["sms.marketing.mailing"].search([("state", "in", ("scheduled", "sending", "paused"))])._set_canceled()
    gateway = env["sms.marketing.gateway"].create(
        {
            "name": "Soak gateway",
            "provider": "http",
            "endpoint_url": proxy_url,
            "api_key": API_KEY,
            "webhook_secret": WEBHOOK_SECRET,
            "timeout": cfg["timeout"],
        }
    )
    if "default_price" in gateway._fields:
        gateway.default_price = 1.0
    if "allow_private_network" in gateway._fields:  # the proxy listens on 127.0.0.1
        gateway.allow_private_network = True
    credits = cfg["recipients"] * cfg["mailings"] * 3.0
    gateway._change_balance(credits, "purchase")
    n = cfg["recipients"]
    numbers = [f"+3247{i:07d}" for i in range(n)]
    # 4% invalid, 2% blacklisted, 2% duplicates of another contact's number
    contacts_vals, expected = [], set()
    blacklisted = set()
    for i, number in enumerate(numbers):
        roll = rnd.random()
        if roll < 0.04:
            phone = f"12{i}"  # not a number of any country
        elif roll < 0.06:
            phone = number
            blacklisted.add(number)
        elif roll < 0.08 and i > 10:
            phone = numbers[rnd.randrange(i - 10, i)]  # same number as a previous contact
        else:
            phone = number
        contacts_vals.append({"name": f"Soak {i}", "phone": phone})
    env["sms.marketing.blacklist"]._add_numbers(sorted(blacklisted), "manual")
    sms_list = env["sms.marketing.list"].create({"name": "Soak list"})
    for vals in contacts_vals:
        vals["list_ids"] = [(4, sms_list.id)]
    contacts = env["sms.marketing.contact"].create(contacts_vals)
    for contact in contacts:
        if contact.phone_sanitized and contact.phone_sanitized not in blacklisted:
            expected.add(contact.phone_sanitized)
    mailings = env["sms.marketing.mailing"]
    bodies = ["Soak test {i}: hello!", "Soak {i}: prix spécial ce week-end 😀", "Soak {i}: " + "long text " * 20]
    for i in range(cfg["mailings"]):
        mailings |= env["sms.marketing.mailing"].create(
            {
                "subject": f"Soak {i}",
                "body": bodies[i % len(bodies)].format(i=i),
                "list_ids": [(6, 0, sms_list.ids)],
                "gateway_id": gateway.id,
                "include_optout": False,
            }
        )
    mailings.action_send_now()
    return {"gateway": gateway.id, "mailings": mailings.ids, "expected": sorted(expected), "credits": credits}


def fault_plan(count, seed):
    kinds = ["timeout_after", "timeout", "500", "503", "429", "slow", "partial"]
    rnd = random.Random(seed + 1)
    plan = []
    for i in range(count):
        plan.extend([None] * rnd.randrange(0, 4))
        plan.append(kinds[i % len(kinds)])
    return plan


# ---------------------------------------------------------------------- worker process
def run_worker(args):
    odoo_path, rc = odoo_env_values()
    odoo, registry = open_registry(args.db, rc, odoo_path)
    from odoo import SUPERUSER_ID, api

    print("WORKER-READY", flush=True)
    stop = time.monotonic() + args.seconds
    while time.monotonic() < stop:
        try:
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["sms.marketing.mailing"]._cron_process_queue()
        except Exception:
            # what a cron worker would log; the driver counts these lines
            import traceback

            print("WORKER-UNHANDLED-ERROR", flush=True)
            traceback.print_exc()
            sys.stdout.flush()
        time.sleep(0.2)


# ---------------------------------------------------------------------- driver
def start_worker(db, log_dir, index, seconds):
    out = open(os.path.join(log_dir, f"worker-{index}.log"), "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "worker", "--db", db, "--seconds", str(seconds)],
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def wait_ready(log_dir, names, timeout):
    """Wait until the workers have loaded Odoo (the clock of the kills starts then)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready = 0
        for name in names:
            path = os.path.join(log_dir, f"worker-{name}.log")
            with open(path, errors="replace") as f:
                ready += "WORKER-READY" in f.read()
        if ready == len(names):
            return
        time.sleep(0.2)
    raise SystemExit("the workers did not start")


def check(env, data, sim_state, proxy):
    """Compare the database with what the simulator really sent."""
    cr = env.cr
    cr.execute(
        "SELECT t.uuid, t.mailing_id, t.number, t.state, t.failure_reason, t.cost FROM sms_marketing_trace t"
        " WHERE t.mailing_id = ANY(%s)",
        [data["mailings"]],
    )
    traces = {row[0]: row for row in cr.fetchall()}
    sent_by_sim = sim_state["sent"]
    received = {}  # (mailing, number) -> count
    unknown = 0
    for message in sent_by_sim:
        trace = traces.get(message["uuid"])
        if not trace:
            unknown += 1
            continue
        key = (trace[1], message["number"])
        received[key] = received.get(key, 0) + 1
    expected = {(m, number) for m in data["mailings"] for number in data["expected"]}
    duplicates = sum(count - 1 for count in received.values() if count > 1)
    lost = len(expected - set(received))
    unexpected = len(set(received) - expected) + unknown
    states = {}
    for trace in traces.values():
        states[trace[3]] = states.get(trace[3], 0) + 1
    pending = states.get("pending", 0)
    failed_without_reason = sum(1 for t in traces.values() if t[3] == "failed" and not t[4])
    sim_uuids = {m["uuid"] for m in sent_by_sim}
    marked_sent = {u for u, t in traces.items() if t[3] in ("sent", "delivered")}
    sent_not_received = len(marked_sent - sim_uuids)
    received_not_marked = len(sim_uuids & set(traces) - marked_sent)
    # ledger
    cr.execute("SELECT balance FROM sms_marketing_gateway WHERE id = %s", [data["gateway"]])
    balance = float(cr.fetchone()[0])
    cr.execute(
        "SELECT COALESCE(sum(amount), 0) FROM sms_marketing_credit_move WHERE gateway_id = %s", [data["gateway"]]
    )
    ledger_sum = float(cr.fetchone()[0])
    # credits bought, or read from the gateway (Send aligns the local balance with the provider's first),
    # are not spent: what the sending spent is every other move
    cr.execute(
        """SELECT COALESCE(sum(amount), 0) FROM sms_marketing_credit_move
            WHERE gateway_id = %s AND move_type = 'purchase'""",
        [data["gateway"]],
    )
    purchased = float(cr.fetchone()[0])
    cost_sent = round(sum(float(t[5] or 0) for t in traces.values() if t[3] in ("sent", "delivered")), 4)
    cost_refused = round(sum(float(t[5] or 0) for t in traces.values() if t[3] in ("failed", "canceled")), 4)
    charged = round(data["sim_balance"] - sim_state["balance"], 4)
    return {
        "messages_checked": len(traces),
        "sms_received": len(sent_by_sim),
        "expected_recipients": len(expected),
        "duplicates": duplicates,
        "lost": lost,
        "unexpected": unexpected,
        "trace_states": states,
        "pending_left": pending,
        "failed_without_reason": failed_without_reason,
        "sent_not_received": sent_not_received,
        "received_not_marked_sent": received_not_marked,
        "ledger_balanced": abs(ledger_sum - balance) < 1e-6,
        "ledger_sum": round(ledger_sum, 4),
        "balance": round(balance, 4),
        "credits_spent_local": round(purchased - balance, 4),
        "credits_charged_by_gateway": charged,
        "cost_of_sent_traces": cost_sent,
        "cost_on_refused_or_canceled": cost_refused,
        "faults_injected": dict(proxy.injected),
    }


def run_driver(args):
    cfg = dict(PROFILES[args.profile])
    for key in ("recipients", "mailings", "workers", "kills", "faults"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    odoo_path, rc = odoo_env_values()
    db = args.db or f"smc_soak_{args.profile}_{os.getpid()}"
    log_dir = args.log_dir or os.path.join(ROOT, ".odoo", f"soak-{db}")
    os.makedirs(log_dir, exist_ok=True)
    seed = args.seed
    rnd = random.Random(seed)
    started = time.monotonic()
    log(f"database {db} ({'fresh install' if args.fresh or not args.template_db else 'copy of ' + args.template_db})")
    create_database(db, args.template_db, args.fresh, rc, odoo_path)
    sim_port = free_port()
    sim_log = open(os.path.join(log_dir, "simulator.log"), "w")  # noqa: SIM115
    simulator = subprocess.Popen(
        [
            sys.executable,
            os.path.join(DEV, "standin.py"),
            "gateway",
            "--port",
            str(sim_port),
            "--api-key",
            API_KEY,
            "--webhook-secret",
            WEBHOOK_SECRET,
            "--balance",
            "1000000",
            "--delivery",
            "none",
        ],
        stdout=sim_log,
        stderr=subprocess.STDOUT,
    )
    sim_url = f"http://127.0.0.1:{sim_port}"
    workers = []
    summary = {"profile": args.profile, "database": db, "seed": seed, **cfg}
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen(sim_url + "/_sim/state", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        proxy = FaultProxy(sim_url, cfg["timeout"])
        odoo, registry = open_registry(db, rc, odoo_path)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            data = setup_data(env, cfg, proxy.url, seed)
        data["sim_balance"] = 1000000.0
        proxy.plan = fault_plan(cfg["faults"], seed)
        log(
            f"{cfg['mailings']} mailings x {cfg['recipients']} contacts ({len(data['expected'])} valid numbers), "
            f"{cfg['workers']} workers, {cfg['kills']} kills, {cfg['faults']} faults"
        )
        seconds = cfg["deadline"] + 30
        workers = [start_worker(db, log_dir, i, seconds) for i in range(cfg["workers"])]
        wait_ready(log_dir, [str(i) for i in range(cfg["workers"])], 120)
        summary["setup_seconds"] = round(time.monotonic() - started, 1)
        deadline = time.monotonic() + cfg["deadline"]
        kills, kill_times = 0, sorted(rnd.uniform(*cfg["kill_window"]) for _ in range(cfg["kills"]))
        done = False
        t0 = time.monotonic()
        while time.monotonic() < deadline:
            now = time.monotonic() - t0
            while kills < cfg["kills"] and kill_times[kills] <= now:
                index = rnd.randrange(len(workers))
                workers[index].send_signal(signal.SIGKILL)
                workers[index].wait()
                kills += 1
                workers[index] = start_worker(db, log_dir, f"{index}-{kills}", seconds)
                log(f"SIGKILL #{kills} worker {index} at {now:.1f}s, restarted")
            with registry.cursor() as cr:
                cr.execute(
                    "SELECT count(*) FROM sms_marketing_mailing WHERE id = ANY(%s) AND state != 'done'",
                    [data["mailings"]],
                )
                left = cr.fetchone()[0]
            if not left and kills >= cfg["kills"]:
                done = True
                break
            time.sleep(0.5)
        # let the kills happen even when sending was faster than the schedule
        summary["kills"] = kills
        summary["all_done"] = done
        summary["seconds"] = round(time.monotonic() - started, 1)
        summary["sending_seconds"] = round(time.monotonic() - t0, 1)
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(10)
            except subprocess.TimeoutExpired:
                worker.kill()
        sim_state = json.loads(urllib.request.urlopen(sim_url + "/_sim/state", timeout=10).read())
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            summary.update(check(env, data, sim_state, proxy))
        errors = 0
        serialization = 0
        for name in os.listdir(log_dir):
            if name.startswith("worker-"):
                text = open(os.path.join(log_dir, name), errors="replace").read()  # noqa: SIM115
                errors += text.count("WORKER-UNHANDLED-ERROR")
                serialization += len(re.findall(r"could not serialize|deadlock detected", text))
        summary["unhandled_worker_errors"] = errors
        summary["serialization_or_deadlock_errors"] = serialization
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        simulator.terminate()
        simulator.wait(10)
        if not args.keep:
            with contextlib.suppress(Exception):  # best effort before dropping
                odoo.sql_db.close_db(db)
            subprocess.run(["dropdb", "--if-exists", "--force", db], capture_output=True)
    ok = (
        summary.get("all_done")
        and summary["duplicates"] == 0
        and summary["lost"] == 0
        and summary["unexpected"] == 0
        and summary["pending_left"] == 0
        and summary["failed_without_reason"] == 0
        and summary["sent_not_received"] == 0
        and summary["received_not_marked_sent"] == 0
        and summary["ledger_balanced"]
        and abs(summary["credits_spent_local"] - summary["credits_charged_by_gateway"]) < 1e-6
        and abs(summary["cost_of_sent_traces"] - summary["credits_charged_by_gateway"]) < 1e-6
        and summary["cost_on_refused_or_canceled"] == 0
        and summary["unhandled_worker_errors"] == 0
    )
    summary["ok"] = bool(ok)
    print(json.dumps(summary, sort_keys=True), flush=True)
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    worker = sub.add_parser("worker", help="a sender process: the queue cron method in a loop")
    worker.add_argument("--db", required=True)
    worker.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="soak")
    parser.add_argument("--db", help="database to create (dropped at the end unless --keep)")
    parser.add_argument("--template-db", help="database with the module installed, copied with pg_dump")
    parser.add_argument("--fresh", action="store_true", help="install the module instead of copying")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--log-dir")
    for key in ("recipients", "mailings", "workers", "kills", "faults"):
        parser.add_argument(f"--{key}", type=int)
    args = parser.parse_args()
    if args.command == "worker":
        return run_worker(args)
    return run_driver(args)


if __name__ == "__main__":
    sys.exit(main())
