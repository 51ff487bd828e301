"""A year of history: the figures are counters, the time-window filters read their window, old texts go.

The mailings' figures are kept by the trace and click tables' triggers (``sms.marketing.campaign.report``):
after sending, delivery reports, clicks, opt-outs, a cancel and a deleted trace they equal a count of the
traces, and reading them does not read the traces. The engagement filters with a time window read the
traces of the mailings sent in it (checked on the plan, with enough rows and statistics). The retention
cron empties the texts of the old traces and nothing else; only an administrator sets it.
"""

from datetime import timedelta

from lxml import etree

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import SmsEngineCase, load_migration

# a mailing's figures counted from its traces and clicks, as the view counted them before the counters
RECOUNT = """
    SELECT m.id, count(t.id), count(t.id) FILTER (WHERE t.sent_at IS NOT NULL),
           count(t.id) FILTER (WHERE t.state = 'delivered'), count(t.id) FILTER (WHERE t.state = 'failed'),
           count(t.id) FILTER (WHERE t.state = 'pending'), count(t.id) FILTER (WHERE t.state = 'unknown'),
           count(t.id) FILTER (WHERE t.state = 'canceled'), count(t.id) FILTER (WHERE t.optout_at IS NOT NULL),
           COALESCE(sum(t.cost), 0),
           (SELECT count(DISTINCT c.trace_id) FROM sms_marketing_link_click c
             WHERE c.mailing_id = m.id AND c.trace_id IS NOT NULL)
      FROM sms_marketing_mailing m LEFT JOIN sms_marketing_trace t ON t.mailing_id = m.id
     WHERE m.id = ANY(%s) GROUP BY m.id
"""
COLUMNS = (
    "recipient_count",
    "sent_count",
    "delivered_count",
    "failed_count",
    "pending_count",
    "unknown_count",
    "canceled_count",
    "optout_count",
    "credits_spent",
    "clicked_count",
)


@tagged("post_install", "-at_install")
class TestHistory(SmsEngineCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contacts = cls._make_contacts(12)
        cls._opt_out(cls.contacts[-1])

    def _recount(self, mailings):
        self.env.flush_all()
        self.env.cr.execute(RECOUNT, [mailings.ids])
        return {row[0]: dict(zip(COLUMNS, (float(v) for v in row[1:]), strict=True)) for row in self.env.cr.fetchall()}

    def _counters(self, mailings):
        figures = self.env["sms.marketing.campaign.report"]._get_mailing_figures(mailings.ids, COLUMNS)
        return {mid: {k: float(v) for k, v in values.items()} for mid, values in figures.items()}

    def _sent_mailing(self, **values):
        mailing = self._start(self._make_mailing(**values))
        self._run_cron()
        return mailing

    def test_counters_equal_a_recount_whoever_writes_the_traces(self):
        first, second = self._sent_mailing(), self._sent_mailing()
        mailings = first | second
        self.assertEqual(self._counters(mailings), self._recount(mailings))
        self.assertEqual(self._counters(first)[first.id]["recipient_count"], 12)
        traces = first.trace_ids.filtered(lambda t: t.state in ("sent", "delivered")).sorted("id")
        # delivery reports (set-wise SQL), clicks (twice on one trace: one clicked trace), an opt-out,
        # an ORM write, a trace deleted, a canceled mailing's pending traces
        self.sandbox._process_statuses([{"uuid": traces[0].uuid, "state": "undelivered"}])
        link = self.env["sms.marketing.link"].create({"url": "https://shop.example.com", "mailing_id": first.id})
        Click = self.env["sms.marketing.link.click"]
        Click._add_click(link.id, traces[1].id)
        Click._add_click(link.id, traces[1].id)
        Click._add_click(link.id, traces[2].id)
        traces[3].optout_at = fields.Datetime.now()
        traces[4].write({"state": "failed", "failure_type": "rejected"})
        traces[5].unlink()
        self.assertEqual(self._counters(mailings), self._recount(mailings))
        self.assertEqual(self._counters(first)[first.id]["clicked_count"], 2)
        # clicks removed: one of a trace's two (it stays clicked), a clicked trace deleted (its click loses
        # it), then every click of the mailing in one statement (set-wise, as a mailing's deletion)
        Click.search([("trace_id", "=", traces[1].id)], limit=1).unlink()
        self.assertEqual(self._counters(mailings), self._recount(mailings))
        Click._add_click(link.id, traces[6].id)
        traces[6].unlink()
        self.assertEqual(self._counters(mailings), self._recount(mailings))
        self.env.flush_all()
        self.env.cr.execute("DELETE FROM sms_marketing_link_click WHERE link_id = %s", [link.id])
        self.assertEqual(self._counters(mailings), self._recount(mailings))
        self.assertEqual(self._counters(first)[first.id]["clicked_count"], 0)
        pending = self._start(self._make_mailing())
        engine = self.env["sms.marketing.engine"]
        engine._build_traces(pending, engine._get_params())  # built, nothing sent: pending traces
        pending.action_cancel()
        self.env["sms.marketing.mailing"]._cron_process_queue()
        mailings |= pending
        self.assertEqual(self._counters(mailings), self._recount(mailings))
        # folded: one row per mailing, the same figures; a deleted mailing leaves no counter
        Report = self.env["sms.marketing.campaign.report"]
        Report._cron_fold_figures()
        self.assertEqual(self._counters(mailings), self._recount(mailings))
        self.env.cr.execute(
            "SELECT mailing_id, count(*) FROM sms_marketing_mailing_figure WHERE mailing_id = ANY(%s) GROUP BY 1",
            [mailings.ids],
        )
        self.assertTrue(all(count == 1 for _mid, count in self.env.cr.fetchall()))
        second.unlink()
        Report._cron_fold_figures()
        self.env.cr.execute("SELECT count(*) FROM sms_marketing_mailing_figure WHERE mailing_id = %s", [second.id])
        self.assertEqual(self.env.cr.fetchone()[0], 0)

    def test_one_statement_writing_several_mailings_counts_each(self):
        """One UPDATE moves traces from a mailing to another, dates a third's pending traces for later
        and moves the sending dates of the second: each mailing's counters, its queue's and its
        sending dates equal what its traces say (the trigger sees the rows of all three at once)."""
        first, second = self._sent_mailing(), self._sent_mailing()
        waiting = self._start(self._make_mailing())
        engine = self.env["sms.marketing.engine"]
        engine._build_traces(waiting, engine._get_params())  # built, nothing sent: pending traces
        mailings = first | second | waiting
        self.env.flush_all()
        moved = first.trace_ids.filtered("sent_at").sorted("id")[:2]
        dated = waiting.trace_ids.filtered(lambda t: t.state == "pending").sorted("id")[:3]
        latest, earliest = second.trace_ids.filtered("sent_at").sorted("id")[:2]
        later = fields.Datetime.now() + timedelta(hours=2)
        earlier = fields.Datetime.now() - timedelta(days=3)
        self.env.cr.execute(
            """UPDATE sms_marketing_trace
                  SET mailing_id = CASE WHEN id = ANY(%(moved)s) THEN %(second)s ELSE mailing_id END,
                      res_id = CASE WHEN id = ANY(%(moved)s) THEN res_id + 1000000 ELSE res_id END,
                      next_try_at = CASE WHEN id = ANY(%(dated)s) THEN %(later)s ELSE next_try_at END,
                      sent_at = CASE WHEN id = %(latest)s THEN %(later)s WHEN id = %(earliest)s THEN %(earlier)s
                                     ELSE sent_at END
                WHERE mailing_id = ANY(%(mailings)s)""",
            {
                "moved": moved.ids,
                "second": second.id,
                "dated": dated.ids,
                "later": later,
                "earlier": earlier,
                "latest": latest.id,
                "earliest": earliest.id,
                "mailings": mailings.ids,
            },
        )
        self.env.invalidate_all()
        self.assertEqual(self._counters(mailings), self._recount(mailings))
        self.assertEqual(self._counters(first)[first.id]["recipient_count"], 10)
        self.assertEqual(self._counters(second)[second.id]["recipient_count"], 14)
        self.env.cr.execute(
            """SELECT m.id, count(t.id) FILTER (WHERE t.state = 'pending' AND t.claim_move_id IS NULL),
                      count(t.id) FILTER (WHERE t.state = 'pending' AND t.claim_move_id IS NULL
                                            AND t.next_try_at IS NOT NULL),
                      count(t.id) FILTER (WHERE t.state = 'pending')
                 FROM sms_marketing_mailing m LEFT JOIN sms_marketing_trace t ON t.mailing_id = m.id
                WHERE m.id = ANY(%s) GROUP BY m.id""",
            [mailings.ids],
        )
        recounted = {mid: tuple(counts) for mid, *counts in self.env.cr.fetchall()}
        queues = self.env["sms.marketing.campaign.report"]._get_queue_counts(mailings.ids)
        self.assertEqual({mid: tuple(counts) for mid, counts in queues.items()}, recounted)
        self.assertEqual(queues[waiting.id].waiting, 3)
        self.env.cr.execute(
            """SELECT max(last_sent_at), min(first_sent_at) FROM sms_marketing_mailing_figure
                WHERE mailing_id = %s""",
            [second.id],
        )
        self.assertEqual(self.env.cr.fetchone(), (later, earlier))

    def test_an_upgraded_database_gets_its_counters(self):
        """A database of the previous release has no counters: the upgrade (the report's init) counts them."""
        mailings = self._sent_mailing() | self._sent_mailing()
        self.env.cr.execute("DROP TABLE sms_marketing_mailing_figure CASCADE")  # and the view reading it
        self.env["sms.marketing.campaign.report"].init()
        self.assertEqual(self._counters(mailings), self._recount(mailings))
        # and the triggers count from there
        mailings[0].trace_ids[:2].write({"state": "failed", "failure_type": "rejected"})
        self.assertEqual(self._counters(mailings), self._recount(mailings))
        # a database of the release before the first sending dates: the column, and a recount
        self.env.cr.execute("ALTER TABLE sms_marketing_mailing_figure DROP COLUMN first_sent_at")
        self.env["sms.marketing.campaign.report"].init()
        self.env.cr.execute(
            """SELECT f.mailing_id, min(f.first_sent_at) = (SELECT min(t.sent_at) FROM sms_marketing_trace t
                                                          WHERE t.mailing_id = f.mailing_id)
                 FROM sms_marketing_mailing_figure f WHERE f.mailing_id = ANY(%s) GROUP BY f.mailing_id""",
            [mailings.ids],
        )
        self.assertEqual(dict(self.env.cr.fetchall()), dict.fromkeys(mailings.ids, True))
        self.assertEqual(self._counters(mailings), self._recount(mailings))

    def test_reading_the_figures_reads_no_trace(self):
        mailing = self._sent_mailing()
        self.env.cr.execute(
            "EXPLAIN SELECT * FROM sms_marketing_campaign_report WHERE mailing_id = ANY(%s)", [mailing.ids]
        )
        plan = "\n".join(row[0] for row in self.env.cr.fetchall())
        self.assertNotIn("sms_marketing_trace", plan)
        self.assertNotIn("sms_marketing_link_click", plan)

    def _old_mailing(self, traces, months):
        """A mailing sent ``months`` ago to ``traces`` recipients, inserted set-wise (a year of history)."""
        mailing = self._make_mailing(subject=f"History {months}")
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE sms_marketing_mailing SET state = 'done',
                      sent_date = now() at time zone 'UTC' - %s * interval '1 month'
                WHERE id = %s""",
            [months, mailing.id],
        )
        self.env.cr.execute(
            """INSERT INTO sms_marketing_trace (mailing_id, res_model, res_id, number, uuid, body, segments, cost,
                                               state, sent_at, create_date, write_date)
               SELECT %(mailing)s, 'sms.marketing.contact', %(contact)s + i, '+3247' || lpad(i::text, 7, '0'),
                      md5(random()::text || i), 'An old text', 1, 1,
                      CASE WHEN i %% 10 = 0 THEN 'failed' ELSE 'delivered' END,
                      now() at time zone 'UTC' - %(months)s * interval '1 month',
                      now() at time zone 'UTC' - %(months)s * interval '1 month',
                      now() at time zone 'UTC' - %(months)s * interval '1 month'
                 FROM generate_series(1, %(traces)s) i""",
            {"mailing": mailing.id, "contact": self.contacts[0].id, "traces": traces, "months": months},
        )
        self.env.invalidate_all()
        return mailing

    def _count_plan(self, model, domain):
        """The plan (EXPLAIN ANALYZE, JSON) of counting ``model``'s records matching ``domain``."""
        query = model._search(domain).select("count(*)")
        self.env.cr.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query.code}", query.params)
        return self.env.cr.fetchone()[0][0]["Plan"]

    def _plan_nodes(self, node, table):
        """The nodes of the plan ``node`` (EXPLAIN ANALYZE, JSON) that read ``table``."""
        nodes = [node] if node.get("Relation Name") == table else []
        return nodes + [found for child in node.get("Plans", ()) for found in self._plan_nodes(child, table)]

    def _rows_read(self, node, table):
        """Rows of ``table`` the plan ``node`` (EXPLAIN ANALYZE, JSON) read: returned or filtered out."""
        return sum(
            (scan["Actual Rows"] + scan.get("Rows Removed by Filter", 0)) * scan["Actual Loops"]
            for scan in self._plan_nodes(node, table)
        )

    def test_time_window_filters_read_the_mailings_sent_in_the_window(self):
        for months in (3, 6, 9, 12):
            self._old_mailing(20000, months)
        self._sent_mailing()
        self.env.cr.execute("ANALYZE sms_marketing_trace")
        Contact = self.env["sms.marketing.contact"].with_user(self.user_marketing)
        now = fields.Datetime.now()
        for domain in (
            [("sms_received_30d_count", ">=", 1)],
            [("sms_last_received_at", ">", now - timedelta(days=30))],
            [("sms_last_received_at", ">=", now - timedelta(days=7))],
        ):
            with self.subTest(domain=domain):
                # the traces it reads: those of the recent mailings, none of the 80,000 of the old ones
                self.assertLess(self._rows_read(self._count_plan(Contact, domain), "sms_marketing_trace"), 5000)
                # and the answer is the recount's
                since = domain[0][2] if domain[0][0] == "sms_last_received_at" else now - timedelta(days=30)
                self.env.cr.execute(
                    """SELECT count(DISTINCT res_id) FROM sms_marketing_trace
                        WHERE res_model = 'sms.marketing.contact' AND state IN ('sent', 'delivered')
                          AND sent_at >= %s AND res_id IN (SELECT id FROM sms_marketing_contact)""",
                    [since],
                )
                expected = self.env.cr.fetchone()[0]
                self.assertEqual(Contact.search_count(domain), expected)

    def test_failure_filters_read_the_failed_traces_only(self):
        """*Last Delivery Failure* finds the failed traces through their partial index, not by reading every
        trace (80,000 old ones here, a tenth of them failed)."""
        for months in (3, 6, 9, 12):
            self._old_mailing(20000, months)
        self._sent_mailing()
        self.env.cr.execute("ANALYZE sms_marketing_trace")
        self.env.cr.execute("SELECT count(*) FROM sms_marketing_trace WHERE state = 'failed'")
        failed = self.env.cr.fetchone()[0]
        self.assertGreaterEqual(failed, 8000)
        Contact = self.env["sms.marketing.contact"].with_user(self.user_marketing)
        now = fields.Datetime.now()
        for domain in (
            [("sms_last_failure_at", "!=", False)],
            [("sms_last_failure_at", "<", now - timedelta(days=200))],
            [("sms_last_failure_at", "=", False)],
        ):
            with self.subTest(domain=domain):
                # about the failed ones (each loop's rows are an average); every trace before (80,972)
                self.assertLess(self._trace_rows_read(Contact, domain), 2 * failed)
                # the answer is the recount's, on the traces' states
                self.env.cr.execute(
                    """SELECT res_id, max(write_date) FROM sms_marketing_trace
                        WHERE res_model = 'sms.marketing.contact' AND state = 'failed' GROUP BY res_id"""
                )
                last = dict(self.env.cr.fetchall())
                contacts = self.env["sms.marketing.contact"].search([])
                operator, value = domain[0][1], domain[0][2]
                if operator == "<":
                    expected = {c for c in contacts.ids if c in last and last[c] < value}
                else:
                    expected = {c for c in contacts.ids if (c in last) == (operator == "!=")}
                self.assertEqual(set(Contact.search(domain).ids), expected)

    def test_failed_at_follows_the_state_whoever_writes_it(self):
        """``failed_at`` is the failing write's date, set by the table's trigger for the engine's SQL, the
        delivery reports and the ORM alike, cleared when a trace leaves ``failed``; never for the rest."""
        mailing = self._sent_mailing()
        traces = mailing.trace_ids.filtered(lambda t: t.state in ("sent", "delivered"))
        self.assertGreaterEqual(len(traces), 3)
        self.assertFalse(any(mailing.trace_ids.mapped("failed_at")))
        gateway = traces[0].gateway_id or mailing.gateway_id
        self.env.cr.execute("UPDATE sms_marketing_trace SET state = 'sent' WHERE id = ANY(%s)", [traces.ids])
        self.env.invalidate_all()
        gateway._process_statuses(
            [{"uuid": traces[0].uuid, "state": "undelivered"}, {"uuid": traces[1].uuid, "state": "delivered"}]
        )
        self.env.invalidate_all()
        self.assertEqual((traces[0].state, traces[1].state), ("failed", "delivered"))
        self.assertEqual(traces[0].failed_at, traces[0].write_date)
        self.assertFalse(traces[1].failed_at)
        # through the ORM (what the ORM reads next is the trigger's), and out of failed again
        traces[2].write({"state": "failed", "failure_type": "rejected"})
        self.assertEqual(traces[2].failed_at, traces[2].write_date)
        traces[2].write({"state": "sent"})
        self.assertFalse(traces[2].failed_at)
        # a date written alone (an RPC write of the field) on a trace that did not fail: refused by the rule
        traces[1].write({"failed_at": fields.Datetime.now()})
        self.assertFalse(traces[1].failed_at)
        # created failed (the demo's traces)
        created = self.env["sms.marketing.trace"].create(
            {"mailing_id": mailing.id, "res_model": "sms.marketing.contact", "res_id": 0, "state": "failed"}
        )
        self.assertEqual(created.failed_at, created.write_date)
        undated = self.env["sms.marketing.trace"].create(
            {"mailing_id": mailing.id, "res_model": "sms.marketing.contact", "res_id": -2, "state": "delivered",
             "failed_at": fields.Datetime.now()}
        )  # fmt: skip
        self.assertFalse(undated.failed_at)
        # with the date of its report given (the demo data's, in the past): that date
        reported = fields.Datetime.now() - timedelta(days=20)
        dated = self.env["sms.marketing.trace"].create(
            {"mailing_id": mailing.id, "res_model": "sms.marketing.contact", "res_id": -1, "state": "failed",
             "failed_at": reported}
        )  # fmt: skip
        self.env.flush_all()
        self.env.invalidate_all()
        self.assertEqual(dated.failed_at, reported.replace(microsecond=0))
        # a write that keeps the trace failed keeps the date of its failure
        self.env.cr.execute(
            "UPDATE sms_marketing_trace SET state = 'failed', write_date = write_date + interval '1 day' WHERE id = %s",
            [created.id],
        )
        self.env.invalidate_all()
        self.assertLess(created.failed_at, created.write_date)

    def test_an_upgraded_database_gets_its_failure_dates(self):
        """A database of the previous release has no ``failed_at``: the migration gives the failed traces
        their last write's date, which the filters read before."""
        mailing = self._old_mailing(50, 2)
        self.env.cr.execute("UPDATE sms_marketing_trace SET failed_at = NULL WHERE mailing_id = %s", [mailing.id])
        load_migration("17.0.1.5.0", "post-migrate").migrate(self.env.cr, "17.0.1.4.0")
        self.env.cr.execute(
            """SELECT state, count(*), count(*) FILTER (WHERE failed_at = write_date)
                 FROM sms_marketing_trace WHERE mailing_id = %s GROUP BY state ORDER BY state""",
            [mailing.id],
        )
        self.assertEqual(self.env.cr.fetchall(), [("delivered", 45, 0), ("failed", 5, 5)])

    def test_every_reference_to_a_trace_is_indexed(self):
        """Deleting a mailing deletes its traces, and each reference to them is looked up per trace: without an
        index on the referencing column, a scan of that table per trace (the journeys' participants: 244 s for a
        mailing of 100,000 beside 20,000 participants, docs/benchmark.md)."""
        self.env.cr.execute(
            """SELECT c.conrelid::regclass::text, a.attname
                 FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                WHERE c.contype = 'f' AND c.confrelid = 'sms_marketing_trace'::regclass
                  AND NOT EXISTS (SELECT 1 FROM pg_index i
                                   WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])"""
        )
        self.assertEqual(self.env.cr.fetchall(), [])

    def test_click_and_failure_filters_read_one_row_per_recipient(self):
        """*Last SMS Click*, *Clicked (90 Days)* and *Last Delivery Failure* read each recipient's last click and
        failure (the engagement summary, folded by the cron), neither the clicks nor the failed traces of the
        history: four mailings here, in which the same 2,000 recipients failed and 2,000 others clicked."""
        mailings = [self._old_mailing(20000, months) for months in (1, 2, 3, 4)]
        link = self.env["sms.marketing.link"].create({"url": "https://shop.example.com", "mailing_id": mailings[0].id})
        self.env.flush_all()
        self.env.cr.execute(
            """INSERT INTO sms_marketing_link_click (link_id, trace_id, mailing_id, res_model, res_id, click_date)
               SELECT %s, t.id, t.mailing_id, t.res_model, t.res_id, t.sent_at + interval '1 hour'
                 FROM sms_marketing_trace t WHERE t.mailing_id = ANY(%s) AND t.number LIKE '%%1'""",
            [link.id, [mailing.id for mailing in mailings]],
        )
        self.env["sms.marketing.campaign.report"]._cron_fold_figures()
        self.env.cr.execute("ANALYZE sms_marketing_engagement_summary")
        self.env.cr.execute(
            """SELECT count(*), count(DISTINCT (res_model, res_id, COALESCE(company_id, 0)))
                 FROM sms_marketing_engagement_summary"""
        )
        rows, recipients = self.env.cr.fetchone()
        self.assertEqual(rows, recipients, "one row per recipient and company once folded")
        self.assertLess(rows, 10000, "4,000 recipients and the test data's, for 16,000 clicks and failures")
        Contact = self.env["sms.marketing.contact"].with_user(self.user_marketing)
        now = fields.Datetime.now()
        for domain in (
            [("sms_last_click_at", "!=", False)],
            [("sms_clicked_90d", "=", True)],
            [("sms_last_click_at", "<", now - timedelta(days=45))],
            [("sms_last_failure_at", "!=", False)],
            [("sms_last_failure_at", "=", False)],
        ):
            with self.subTest(domain=domain):
                plan = self._count_plan(Contact, domain)
                self.assertEqual(self._rows_read(plan, "sms_marketing_trace"), 0)
                self.assertEqual(self._rows_read(plan, "sms_marketing_link_click"), 0)
                self.assertLessEqual(self._rows_read(plan, "sms_marketing_engagement_summary"), recipients)
                # the answer is the one computed from the clicks and traces
                expected = Contact.search([]).filtered_domain(domain)
                self.assertEqual(Contact.search(domain), expected)

    def _trace_rows_read(self, model, domain):
        """Rows of the trace table that counting ``model``'s records matching ``domain`` reads (EXPLAIN ANALYZE)."""
        return self._rows_read(self._count_plan(model, domain), "sms_marketing_trace")

    def test_the_sms_analysis_opens_on_the_mailings_sent_in_its_window(self):
        """The SMS analysis opens on the last 30 days: the traces of the mailings sent in them only."""
        for months in (3, 6, 9, 12):
            self._old_mailing(20000, months)
        recent = self._sent_mailing()
        self.env.cr.execute("ANALYZE sms_marketing_trace")
        action = self.env.ref("sms_marketing_custom.sms_marketing_trace_report_action")
        self.assertIn("'search_default_filter_last_30_days': 1", action.context)
        arch = etree.fromstring(self.env.ref("sms_marketing_custom.sms_marketing_trace_view_search").arch)
        self.assertTrue(
            arch.xpath("//filter[@name='filter_last_30_days']")[0]
            .get("domain")
            .startswith("[('recent_sent_at', '>', (datetime.datetime.now() - relativedelta(days=30))")
        )
        Trace = self.env["sms.marketing.trace"].with_user(self.user_marketing)
        since = fields.Datetime.now() - timedelta(days=30)
        for domain in ([("recent_sent_at", ">", since)], [("recent_sent_at", ">=", since)]):
            with self.subTest(domain=domain):
                self.assertLess(self._trace_rows_read(Trace, domain), 5000)
                groups = Trace.read_group(domain, ["cost:sum"], ["mailing_id", "state"], lazy=False)
                self.assertIn(recent.id, {g["mailing_id"][0] for g in groups})
                self.assertEqual(sum(g["__count"] for g in groups), Trace.search_count([("sent_at", ">", since)]))
        # any other comparison is the sending date's (the whole history: the filter removed)
        self.assertEqual(
            Trace.search_count([("recent_sent_at", "<", since)]), Trace.search_count([("sent_at", "<", since)])
        )

    def test_the_readers_of_the_history_run_without_jit(self):
        """The SMS analysis and the engagement filters turn JIT off for their transaction: on a large
        history its compilation costs more than it saves (docs/benchmark.md)."""
        self._sent_mailing()
        since = fields.Datetime.now() - timedelta(days=30)
        readers = {
            "SMS analysis": lambda: self.env["sms.marketing.trace"]
            .with_user(self.user_marketing)
            .read_group([("recent_sent_at", ">", since)], ["cost:sum"], ["mailing_id", "state"], lazy=False),
            "engagement filter": lambda: self.env["sms.marketing.contact"]
            .with_user(self.user_marketing)
            .search_count([("sms_last_failure_at", "!=", False)]),
            "engagement column": lambda: self.contacts.with_user(self.user_marketing).mapped("sms_last_received_at"),
        }
        for name, read in readers.items():
            with self.subTest(reader=name):
                self.env.invalidate_all()
                self.env.cr.execute("SET LOCAL jit = on")
                read()
                self.env.cr.execute("SHOW jit")
                self.assertEqual(self.env.cr.fetchone()[0], "off")

    def test_a_window_names_the_mailings_sent_in_it_entirely_without_a_date(self):
        """The planner multiplies a mailing's share of the traces by the table's share sent in the window:
        a mailing sent in the window entirely, named with a date condition, was counted as a few rows
        (a nested loop and a sort on disk for the SMS analysis). It is named without; a mailing sent
        partly in the window keeps the date, and the answer is the traces sent in the window."""
        for months in (3, 6, 9, 12):
            self._old_mailing(20000, months)
        recent = self._old_mailing(5000, 0)
        straddling = self._old_mailing(100, 2)
        self.env.cr.execute(
            """UPDATE sms_marketing_trace SET sent_at = now() at time zone 'UTC' - interval '1 day'
                WHERE id IN (SELECT id FROM sms_marketing_trace WHERE mailing_id = %s ORDER BY id LIMIT 40)""",
            [straddling.id],
        )
        self.env.cr.execute("ANALYZE sms_marketing_trace")
        since = fields.Datetime.now() - timedelta(days=30)
        inside, partly = self.env["sms.marketing.campaign.report"]._get_mailings_sent_after(since)
        self.assertIn(recent.id, inside)
        self.assertEqual(partly, [straddling.id])
        Trace = self.env["sms.marketing.trace"].with_user(self.user_marketing)
        groups = Trace.read_group([("recent_sent_at", ">", since)], ["cost:sum"], ["mailing_id"], lazy=False)
        counts = {group["mailing_id"][0]: group["__count"] for group in groups}
        self.assertEqual(counts[recent.id], 5000)
        self.assertEqual(counts[straddling.id], 40)
        self.assertEqual(sum(counts.values()), Trace.search_count([("sent_at", ">", since)]))
        # the window's traces as the planner counts them (the condition alone, without the company rule's
        # join): about 5,040, not 5,100 * 5,040 / 85,100
        plan = self._count_plan(Trace.sudo(), [("recent_sent_at", ">", since)])
        scans = self._plan_nodes(plan, "sms_marketing_trace")
        actual = sum(scan["Actual Rows"] * scan["Actual Loops"] for scan in scans)
        self.assertGreaterEqual(actual, 5040)
        self.assertGreater(sum(scan["Plan Rows"] for scan in scans), actual / 2)

    def test_a_mailings_recipients_are_looked_up_not_scanned(self):
        """ "Received Mailing" is this one: its recipients are found by the contacts' primary key, the table
        of every contact (the earlier mailings' recipients) is not scanned."""
        self.env.cr.execute(
            """INSERT INTO sms_marketing_contact (name, phone, phone_sanitized, phone_country_code, company_id,
                                                  create_date, write_date)
               SELECT 'earlier ' || i, p, p, 'BE', %s, now(), now()
                 FROM (SELECT i, '+3247' || lpad(i::text, 7, '0') AS p FROM generate_series(1, 100000) i) s""",
            [self.env.company.id],
        )
        # a mailing to one contact in ten, spread over the table as a list's members are
        mailing = self._old_mailing(0, 1)
        self.env.cr.execute(
            """INSERT INTO sms_marketing_trace (mailing_id, res_model, res_id, number, uuid, body, segments, cost,
                                               state, sent_at, create_date, write_date)
               SELECT %s, 'sms.marketing.contact', c.id, c.phone_sanitized, md5(random()::text || c.id), 'A text',
                      1, 1, 'delivered', now() at time zone 'UTC', now() at time zone 'UTC', now() at time zone 'UTC'
                 FROM sms_marketing_contact c WHERE c.name LIKE 'earlier %%' AND c.id %% 10 = 0""",
            [mailing.id],
        )
        self.env.cr.execute("ANALYZE sms_marketing_trace")
        self.env.cr.execute("ANALYZE sms_marketing_contact")
        Contact = self.env["sms.marketing.contact"].with_user(self.user_marketing)
        domain = [("sms_received_mailing_ids", "in", mailing.ids)]
        self.assertLess(self._rows_read(self._count_plan(Contact, domain), "sms_marketing_contact"), 12000)
        self.env.cr.execute(
            """SELECT count(DISTINCT res_id) FROM sms_marketing_trace
                WHERE mailing_id = %s AND state IN ('sent', 'delivered')
                  AND res_id IN (SELECT id FROM sms_marketing_contact)""",
            [mailing.id],
        )
        expected = self.env.cr.fetchone()[0]
        self.assertEqual(Contact.search_count(domain), expected)
        # and the list's page, newest first
        self.assertEqual(len(Contact.search(domain, limit=80)), 80)

    def test_click_windows_read_the_clicks_of_the_window(self):
        """ "Clicked (90 Days)" and "Last SMS Click after" read the clicks of their window (by the clicks' date),
        not every click of the history."""
        old = self._old_mailing(20000, 6)
        link = self.env["sms.marketing.link"].create({"url": "https://shop.example.com", "mailing_id": old.id})
        self.env.cr.execute(
            """INSERT INTO sms_marketing_link_click (link_id, trace_id, mailing_id, res_model, res_id, click_date,
                                                     create_date, write_date)
               SELECT %s, t.id, t.mailing_id, t.res_model, t.res_id, t.sent_at + interval '2 hours', now(), now()
                 FROM sms_marketing_trace t WHERE t.mailing_id = %s""",
            [link.id, old.id],
        )
        recent = self._sent_mailing()
        recent_link = self.env["sms.marketing.link"].create(
            {"url": "https://shop.example.com", "mailing_id": recent.id}
        )
        for trace in recent.trace_ids.filtered(lambda t: t.state in ("sent", "delivered"))[:3]:
            self.env["sms.marketing.link.click"]._add_click(recent_link.id, trace.id)
        self.env.flush_all()
        self.env.cr.execute("ANALYZE sms_marketing_link_click")
        Contact = self.env["sms.marketing.contact"].with_user(self.user_marketing)
        since = fields.Datetime.now() - timedelta(days=90)
        for domain in ([("sms_clicked_90d", "=", True)], [("sms_last_click_at", ">", since)]):
            with self.subTest(domain=domain):
                plan = self._count_plan(Contact, domain)
                self.assertLess(self._rows_read(plan, "sms_marketing_link_click"), 1000)
                self.env.cr.execute(
                    """SELECT count(DISTINCT res_id) FROM sms_marketing_link_click
                        WHERE res_model = 'sms.marketing.contact' AND click_date > %s
                          AND res_id IN (SELECT id FROM sms_marketing_contact)""",
                    [since],
                )
                expected = self.env.cr.fetchone()[0]
                self.assertGreaterEqual(expected, 3)
                self.assertEqual(Contact.search_count(domain), expected)

    def test_retention_empties_old_texts_and_keeps_every_figure(self):
        old = self._old_mailing(300, 14)
        recent = self._sent_mailing()
        stuck = self._old_mailing(5, 14)
        self.env.cr.execute("UPDATE sms_marketing_trace SET state = 'pending' WHERE mailing_id = %s", [stuck.id])
        link = self.env["sms.marketing.link"].create({"url": "https://shop.example.com", "mailing_id": old.id})
        self.env["sms.marketing.link.click"]._add_click(link.id, old.trace_ids[:1].id)
        mailings = old | recent | stuck
        before = self._recount(mailings)
        Trace = self.env["sms.marketing.trace"]
        self.assertEqual(Trace._cron_drop_old_bodies(), 0, "0 months (the default): texts kept for ever")
        # the traces made before this test (demo data, younger than ours) were walked by an earlier run
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("sms_marketing_custom.body_retention_cursor", str(min(old.trace_ids.ids)))
        self.env["ir.config_parameter"].sudo().set_param("sms_marketing_custom.body_retention_months", "12")
        self.assertEqual(Trace._cron_drop_old_bodies(range_size=100), 300)
        self.env.invalidate_all()
        self.assertFalse(any(old.trace_ids.mapped("body")))
        self.assertTrue(all(recent.trace_ids.filtered(lambda t: t.state != "canceled").mapped("body")))
        self.assertTrue(all(stuck.trace_ids.mapped("body")), "a pending trace may still be sent: its text stays")
        self.assertEqual(self._recount(mailings), before)
        self.assertEqual(self._counters(mailings), before)
        self.assertEqual(Trace._cron_drop_old_bodies(range_size=100), 0)
        # the cursor waits at the first trace that keeps its text (the stuck pending one), not beyond
        cursor = int(params.get_param("sms_marketing_custom.body_retention_cursor"))
        self.assertLessEqual(cursor, min(stuck.trace_ids.ids))

    def test_retention_waits_for_texts_to_come_and_ends_unknown_ones(self):
        """A trace made long ago and still pending (its mailing paused for months) has no text yet: the cursor
        waits at it and empties its text once it left long enough ago. A trace still unknown long after the
        retention loses its text and keeps its state; it holds the cursor no more."""
        paused, lost, done = self._old_mailing(5, 14), self._old_mailing(3, 14), self._old_mailing(4, 14)
        self.env.cr.execute(
            "UPDATE sms_marketing_trace SET state = 'pending', body = NULL, sent_at = NULL WHERE mailing_id = %s",
            [paused.id],
        )
        self.env.cr.execute("UPDATE sms_marketing_trace SET state = 'unknown' WHERE mailing_id = %s", [lost.id])
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("sms_marketing_custom.body_retention_cursor", str(min(paused.trace_ids.ids)))
        params.set_param("sms_marketing_custom.body_retention_months", "12")
        Trace = self.env["sms.marketing.trace"]
        self.assertEqual(Trace._cron_drop_old_bodies(range_size=4), 3 + 4)
        self.env.invalidate_all()
        self.assertFalse(any((lost | done).trace_ids.mapped("body")))
        self.assertEqual(set(lost.trace_ids.mapped("state")), {"unknown"}, "its state is what is known of it")
        cursor = int(params.get_param("sms_marketing_custom.body_retention_cursor"))
        self.assertLessEqual(cursor, min(paused.trace_ids.ids), "the pending traces will get a text")
        # the paused mailing is sent at last: its texts are kept for the retention, then emptied
        self.env.cr.execute(
            """UPDATE sms_marketing_trace SET state = 'delivered', body = 'Sent at last',
                      sent_at = now() at time zone 'UTC' WHERE mailing_id = %s""",
            [paused.id],
        )
        self.assertEqual(Trace._cron_drop_old_bodies(range_size=4), 0)
        self.env.cr.execute(
            """UPDATE sms_marketing_trace SET sent_at = now() at time zone 'UTC' - interval '13 months'
                WHERE mailing_id = %s""",
            [paused.id],
        )
        self.assertEqual(Trace._cron_drop_old_bodies(range_size=4), 5)
        self.env.invalidate_all()
        self.assertFalse(any(paused.trace_ids.mapped("body")))

    def test_only_an_administrator_sets_the_retention(self):
        for user in (self.user_marketing, self.user_manager):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.env["res.config.settings"].with_user(user).create(
                    {"sms_marketing_body_retention_months": 1}
                ).execute()
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.env["ir.config_parameter"].with_user(user).set_param(
                    "sms_marketing_custom.body_retention_months", "1"
                )
        settings = (
            self.env["res.config.settings"]
            .with_user(self.user_admin)
            .create({"sms_marketing_body_retention_months": 18})
        )
        settings.execute()
        self.assertEqual(
            self.env["ir.config_parameter"].sudo().get_param("sms_marketing_custom.body_retention_months"), "18"
        )
