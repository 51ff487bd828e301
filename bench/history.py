"""`make bench-history`: does a year of history slow down sending, the form and the reports?

One database, N list contacts (the audience of bench.py), the ``http`` gateway to the gateway
simulator at BENCH_LATENCY_MS, real ``odoo-bin`` servers with cron threads (BENCH_LAYOUTS, one
layout, default 2x2, as bench/deployed.py). Measured twice, on an empty history, then after
BENCH_HISTORY_MAILINGS earlier mailings (default 10) of BENCH_HISTORY_TRACES traces each
(default 1,000,000, sent 1 to 12 months ago; 5 % sent without a report, the ``UNREACHABLE`` below
failed, the rest delivered) and their clicks are loaded set-wise in SQL (INSERT ... SELECT, one statement per
mailing: COPY's speed without a file; the mailings' counters follow by their triggers), then vacuumed
and analyzed as a year of autovacuums leaves them:

- Send (through the ORM), first SMS, Send to last SMS and recipients/s of a mailing to the N
  contacts, on the servers' cron threads;
- as a marketer, medians of 5 (after one warm-up): opening the sent mailing's form (its
  fields read as the form reads them), the dashboard (the kanban's fields of every mailing),
  each engagement filter of README counted on the contacts (with the records it found: a filter
  that finds more with the history reads more), the SMS analysis pivot
  (traces grouped by mailing and state) as it opens (its default filter: the last 30 days) and
  with that filter removed (all the history: read in full, not a target), the campaign
  analysis pivot (the mailings' counters).

The earlier mailings exist in both phases (done, without traces in the first): only their
traces differ. The same list contacts click (every other one, ``CLICKER``) and fail (one in twenty,
``UNREACHABLE``) in every mailing, the earlier ones and each phase's (``engage_sent_mailing``, after
its sending): the filters whose answer is who ever clicked or failed find as many contacts on the
empty history as with it, and only the volume of the history differs. The first phase's mailing
is deleted before the history is loaded: the 30-day windows of both phases hold one mailing of N
(the history's youngest is a month old, at the window's edge).
Printed: each figure on the empty history, with history, and the ratio (target <= 1.5x),
with the provenance of this run. With BENCH_HISTORY_RETENTION_MONTHS=M, then the retention cron
(texts older than M months emptied): its time, and the trace table's size before and after.
Results in bench/results/history-<timestamp>.{json,txt}.

    make bench-history N=100000 BENCH_HISTORY_TRACES=1000000
"""

import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import benchdb  # noqa: E402
import deployed  # noqa: E402

import bench  # noqa: E402

TARGET_RATIO = 1.5

# conditions on a contact ``c`` of rank ``rn`` (by id; the list's N contacts come first)
CLICKER = "c.rn <= %(n)s AND c.rn %% 2 = 0"
UNREACHABLE = "c.rn <= %(n)s AND c.rn %% 20 = 1"


def add_earlier_contacts(cr, traces):
    """The people the earlier mailings went to: the list's contacts and as many earlier ones as a
    mailing of ``traces`` traces needs (a trace is one recipient of one mailing), in no list, as
    unsubscribed people are. Made before the empty-history figures, so that both phases count
    the same contacts and only the history differs."""
    cr.execute("SELECT count(*) FROM sms_marketing_contact")
    missing = traces - cr.fetchone()[0]
    if missing > 0:
        cr.execute(
            """INSERT INTO sms_marketing_contact (name, phone, phone_sanitized, phone_country_code, company_id,
                                                  create_date, write_date)
               SELECT 'earlier ' || i, p, p, 'FR', 1, now(), now()
                 FROM (SELECT i, '+337' || lpad(i::text, 8, '0') AS p FROM generate_series(1, %s) i) s""",
            (missing,),
        )
    cr.execute("ANALYZE sms_marketing_contact")


def create_history_mailings(env, list_id, mailings):
    """The earlier mailings, done 1 to 12 months ago, without traces yet: made before the empty-history
    figures, so that both phases show the same mailings (the dashboard's cards) and only their traces
    differ -> [(mailing id, link id, months ago)]."""
    history = []
    for number in range(mailings):
        months = 1 + number * 11 // max(1, mailings - 1)
        mailing = env["sms.marketing.mailing"].create(
            {"subject": f"History {number + 1}", "body": "History https://shop.example.com",
             "list_ids": [(6, 0, [list_id])]}
        )  # fmt: skip
        link_id = env["sms.marketing.link"].create({"url": "https://shop.example.com", "mailing_id": mailing.id}).id
        env.flush_all()
        env.cr.execute(
            """UPDATE sms_marketing_mailing SET state = 'done', trace_build_done = TRUE,
                      sent_date = now() at time zone 'UTC' - %s * interval '1 month' WHERE id = %s""",
            (months, mailing.id),
        )
        history.append((mailing.id, link_id, months))
    return history


def load_history(env, history, traces, n):
    """The traces of the earlier mailings (``traces`` each, to the first ``traces`` contacts): the
    ``UNREACHABLE`` among the list's ``n`` contacts failed, the ``CLICKER`` clicked."""
    cr = env.cr
    _rank_contacts(cr, "history_contact")
    for number, (mailing_id, link_id, months) in enumerate(history):
        cr.execute(
            f"""INSERT INTO sms_marketing_trace (mailing_id, res_model, res_id, number, country_code, uuid, body,
                                                segments, cost, state, sent_at, delivered_at, write_date, try_count)
                SELECT %(mailing)s, 'sms.marketing.contact', c.id, c.phone_sanitized, 'FR', md5(random()::text),
                       'History https://shop.example.com/r/abcdefgh opt out: https://x.example/o/12345678', 1, 0.05,
                       CASE WHEN {UNREACHABLE} THEN 'failed' WHEN c.rn %% 20 = 2 THEN 'sent' ELSE 'delivered' END,
                       now() at time zone 'UTC' - %(months)s * interval '1 month',
                       now() at time zone 'UTC' - %(months)s * interval '1 month' + interval '5 seconds',
                       now() at time zone 'UTC', 0
                  FROM history_contact c WHERE c.rn <= %(traces)s""",
            {"mailing": mailing_id, "months": months, "traces": traces, "n": n},
        )
        _click(cr, "history_contact", mailing_id, link_id, "t.sent_at + interval '2 hours'", n)
        bench.log(f"history: mailing {number + 1} of {len(history)}, {traces:,} traces, {months} months ago")


def _rank_contacts(cr, table):
    """A temporary table of the contacts with their rank by id (``rn``), for the conditions above."""
    cr.execute(
        f"""CREATE TEMP TABLE {table} ON COMMIT DROP AS
            SELECT id, phone_sanitized, row_number() OVER (ORDER BY id) AS rn FROM sms_marketing_contact"""
    )
    cr.execute(f"CREATE INDEX ON {table} (rn)")
    cr.execute(f"CREATE INDEX ON {table} (id)")


def _click(cr, ranked, mailing_id, link_id, click_date, n):
    """The ``CLICKER`` among the delivered recipients of ``mailing_id`` click its link at ``click_date``."""
    cr.execute(
        f"""INSERT INTO sms_marketing_link_click (link_id, trace_id, mailing_id, res_model, res_id, click_date,
                                                  create_date, write_date)
            SELECT %(link)s, t.id, t.mailing_id, t.res_model, t.res_id, {click_date}, now(), now()
              FROM sms_marketing_trace t JOIN {ranked} c ON c.id = t.res_id
             WHERE t.mailing_id = %(mailing)s AND t.state = 'delivered' AND {CLICKER}""",
        {"link": link_id, "mailing": mailing_id, "n": n},
    )


def engage_sent_mailing(env, mailing_id, n):
    """What the earlier mailings' recipients did, done on the mailing just sent: the ``UNREACHABLE``
    failed (as their delivery reports would say), the ``CLICKER`` clicked, through the tables'
    triggers as any writer."""
    cr = env.cr
    link_id = env["sms.marketing.link"].create({"url": "https://shop.example.com", "mailing_id": mailing_id}).id
    env.flush_all()
    _rank_contacts(cr, "engaged_contact")
    cr.execute(
        f"""UPDATE sms_marketing_trace t SET state = 'failed', write_date = now() at time zone 'UTC'
              FROM engaged_contact c
             WHERE t.mailing_id = %(mailing)s AND t.res_id = c.id AND t.state IN ('sent', 'delivered')
               AND {UNREACHABLE}""",
        {"mailing": mailing_id, "n": n},
    )
    _click(cr, "engaged_contact", mailing_id, link_id, "now() at time zone 'UTC'", n)
    cr.commit()


HISTORY_TABLES = ("sms_marketing_trace", "sms_marketing_link_click", "sms_marketing_mailing")


def vacuum_history(db):
    """VACUUM (ANALYZE) what the history loaded, after its commit: a year of history has been vacuumed and
    analyzed by that year's autovacuums; loaded in minutes, it would be vacuumed by an autovacuum of
    10,000,000 new rows during the phase's Send and figures instead (its statistics, the index-only reads
    of the visibility map)."""
    for table in HISTORY_TABLES:
        bench._psql(db, f"VACUUM (ANALYZE) {table}")  # outside a transaction


def _median_time(function, runs=5):
    function()  # warm-up: the figures are those of a user who already opened the app
    timings = []
    for _run in range(runs):
        begin = time.perf_counter()
        function()
        timings.append(time.perf_counter() - begin)
    return statistics.median(timings)


def ui_figures(env, marketer, mailing_id):
    """Seconds (medians of 5) of what a marketer opens: the sent mailing's form, the dashboard,
    each engagement filter, the SMS analysis pivot."""
    from odoo import fields

    Mailing = env["sms.marketing.mailing"].with_user(marketer)
    form_fields = list(Mailing.get_views([(False, "form")])["models"]["sms.marketing.mailing"])
    kanban_fields = list(Mailing.get_views([(False, "kanban")])["models"]["sms.marketing.mailing"])

    def form():
        env.invalidate_all()
        Mailing.browse(mailing_id).read(form_fields)

    def dashboard():
        env.invalidate_all()
        Mailing.search_read([], kanban_fields)

    Trace = env["sms.marketing.trace"].with_user(marketer)
    # the SMS analysis opens on its default filter, the last 30 days (its view: recent_sent_at, now - 30 days)
    last_30_days = [("recent_sent_at", ">", fields.Datetime.now() - timedelta(days=30))]

    def pivot(domain=last_30_days):
        Trace.read_group(domain, ["cost:sum"], ["mailing_id", "state"], lazy=False)

    def campaign_pivot():
        env["sms.marketing.campaign.report"].with_user(marketer).read_group(
            [], ["recipient_count:sum", "sent_count:sum", "clicked_count:sum"], ["campaign_id"], lazy=False
        )

    figures = {"form of the sent mailing": _median_time(form), "dashboard": _median_time(dashboard)}
    Contact = env["sms.marketing.contact"].with_user(marketer)
    now = fields.Datetime.now()
    filters = (
        ("filter: Last SMS Received (30 days)", [("sms_last_received_at", ">", now - timedelta(days=30))]),
        ("filter: SMS Received (30 Days) >= 1", [("sms_received_30d_count", ">=", 1)]),
        ("filter: Clicked (90 Days)", [("sms_clicked_90d", "=", True)]),
        ("filter: Last SMS Click set", [("sms_last_click_at", "!=", False)]),
        ("filter: Last Delivery Failure set", [("sms_last_failure_at", "!=", False)]),
        ("filter: Received Mailing (this one)", [("sms_received_mailing_ids", "in", [mailing_id])]),
    )
    found = {}
    for label, domain in filters:
        figures[label] = _median_time(lambda domain=domain: (env.invalidate_all(), Contact.search_count(domain)))
        found[label] = Contact.search_count(domain)
    figures["SMS analysis pivot (last 30 days)"] = _median_time(pivot)
    figures["SMS analysis pivot, filter removed"] = _median_time(lambda: pivot([]))
    figures["Campaign analysis pivot"] = _median_time(campaign_pivot)
    return figures, found


def _marketer(env):
    return env["res.users"].create(
        {
            "name": "bench marketer",
            "login": f"bench_history_{os.getpid()}",
            "groups_id": [(6, 0, [env.ref("sms_marketing_custom.group_sms_marketing_user").id])],
        }
    )


def retention(registry, months):
    """Run the retention cron (texts older than ``months`` emptied) as the daily cron does -> its figures:
    the trace table's size and its rows' bytes (what the texts took) before and after, and the cron's time."""
    from odoo import SUPERUSER_ID, api

    def sizes(cr):
        cr.execute(
            """SELECT pg_total_relation_size('sms_marketing_trace'),
                      (SELECT sum(pg_column_size(t.*)) FROM sms_marketing_trace t),
                      (SELECT count(*) FROM sms_marketing_trace WHERE body IS NOT NULL)"""
        )
        return dict(zip(("table_bytes", "row_bytes", "with_text"), cr.fetchone(), strict=True))

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        before = sizes(cr)
        env["ir.config_parameter"].set_param("sms_marketing_custom.body_retention_months", str(months))
        cr.commit()
        begin = time.monotonic()
        dropped = env["sms.marketing.trace"]._cron_drop_old_bodies()
        cron_s = time.monotonic() - begin
        cr.commit()
    with registry.cursor() as cr:
        after = sizes(cr)
    bench._psql(registry.db_name, "VACUUM sms_marketing_trace")  # outside a transaction
    with registry.cursor() as cr:
        vacuumed = sizes(cr)
    bench.log(f"retention {months} months: {dropped:,} texts emptied in {cron_s:.1f}s")
    return {"months": months, "emptied": dropped, "cron_s": cron_s, "before": before, "after": after,
            "after_vacuum": vacuumed}  # fmt: skip


def run():
    from odoo import SUPERUSER_ID, api

    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] else 100_000
    servers, threads = deployed._layouts()[0]
    mailings = int(os.environ.get("BENCH_HISTORY_MAILINGS", "10"))
    traces = int(os.environ.get("BENCH_HISTORY_TRACES", "1000000"))
    retention_months = int(os.environ.get("BENCH_HISTORY_RETENTION_MONTHS", "0"))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    aud = bench._audience(n)
    logs = bench.RESULTS / f"history-{n}"
    logs.mkdir(parents=True, exist_ok=True)
    phases = {}
    with benchdb.seeded_db(aud) as (db, registry, list_id):
        with registry.cursor() as cr:
            add_earlier_contacts(cr, traces)
            marketer_id = _marketer(api.Environment(cr, SUPERUSER_ID, {})).id
            history = create_history_mailings(api.Environment(cr, SUPERUSER_ID, {}), list_id, mailings)
        mailing_id = None
        for phase in ("empty history", "with history"):
            if phase == "with history":
                with registry.cursor() as cr:
                    # the first phase's mailing goes: both phases' time windows hold one mailing of N
                    api.Environment(cr, SUPERUSER_ID, {})["sms.marketing.mailing"].browse(mailing_id).unlink()
                    begin = time.monotonic()
                    load_history(api.Environment(cr, SUPERUSER_ID, {}), history, traces, n)
                loaded = time.monotonic()
                vacuum_history(db)
                vacuumed = time.monotonic() - loaded
                bench.log(f"history loaded in {loaded - begin:.0f}s, vacuumed and analyzed in {vacuumed:.0f}s")
            mailing_id = benchdb.create_mailing(registry, list_id, aud)
            sending = deployed.send_on_servers(db, registry, mailing_id, servers, threads, f"history {phase}", logs)
            with registry.cursor() as cr:
                engage_sent_mailing(api.Environment(cr, SUPERUSER_ID, {}), mailing_id, n)
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                cr.execute("SELECT count(*) FROM sms_marketing_trace")
                total = cr.fetchone()[0]
                figures, found = ui_figures(env, env["res.users"].browse(marketer_id), mailing_id)
                cr.rollback()  # what the figures read leaves nothing behind
            phases[phase] = {"traces in the table": total, "sending": sending, "ui_s": figures, "found": found}
            bench.log(f"{phase}: {total:,} traces; {sending['summary']}")
        kept = retention(registry, retention_months) if retention_months else None
    result = {"n": n, "layout": f"{servers}x{threads}", "history": {"mailings": mailings, "traces": traces},
              "started": started, "phases": phases, "retention": kept}  # fmt: skip
    text = "\n".join(report(result))
    print(text)
    out = bench.RESULTS / f"history-{time.strftime('%Y%m%d-%H%M%S')}"
    Path(f"{out}.txt").write_text(text + "\n")
    Path(f"{out}.json").write_text(json.dumps(result, indent=1, default=str))
    bench.log(f"written to {out}.json and .txt")


def report(result):
    empty, full = result["phases"]["empty history"], result["phases"]["with history"]
    lines = [
        f"== a year of history: all figures from this run ({result['started']}), "
        f"{result['layout']} servers x cron threads, N={result['n']:,}",
        bench.provenance(gateway=f"http gateway {bench._latency_ms():g} ms/request"),
        f"history: {result['history']['mailings']} mailings of {result['history']['traces']:,} traces "
        f"({full['traces in the table']:,} traces in the table, against {empty['traces in the table']:,})",
        "",
        f"{'figure':42} {'empty':>9} {'history':>9} {'ratio':>6}  target <= {TARGET_RATIO}x",
    ]

    def row(label, before, after, higher_is_better=False):
        ratio = (before / after if higher_is_better else after / before) if before and after else None
        verdict = "" if ratio is None else ("ok" if ratio <= TARGET_RATIO else "MISSED")
        if "filter removed" in label:
            verdict = "(reads all the history: no target)"
        lines.append(f"{label:42} {before:>9.3f} {after:>9.3f} {ratio or 0:>6.2f}  {verdict}")

    row("Send (s)", empty["sending"]["send_s"], full["sending"]["send_s"])
    row("first SMS (s)", empty["sending"]["first_sms_s"], full["sending"]["first_sms_s"])
    row("recipients/s (ratio: empty / history)", empty["sending"]["rate"], full["sending"]["rate"], True)
    for label in empty["ui_s"]:
        row(f"{label} (s)", empty["ui_s"][label], full["ui_s"][label])
        if label in empty.get("found", {}):
            lines.append(f"{'':4}records found: {empty['found'][label]:,} -> {full['found'][label]:,}")
    kept = result.get("retention")
    if kept:
        mib = 1024 * 1024
        lines += [
            "",
            f"retention: texts older than {kept['months']} months emptied by the daily cron: {kept['emptied']:,} "
            f"in {kept['cron_s']:.1f} s",
        ]
        for label, key in (("before", "before"), ("after the cron", "after"), ("after VACUUM", "after_vacuum")):
            sizes = kept[key]
            lines.append(
                f"  {label:15} trace table {sizes['table_bytes'] / mib:8.1f} MiB, rows {sizes['row_bytes'] / mib:8.1f} "
                f"MiB, {sizes['with_text']:,} traces with a text"
            )
        lines.append("  (the space freed is reused by the next sendings; the file shrinks only with VACUUM FULL)")
    return lines


if __name__ == "__main__":
    import odoo

    odoo.tools.config.parse_config(["-c", bench.ODOO_RC, "--log-level=warn"])
    odoo.netsvc.init_logger()
    os.environ["BENCH_GATEWAY"] = "http"
    os.environ.setdefault("BENCH_LAYOUTS", "2x2")
    bench.RESULTS.mkdir(exist_ok=True)
    run()
