"""Journey mode of the benchmark: N participants entering a 3-step journey at once.

    make bench-journey            # or BENCH_MODE=journey make bench: 10,000 then 100,000, fresh databases
    N=100000 odoo-bin shell -c ODOO_RC -d DB --no-http --log-level=warn < bench/journey.py
    (DB: a throw-away copy of a database with sms_marketing_custom, e.g. createdb -T smc_base bench_journey,
    dropped afterwards: the engine commits as in production, and what the run made stays there)

N mailing-list contacts on one list; a journey entered by its filter, with
steps Send SMS -> Wait 1 day -> Branch on clicked -> (not clicked) Send SMS.
Measured, with the sandbox gateway (in process):
  1. first step: the journey's run (N participants entered, N traces inserted
     by the engine's INSERT), then the engine sending them all, until no
     trace of the first step is pending;
  2. the branch: 10% of the first SMS clicked, the wait moved to its end (one
     UPDATE of next_action_at: the clock jumps a day), then the journey's run
     that moves everyone through the branch and inserts the second SMS of the
     90% who did not click; then the engine sending those;
  3. memory: the Python allocations' peak (tracemalloc) during the journey's
     runs, and the process's peak resident size; run once with N=10000 and
     once with N=100000 (separate processes) to compare.
"""

import os
import resource
import time
import tracemalloc

env = globals()["env"]  # given by odoo-bin shell
N = int(os.environ.get("N", "100000"))
cr = env.cr
Engine = env["sms.marketing.engine"]
Participant = env["sms.marketing.journey.participant"]


def provenance():
    import platform
    import subprocess

    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"commit {commit or '?'}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()} "
        f"({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, machine shared with other runs), sandbox (in process)"
    )


def send_all(mailing):
    """The engine until the mailing has nothing pending; returns the seconds it took."""
    start = time.perf_counter()
    while True:
        Engine._run(time_budget=60)
        cr.execute("SELECT count(*) FROM sms_marketing_trace WHERE mailing_id = %s AND state = 'pending'", [mailing.id])
        if not cr.fetchone()[0]:
            return time.perf_counter() - start


def journey_run(journey):
    """One run of the journey's runner, committed; (seconds, Python peak MiB)."""
    tracemalloc.start()
    start = time.perf_counter()
    Participant._run_journey(journey)
    Engine._commit()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


# ---------------------------------------------------------------------- set-up (committed, deleted at the end)
sms_list = env["sms.marketing.list"].create({"name": "bench journey list"})
gateway = env["sms.marketing.gateway"]._get_default()
gateway.write({"provider": "sandbox", "sandbox_delivery": False, "rate_limit": 0})
gateway._change_balance(3 * N, "purchase", note="Journey benchmark credits")
env.flush_all()
cr.execute("SELECT COALESCE(max(id), 0) FROM sms_marketing_contact")
first_id = cr.fetchone()[0] + 1
cr.execute(
    """INSERT INTO sms_marketing_contact (name, phone, phone_sanitized, create_date, write_date)
       SELECT 'bench ' || i, '+3247' || lpad(i::text, 7, '0'), '+3247' || lpad(i::text, 7, '0'),
              now() at time zone 'UTC', now() at time zone 'UTC'
         FROM generate_series(1, %s) i""",
    [N],
)
cr.execute(
    """INSERT INTO sms_marketing_subscription (contact_id, list_id)
       SELECT id, %s FROM sms_marketing_contact WHERE id >= %s""",
    [sms_list.id, first_id],
)
cr.execute("ANALYZE sms_marketing_contact; ANALYZE sms_marketing_subscription")
journey = env["sms.marketing.journey"].create(
    {"name": "bench journey", "list_ids": [(6, 0, sms_list.ids)], "trigger": "filter", "gateway_id": gateway.id}
)
Step = env["sms.marketing.journey.step"]
send1 = Step.create(
    {"name": "welcome", "journey_id": journey.id, "step_type": "send", "body": "Welcome!", "include_optout": False}
)
wait = Step.create({"name": "wait", "journey_id": journey.id, "parent_id": send1.id, "step_type": "wait"})
branch = Step.create(
    {"name": "clicked?", "journey_id": journey.id, "parent_id": wait.id, "step_type": "branch", "branch_hours": 0}
)
send2 = Step.create(
    {
        "name": "coupon",
        "journey_id": journey.id,
        "parent_id": branch.id,
        "branch_side": "no",
        "step_type": "send",
        "body": "Your coupon",
        "include_optout": False,
    }
)
journey.action_start()
for step in (send1, send2):  # the bench measures the journey, not the company's window and cap
    step.mailing_id.write({"quiet_hours": False, "frequency_cap_count": 0})
Engine._commit()
Engine._run(time_budget=10)  # the step mailings' start (scheduled -> sending -> done, empty)

# ---------------------------------------------------------------------- 1. first step
start = time.perf_counter()
enter_s, enter_peak = journey_run(journey)
send1_s = send_all(send1.mailing_id)
first_total = time.perf_counter() - start
cr.execute("SELECT count(*) FROM sms_marketing_trace WHERE mailing_id = %s AND state = 'sent'", [send1.mailing_id.id])
sent1 = cr.fetchone()[0]

# ---------------------------------------------------------------------- 2. the branch
link = env["sms.marketing.link"].create({"mailing_id": send1.mailing_id.id, "url": "https://example.com/bench"})
env.flush_all()
cr.execute(
    """INSERT INTO sms_marketing_link_click (link_id, trace_id, mailing_id, res_model, res_id, click_date)
       SELECT %s, t.id, t.mailing_id, t.res_model, t.res_id, now() at time zone 'UTC' - interval '2 seconds'
         FROM sms_marketing_trace t WHERE t.mailing_id = %s AND t.res_id %% 10 = 0""",
    [link.id, send1.mailing_id.id],
)
cr.execute(
    # a second back: the runner's clock (fields.Datetime.now) has no fraction of a second
    "UPDATE sms_marketing_journey_participant SET next_action_at = now() at time zone 'UTC' - interval '1 second'"
    " WHERE journey_id = %s",
    [journey.id],
)
Engine._commit()
start = time.perf_counter()
branch_s, branch_peak = journey_run(journey)
send2.invalidate_recordset()
send2_s = send_all(send2.mailing_id)
branch_total = time.perf_counter() - start
cr.execute("SELECT count(*) FROM sms_marketing_trace WHERE mailing_id = %s", [send2.mailing_id.id])
coupons = cr.fetchone()[0]
cr.execute(
    "SELECT state, count(*) FROM sms_marketing_journey_participant WHERE journey_id = %s GROUP BY state", [journey.id]
)
states = dict(cr.fetchall())
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

print(f"journey bench N={N:,}: {provenance()}")
print(
    f"  first step for all : {first_total:7.1f} s  "
    f"(journey run {enter_s:.1f} s: entered + traces; engine {send1_s:.1f} s)"
)
print(f"                       {sent1:,} first SMS sent")
print(f"  branch for all     : {branch_total:7.1f} s  (journey run {branch_s:.1f} s; engine {send2_s:.1f} s)")
print(f"                       {coupons:,} second SMS (not clicked), participants {states}")
print(
    f"  memory             : Python peak {enter_peak:.1f} MiB (entry run), {branch_peak:.1f} MiB (branch run); "
    f"process peak RSS {rss:.0f} MiB"
)
