"""Kills and concurrent senders, CI-sized: real processes on a database of their own.

Claims, row locks and "a worker killed before its commit" only exist between
real transactions of separate processes, which no TransactionCase can give.
So this pytest test runs scripts/soak/soak_driver.py with its ``ci`` profile: it
copies the test database (pg_dump, the test database stays untouched), starts
the gateway simulator and a fault proxy on 127.0.0.1, sends 2 mailings x 500
recipients with 3 sender processes running the queue cron in a loop, SIGKILLs
3 of them at random points (restarted), injects one of each gateway fault, and
checks at the simulator: exactly one SMS per valid recipient, none lost, the
ledger balanced, nothing spent on refused messages. Then it drops the copy.

It is a plain pytest test, not imported in tests/__init__.py: Odoo's own test
runner (which runs inside an install transaction) does not run it; ``make
test``'s pytest-odoo step does. The full soak is ``make soak``.
"""

import json
import os
import subprocess
import sys

import pytest

from odoo.tools import config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DRIVER = os.path.join(ROOT, "scripts", "soak", "soak_driver.py")
# The driver is the repository's, not the addon's: where the addon folder was copied alone, there is
# no scripts/ beside it and this test has nothing to run (a repository without the driver still fails).
pytestmark = pytest.mark.skipif(
    not os.path.isdir(os.path.join(ROOT, "scripts")), reason="the addon without its repository (no scripts/)"
)


def test_kills_and_concurrent_workers_ci():
    template = config["db_name"]
    assert template, "run with --odoo-database"
    db = f"smc_ci_concurrency_{os.getpid()}"
    process = subprocess.run(
        [sys.executable, DRIVER, "--profile", "ci", "--template-db", template, "--db", db],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "ODOO_RC": config.rcfile or os.environ.get("ODOO_RC", "")},
        check=False,
    )
    lines = [line for line in process.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no summary from the soak driver:\n{process.stdout}\n{process.stderr[-3000:]}"
    summary = json.loads(lines[-1])
    assert summary["all_done"], summary
    assert summary["kills"] == 3, summary
    assert summary["duplicates"] == 0, summary
    assert summary["lost"] == 0, summary
    assert summary["unexpected"] == 0, summary
    assert summary["pending_left"] == 0 and summary["failed_without_reason"] == 0, summary
    assert summary["sent_not_received"] == 0 and summary["received_not_marked_sent"] == 0, summary
    assert summary["ledger_balanced"], summary
    assert summary["credits_spent_local"] == summary["credits_charged_by_gateway"], summary
    assert summary["cost_on_refused_or_canceled"] == 0, summary
    assert summary["unhandled_worker_errors"] == 0, summary
    assert sum(summary["faults_injected"].values()) >= 6, summary
    assert process.returncode == 0, summary
