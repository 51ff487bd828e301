"""Scale-out: sender crons, the shared rate limit, and Send's check of a large audience."""

from datetime import timedelta
from unittest.mock import patch

from psycopg2 import IntegrityError

from odoo import fields, sql_db
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from ..models import sms_marketing_engine_send as engine_send
from ..models import sms_marketing_trace as trace_module
from ..models.sms_marketing_engine_build import BUILD_LOCK_NAMESPACE
from .common import SmsEngineCase

SENDER = "sms_marketing_custom.ir_cron_sms_marketing_process_queue"


@tagged("post_install", "-at_install")
class TestScaleOut(SmsEngineCase):
    def _set_param(self, key, value):
        self.env["ir.config_parameter"].sudo().set_param(f"sms_marketing_custom.{key}", value)

    # ------------------------------------------------------------------ sender crons
    def test_sender_crons_follow_the_setting(self):
        engine = self.env["sms.marketing.engine"]
        self._set_param("sender_crons", 4)
        senders = engine._sync_sender_crons()
        self.assertEqual(len(senders), 4)
        self.assertEqual(senders[0], self.env.ref(SENDER))
        self.assertEqual(set(senders.mapped("code")), {"model._cron_process_queue()"})
        self.assertTrue(all(senders.mapped("active")))
        self.assertEqual(engine._sync_sender_crons(), senders, "in step: nothing created twice")

        self._set_param("sender_crons", 1)
        self.assertEqual(engine._sync_sender_crons(), self.env.ref(SENDER))
        self.assertFalse(any((senders - self.env.ref(SENDER)).mapped("active")), "the extra senders are archived")

        self._set_param("sender_crons", 3)
        again = engine._sync_sender_crons()
        self.assertEqual(again, senders[:3], "archived senders come back")

        self._set_param("sender_crons", "many")
        self.assertEqual(len(engine._sync_sender_crons()), 2, "an unreadable setting falls back to 2")

    def test_send_wakes_every_sender(self):
        self._make_contacts(2)
        self._set_param("sender_crons", 3)
        senders = self.env["sms.marketing.engine"]._sync_sender_crons()
        Trigger = self.env["ir.cron.trigger"].sudo()
        before = Trigger.search_count([("cron_id", "in", senders.ids)])
        self._make_mailing().action_send_now()
        triggers = Trigger.search([("cron_id", "in", senders.ids)])
        self.assertEqual(len(triggers) - before, 3)
        self.assertEqual(set(triggers.mapped("cron_id")), set(senders))

    # ------------------------------------------------------------------ waking the senders
    def _due_triggers(self, senders, since_id):
        """The senders' triggers made after ``since_id`` that are due now: the ones for which
        Odoo notifies the idle cron threads (``ir.cron._trigger_list``)."""
        now = fields.Datetime.now()
        triggers = self.env["ir.cron.trigger"].sudo().search([("cron_id", "in", senders.ids), ("id", ">", since_id)])
        return triggers.filtered(lambda trigger: trigger.call_at <= now)

    def _build_only(self, mailing):
        """One step of the engine that only builds the mailing's traces (no batch is sent)."""
        engine = self.env["sms.marketing.engine"]
        self.env.flush_all()  # the step reads the mailing's state in SQL, as after a runner's commit
        with patch.object(type(engine), "_send_batch", return_value=0):
            engine._step(mailing, engine._get_params())

    def _last_trigger_id(self):
        return self.env["ir.cron.trigger"].sudo().search([], order="id desc", limit=1).id or 0

    def test_a_built_window_wakes_every_sender(self):
        """A sender that found nothing to claim while another built the traces has ended its run:
        the builder wakes every sender, at a due time, once the window is built."""
        self._make_contacts(3)
        self._set_param("sender_crons", 3)
        engine = self.env["sms.marketing.engine"]
        senders = engine._sync_sender_crons()
        mailing = self._start(self._make_mailing())
        since = self._last_trigger_id()
        self._build_only(mailing)
        self.assertEqual(len(mailing.trace_ids), 3, "the window was built")
        self.assertEqual(set(self._due_triggers(senders, since).mapped("cron_id")), set(senders))

    def test_claimable_work_is_due_now(self):
        """Work left at the end of a run is triggered at a due time (Odoo notifies the cron
        threads), not a second later (a trigger in the future waits for their next poll)."""
        self._make_contacts(2)
        self._set_param("sender_crons", 2)
        engine = self.env["sms.marketing.engine"]
        senders = engine._sync_sender_crons()
        mailing = self._start(self._make_mailing())
        self._build_only(mailing)
        since = self._last_trigger_id()
        engine._retrigger(fields.Datetime.now())
        self.assertEqual(set(self._due_triggers(senders, since).mapped("cron_id")), set(senders))

    def test_traces_in_another_runners_batch_are_not_ready_work(self):
        """Pending traces claimed by a batch in flight are its runner's: a runner with nothing else
        to do does not wake the senders for them (it would spin), only for the lease's end."""
        self._make_contacts(2)
        self._set_param("sender_crons", 2)
        engine = self.env["sms.marketing.engine"]
        senders = engine._sync_sender_crons()
        mailing = self._start(self._make_mailing())
        self._build_only(mailing)
        lease_end = fields.Datetime.now() + timedelta(minutes=5)
        move = self.env["sms.marketing.credit.move"].create(
            {"gateway_id": self.sandbox.id, "amount": 0.0, "move_type": "reservation", "lease_until": lease_end}
        )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE sms_marketing_trace SET claim_move_id = %s WHERE mailing_id = %s", [move.id, mailing.id]
        )
        since = self._last_trigger_id()
        engine._retrigger(fields.Datetime.now())
        self.assertFalse(self._due_triggers(senders, since), "nothing claimable: no sender woken now")
        later = self.env["ir.cron.trigger"].sudo().search([("cron_id", "in", senders.ids), ("id", ">", since)])
        self.assertIn(lease_end, later.mapped("call_at"), "woken when the batch's lease ends")

    # ------------------------------------------------------------------ the claim's walk
    def _traces_read(self, call):
        """(result of ``call()``, trace rows it read)."""
        return self._rows_read(call, "sms_marketing_trace")

    def _rows_read(self, call, table):
        """(result of ``call()``, rows of ``table`` it read): this transaction's table statistics."""
        self.env.flush_all()
        query = SQL(
            """SELECT COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables
                WHERE relname = %s""",
            table,
        )
        self.env.cr.execute(query)
        before = self.env.cr.fetchone()[0]
        result = call()
        self.env.cr.execute(query)
        return result, self.env.cr.fetchone()[0] - before

    def _sent_in_batches(self, count, batches, batch_size):
        """A built mailing to ``count`` contacts of which ``batches`` batches of ``batch_size`` are sent."""
        self._make_contacts(count)
        engine = self.env["sms.marketing.engine"]
        mailing = self._start(self._make_mailing())
        params = dict(engine._get_params(), batch_size=batch_size, build_first_step=count, build_max_step=count)
        self.env.flush_all()
        engine._build_traces(mailing, params)
        for _batch in range(batches):
            engine._send_batch(mailing, params)
        return mailing, dict(engine._get_params(), batch_size=batch_size)

    def test_a_new_run_claims_on_from_where_the_runner_stopped(self):
        """A cron thread runs its sender cron again and again: the new run's claim goes on from the last
        trace the thread claimed, it does not read again the traces already sent (a million of them
        at the end of a million-recipient mailing)."""
        mailing, new_run = self._sent_in_batches(60, 5, 10)
        rows, read = self._traces_read(lambda: self.env["sms.marketing.engine"]._claim_rows(mailing, new_run))
        self.assertEqual(len(rows), 10)
        self.assertEqual(rows[0].id, min(mailing.trace_ids.filtered(lambda t: t.state == "pending").ids))
        self.assertLessEqual(read, 12, "the 50 traces sent are not read again")

    def test_a_runner_with_nothing_unclaimed_reads_no_trace(self):
        """At the end of a mailing (everything sent or in another runner's batch) a claim asks the
        mailing's counters, not its traces; a trace left behind (a retry) is still found."""
        mailing, new_run = self._sent_in_batches(30, 3, 10)
        engine = self.env["sms.marketing.engine"]
        self.assertFalse(mailing.trace_ids.filtered(lambda t: t.state == "pending"))
        rows, read = self._traces_read(lambda: engine._claim_rows(mailing, new_run))
        self.assertEqual(rows, [])
        self.assertLessEqual(read, 3, "a few index entries after its place, not the 30 sent")
        retried = mailing.trace_ids.sorted("id")[1]
        retried.write({"state": "pending", "next_try_at": fields.Datetime.now() - timedelta(seconds=1)})
        self.assertEqual([row.id for row in engine._claim_rows(mailing, new_run)], retried.ids)

    def test_a_runner_that_caught_up_with_the_build_goes_on_from_its_place(self):
        """Near the end of a large mailing the senders catch up with the build: a claim finds nothing
        until the next window is committed. The runner keeps its place: its next claim reads the new
        window, not every trace sent before it (a 3 s stall when four runners each walked 840,000);
        a trace left behind it (a batch recovered after a crash) is still found."""
        self._make_contacts(80)
        engine = self.env["sms.marketing.engine"]
        mailing = self._start(self._make_mailing())
        params = dict(engine._get_params(), batch_size=10, build_first_step=60, build_max_step=60)
        self.env.flush_all()
        engine._build_traces(mailing, params)
        for _batch in range(6):
            engine._send_batch(mailing, params)
        self.assertEqual(len(mailing.trace_ids), 60)
        rows, _read = self._traces_read(lambda: engine._claim_rows(mailing, params))
        self.assertEqual(rows, [], "the first window is sent, the second is not built yet")
        engine._build_traces(mailing, params)
        self.assertEqual(len(mailing.trace_ids), 80)
        rows, read = self._traces_read(lambda: engine._claim_rows(mailing, params))
        self.assertEqual(len(rows), 10)
        # the batch's rows through the index, or the new window's 20 when the planner, with the statistics
        # of a small table, takes them all and sorts them; a walk from the start reads the 60 sent first
        self.assertLessEqual(read, 20, "the 60 traces sent before are not read again")
        # a trace behind the runner's place, unclaimed again (a recovered batch): found by a walk from the start
        behind = mailing.trace_ids.sorted("id")[3]
        behind.write({"state": "pending", "sent_at": False})
        self.env.flush_all()
        claimed = []
        while batch := engine._claim_rows(mailing, params):
            claimed += [row.id for row in batch]
            # as the batch's reservation marks them
            self.env.cr.execute("UPDATE sms_marketing_trace SET claim_move_id = -1 WHERE id = ANY(%s)", [claimed])
        self.assertEqual(len(claimed), len(set(claimed)))
        pending = mailing.trace_ids.filtered(lambda trace: trace.state == "pending")
        self.assertEqual(sorted(claimed), sorted(pending.ids))
        self.assertIn(behind.id, claimed)
        # claiming behind did not move the runner's place back over the traces sent since
        rows, read = self._traces_read(lambda: engine._claim_rows(mailing, params))
        self.assertEqual(rows, [])
        self.assertLessEqual(read, 3, "a few index entries after its place, not the traces sent since")

    def test_a_runner_keeps_the_places_of_its_latest_mailings_only(self):
        """A cron thread runs for months: the places it keeps are those of the mailings it claimed
        from last, not one per mailing it ever sent."""
        engine = self.env["sms.marketing.engine"]
        positions = engine._get_claim_positions()
        positions.clear()  # a place forgotten only costs a walk from a mailing's first trace
        self.addCleanup(positions.clear)
        bound = engine_send.RUNNER_CURSOR_MAILINGS
        Mailing = self.env["sms.marketing.mailing"]
        for mailing_id in range(1, bound + 41):
            engine._set_claim_position(Mailing.browse(mailing_id), mailing_id * 10)
            if mailing_id > 1:  # a long mailing, claimed from between the others
                engine._set_claim_position(Mailing.browse(1), mailing_id)
        self.assertEqual(len(engine._get_claim_positions()), bound)
        self.assertEqual(positions[1], bound + 40, "the mailing claimed from all along keeps its place")
        self.assertEqual(min(set(positions) - {1}), 42, "the mailings claimed from longest ago are forgotten")
        self.assertEqual(positions[bound + 40], (bound + 40) * 10)

    def test_the_done_check_reads_no_trace(self):
        """The end of a mailing is read on its counters: in a table of millions of earlier traces the
        planner took a look for the mailing's pending traces for a read of the whole table."""
        mailing, _new_run = self._sent_in_batches(30, 2, 10)
        engine = self.env["sms.marketing.engine"]
        done, _read = self._traces_read(lambda: engine._check_done(mailing))
        self.assertFalse(done, "10 traces are still pending")
        engine._send_batch(mailing, engine._get_params())
        done, read = self._traces_read(lambda: engine._check_done(mailing))
        self.assertTrue(done)
        self.assertEqual(mailing.state, "done")
        self.assertEqual(read, 0)

    def test_the_queue_counters_equal_a_count_of_the_traces(self):
        """unclaimed / waiting / pending after a build, a claim in flight, sending, a retry scheduled."""
        mailing, _new_run = self._sent_in_batches(25, 1, 10)
        Report = self.env["sms.marketing.campaign.report"]

        def counted():
            self.env.flush_all()
            self.env.cr.execute(
                """SELECT count(*) FILTER (WHERE state = 'pending' AND claim_move_id IS NULL),
                          count(*) FILTER (WHERE state = 'pending' AND claim_move_id IS NULL
                                             AND next_try_at IS NOT NULL),
                          count(*) FILTER (WHERE state = 'pending')
                     FROM sms_marketing_trace WHERE mailing_id = %s""",
                [mailing.id],
            )
            return tuple(self.env.cr.fetchone())

        self.assertEqual(tuple(Report._get_queue_counts([mailing.id])[mailing.id]), counted())
        self.assertEqual(counted()[0], 15)
        pending = mailing.trace_ids.filtered(lambda t: t.state == "pending").sorted("id")
        pending[:4].write({"claim_move_id": 1})
        pending[4:6].write({"next_try_at": fields.Datetime.now() + timedelta(minutes=5)})
        self.assertEqual(tuple(Report._get_queue_counts([mailing.id])[mailing.id]), counted())
        self.assertEqual(counted(), (11, 2, 15))
        Report._cron_fold_figures()
        self.assertEqual(tuple(Report._get_queue_counts([mailing.id])[mailing.id]), (11, 2, 15))

    def test_a_retry_waiting_is_woken_at_its_time(self):
        """Traces that wait (a retry) are not ready work now: the senders are woken at their time."""
        mailing, new_run = self._sent_in_batches(5, 0, 10)
        engine = self.env["sms.marketing.engine"]
        senders = engine._sync_sender_crons()
        retry_at = fields.Datetime.now() + timedelta(minutes=7)
        mailing.trace_ids.write({"next_try_at": retry_at})
        mailing.trace_build_done = True
        since = self._last_trigger_id()
        engine._retrigger(fields.Datetime.now())
        self.assertFalse(self._due_triggers(senders, since), "nothing to send before the retry time")
        later = self.env["ir.cron.trigger"].sudo().search([("cron_id", "in", senders.ids), ("id", ">", since)])
        self.assertIn(retry_at, later.mapped("call_at"))
        self.assertEqual(engine._claim_rows(mailing, new_run), [], "not claimable before its time")

    def test_a_window_being_built_is_its_builders_work(self):
        """While another runner builds a mailing's window (it holds the build lock), a runner with
        nothing to claim does not wake the senders now (they would spin, taking the builder's cores):
        the builder wakes them when its window is committed, and a later wake-up covers its death."""
        self._make_contacts(2)
        self._set_param("sender_crons", 2)
        engine = self.env["sms.marketing.engine"]
        senders = engine._sync_sender_crons()
        mailing = self._start(self._make_mailing())
        self.env.flush_all()
        since = self._last_trigger_id()
        with sql_db.db_connect(self.env.cr.dbname).cursor() as builder:
            builder.execute("SELECT pg_advisory_xact_lock(%s, %s)", [BUILD_LOCK_NAMESPACE, mailing.id])
            engine._retrigger(fields.Datetime.now())
            self.assertFalse(self._due_triggers(senders, since), "not woken now for the builder's window")
            later = self.env["ir.cron.trigger"].sudo().search([("cron_id", "in", senders.ids), ("id", ">", since)])
            self.assertTrue(later, "woken a little later, in case the builder dies")
            builder.rollback()
        since = self._last_trigger_id()
        engine._retrigger(fields.Datetime.now())
        self.assertEqual(set(self._due_triggers(senders, since).mapped("cron_id")), set(senders), "nobody builds it")

    def test_build_window_is_sized_by_the_runners_speed(self):
        """A runner sends nothing while it builds: after its first window, the next one is what it
        builds in ``build_window_ms`` at the speed it measured (not four times the span built)."""
        self._make_contacts(30)
        engine = self.env["sms.marketing.engine"]
        mailing = self._start(self._make_mailing())
        self.env.flush_all()
        params = dict(engine._get_params(), build_first_step=2, build_window_ms=500)
        engine._build_traces(mailing, params)
        self.assertEqual(len(mailing.trace_ids), 2, "the first window")
        self.assertIn("_build_ids_per_second", params, "the runner measured its speed")
        params["_build_ids_per_second"] = 8.0  # as if the machine were slow: 4 ids in 500 ms
        engine._build_traces(mailing, params)
        self.assertEqual(len(mailing.trace_ids), 2 + 4, "not 4 x 2 = 8: what fits in 500 ms")
        params.pop("_build_ids_per_second")
        self.assertEqual(engine._build_step_in_time(params), 20, "a runner's first window: ten first windows")

    def test_build_windows_follow_on_and_jump_the_gaps(self):
        """Windows follow each other without looking the next recipient up; a window that finds
        nobody (ids are sparse) moves the build to the next recipient, so a gap costs one window."""
        contacts = self._make_contacts(30)
        contacts[6:26].unlink()  # a gap of 20 ids in the audience
        engine = self.env["sms.marketing.engine"]
        mailing = self._start(self._make_mailing())
        self.env.flush_all()
        params = dict(engine._get_params(), build_first_step=3, build_max_step=3, build_window_ms=10**6)
        lookups = []
        original = type(engine)._next_recipient_id

        def next_recipient_id(engine_self, recipients, after, max_id):
            lookups.append(after)
            return original(engine_self, recipients, after, max_id)

        windows = 0
        with patch.object(type(engine), "_next_recipient_id", next_recipient_id):
            while not mailing.trace_build_done:
                engine._build_traces(mailing, params)
                windows += 1
        self.assertEqual(sorted(mailing.trace_ids.mapped("res_id")), sorted((contacts[:6] | contacts[26:]).ids))
        self.assertEqual(len(lookups), 2, "the first window, and once after the window that found nobody")
        self.assertEqual(windows, 5, "3 + 3 ids, one empty window, then the 4 after the gap")

    def _analyzed_history(self):
        """5,000 traces of an earlier mailing, and the trace table analyzed: statistics that know every
        mailing but the ones made next (counted as one row each)."""
        earlier = self._make_mailing()
        self.env.flush_all()
        self.env.cr.execute(
            """INSERT INTO sms_marketing_trace (mailing_id, res_model, res_id, number, uuid, state, try_count)
               SELECT %s, 'sms.marketing.contact', -i, '+3249' || lpad(i::text, 7, '0'), md5(i::text), 'delivered', 0
                 FROM generate_series(1, 5000) i""",
            [earlier.id],
        )
        self.env.cr.execute("ANALYZE sms_marketing_trace")

    def test_a_build_window_reads_its_own_numbers_only(self):
        """A window looks up which of its numbers already have a trace of the mailing (duplicates across
        windows), one index probe per number. With a history the table's statistics do not know the
        mailing being built (counted as one row): the look-up must not walk the traces the mailing
        built so far, for each window or each number (quadratic in a mailing of 1,000,000)."""
        contacts = self._make_contacts(60)
        engine = self.env["sms.marketing.engine"]
        self._analyzed_history()  # the history is known, the new mailing is not
        mailing = self._start(self._make_mailing())
        self.env.flush_all()
        params = dict(engine._get_params(), build_first_step=20, build_max_step=20, build_window_ms=10**6)
        engine._build_traces(mailing, params)
        engine._build_traces(mailing, params)
        self.assertEqual(len(mailing.trace_ids), 40)
        _built, read = self._traces_read(lambda: engine._build_traces(mailing, params))
        self.assertEqual(sorted(mailing.trace_ids.mapped("res_id")), sorted(contacts.ids))
        self.assertLessEqual(read, 5, "the 40 traces built by the earlier windows are not read")

    def test_a_build_window_reads_the_subscriptions_of_its_contacts_only(self):
        """A list mailing's window groups the subscriptions of its own contacts (opted out of every list
        or not): each window grouped every subscription of the lists up to its end, the first contacts
        again and again (510,000 rows for the eight windows of 100,000 contacts)."""
        engine = self.env["sms.marketing.engine"]
        self.env.flush_all()
        self.env.cr.execute(
            """WITH made AS (INSERT INTO sms_marketing_contact (name, phone, phone_sanitized, country_id)
                             SELECT 'Contact ' || i, n, n, %s
                               FROM generate_series(1, 3000) i, LATERAL (SELECT '+3247' || lpad(i::text, 7, '0') n) p
                          RETURNING id)
               INSERT INTO sms_marketing_subscription (contact_id, list_id, opt_out) SELECT id, %s, FALSE FROM made""",
            [self.belgium.id, self.sms_list.id],
        )
        self.env.cr.execute("ANALYZE sms_marketing_contact")
        self.env.cr.execute("ANALYZE sms_marketing_subscription")
        mailing = self._start(self._make_mailing())
        self.env.flush_all()
        params = dict(engine._get_params(), build_first_step=100, build_max_step=100, build_window_ms=10**6)
        for _window in range(20):
            engine._build_traces(mailing, params)
        _built, read = self._rows_read(lambda: engine._build_traces(mailing, params), "sms_marketing_subscription")
        self.assertGreaterEqual(len(mailing.trace_ids), 2000)
        self.assertLessEqual(read, 200, "the 21st window of 100 contacts reads theirs, not the 2,000 before")

    def test_a_large_mailing_done_is_analyzed(self):
        """Autovacuum re-analyzes the trace table once a tenth of it changed: after a mailing of 100,000
        among a year's 10,000,000 traces the planner still counts it as one row, and its analysis and the
        filters naming it use plans meant for a few (docs/benchmark.md). A mailing that large is analyzed
        when it is done; a small one is not worth the sample's read."""
        self._make_contacts(60)
        engine = self.env["sms.marketing.engine"]
        self._analyzed_history()  # a history the statistics know, no new mailing in it
        for threshold, analyzed in ((61, False), (60, True)):
            with self.subTest(threshold=threshold), patch.object(trace_module, "TRACE_ANALYZE_MIN_ROWS", threshold):
                mailing = self._start(self._make_mailing())
                params = dict(engine._get_params(), batch_size=60, build_first_step=60, build_max_step=60)
                self.env.flush_all()
                engine._build_traces(mailing, params)
                engine._send_batch(mailing, params)
                before = self._trace_table_analyses()
                self.assertTrue(engine._check_done(mailing))
                self.assertEqual(mailing.state, "done")
                self.assertEqual(len(mailing.trace_ids), 60)
                self.assertEqual(self._trace_table_analyses(), before + analyzed)
        # reopened (messages to send again) and done again: known to the statistics, not analyzed again
        mailing._set_sending(from_state="done")
        before = self._trace_table_analyses()
        with patch.object(trace_module, "TRACE_ANALYZE_MIN_ROWS", 60):
            self.assertTrue(engine._check_done(mailing))
        self.assertEqual(self._trace_table_analyses(), before)

    def test_statistics_wait_for_a_vacuum_that_does_not_yield_so_long_only(self):
        """A vacuum that holds the trace table and does not yield (an administrator's: here another session
        with its lock) is waited for ANALYZE_LOCK_WAIT_MS, then the sender goes on without the refresh;
        the transaction's own lock time-out is as it was, either way."""
        Trace = self.env["sms.marketing.trace"]
        self.env.cr.execute("SET LOCAL lock_timeout = '42s'")
        vacuum = sql_db.db_connect(self.env.cr.dbname).cursor()
        try:
            vacuum.execute("LOCK TABLE sms_marketing_trace IN SHARE UPDATE EXCLUSIVE MODE")
            before = self._trace_table_analyses()
            with patch.object(trace_module, "ANALYZE_LOCK_WAIT_MS", 200), mute_logger(trace_module.__name__):
                # no ERROR logged (the lock time-out is expected), only the module's INFO
                self.assertFalse(Trace._refresh_statistics(trace_module.TRACE_ANALYZE_MIN_ROWS))
            self.assertEqual(self._trace_table_analyses(), before)
            self.env.cr.execute("SHOW lock_timeout")
            self.assertEqual(self.env.cr.fetchone()[0], "42s")
        finally:
            vacuum.rollback()
            vacuum.close()
        self.assertTrue(Trace._refresh_statistics(trace_module.TRACE_ANALYZE_MIN_ROWS))
        self.assertEqual(self._trace_table_analyses(), before + 1)
        self.env.cr.execute("SHOW lock_timeout")
        self.assertEqual(self.env.cr.fetchone()[0], "42s")

    # ------------------------------------------------------------------ rate limit
    def test_rate_slots_with_a_controlled_clock(self):
        gateway = self.http_gateway
        self.assertEqual(gateway._take_rate_slots(1000, now=100.0), 0.0, "no limit: no wait")
        gateway.rate_limit = 10.0
        gateway.flush_recordset()
        self.assertAlmostEqual(gateway._take_rate_slots(10, now=100.0), 0.0)
        self.assertAlmostEqual(gateway._take_rate_slots(10, now=100.0), 1.0, msg="the next second's slots")
        self.assertAlmostEqual(gateway._take_rate_slots(5, now=100.5), 1.5)
        self.assertAlmostEqual(gateway._take_rate_slots(1, now=102.5), 0.0, msg="the bucket was drained by then")
        self.assertAlmostEqual(gateway._take_rate_slots(1, now=102.5), 0.1)
        self.assertAlmostEqual(gateway._take_rate_slots(1, now=200.0), 0.0, msg="idle time is not saved up")
        self.assertAlmostEqual(gateway._take_rate_slots(10, now=200.0), 0.1)
        # 10/s over one minute of the controlled clock: 600 messages granted, whatever the batch sizes
        gateway._take_rate_slots(0, now=300.0)
        granted, now = 0, 300.0
        while True:
            wait = gateway._take_rate_slots(7, now=now)
            if now + wait >= 360.0:
                break
            granted += 7
            now += wait
        self.assertEqual(granted, 602)  # 86 batches of 7 start within [300, 360)

    def test_rate_limit_caps_the_batch(self):
        engine = self.env["sms.marketing.engine"]
        params = engine._get_params()
        self.assertEqual(engine._get_batch_size(self.http_gateway, params), params["batch_size"])
        self.http_gateway.rate_limit = 2.5
        self.assertEqual(engine._get_batch_size(self.http_gateway, params), 2)
        self.http_gateway.rate_limit = 0.2
        self.assertEqual(engine._get_batch_size(self.http_gateway, params), 1)
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.http_gateway.rate_limit = -1
            self.http_gateway.flush_recordset()

    def test_per_message_batch_fits_its_lease(self):
        """A per-message provider's batch (one request per message) is sized by its measured time: a probe
        first, then at most half the shorter of its lease and the run's time budget; never for the
        provider of one request per batch."""
        engine = self.env["sms.marketing.engine"]
        gateway = self.env["sms.marketing.gateway"].create(
            {
                "name": "Per message",
                "provider": "twilio",
                "endpoint_url": "http://127.0.0.1:9",
                "allow_private_network": True,
                "account_id": "AC" + "0" * 32,
                "api_key": "token",
                "sender": "+15005550006",
                "timeout": 5,
            }
        )
        params = dict(engine._get_params(), batch_size=1000, time_budget=50, lease_margin_seconds=60)
        self.assertEqual(engine._get_batch_size(gateway, params), 20, "unmeasured: a probe batch")
        engine._note_message_time(gateway, [{"uuid": str(i), "state": "sent"} for i in range(20)], 4.0, params)
        # 200 ms per message; lease 2 x 5 + 60 = 70 s, budget 50 s: half of 50 s
        self.assertEqual(engine._get_batch_size(gateway, params), 125)
        engine._note_message_time(gateway, [{"uuid": "1", "state": "sent"}], 100.0, params)
        self.assertEqual(engine._get_batch_size(gateway, params), 1, "slower than the window: one at a time")
        engine._note_message_time(gateway, [{"uuid": "1", "state": "sent"}], 0.0001, params)
        self.assertEqual(engine._get_batch_size(gateway, params), 1000, "fast: the batch size")
        engine._note_message_time(self.http_gateway, [{"uuid": "1", "state": "sent"}], 100.0, params)
        self.assertEqual(engine._get_batch_size(self.http_gateway, params), 1000, "one request per batch")

    def test_rate_limited_batch_waits_outside_its_transaction(self):
        """A second batch right after the first waits for its slots; the lease covers the wait."""
        self._make_contacts(6)
        self.http_gateway.rate_limit = 3.0
        mailing = self._start(self._make_mailing(gateway=self.http_gateway))
        engine = self.env["sms.marketing.engine"]
        params = engine._get_params()
        while not mailing.trace_build_done:
            engine._build_traces(mailing, params)
        waits = []
        # the clock is the boundary: record the waits instead of sleeping them
        with patch.object(type(engine), "_wait", lambda self, seconds: waits.append(seconds)):
            engine._send_batch(mailing, params)
            engine._send_batch(mailing, params)
        self.assertEqual(len(self.sim.state()["sent"]), 6, "two batches of 3 (one second of the limit each)")
        self.assertEqual(len(waits), 1, "the first batch leaves at once")
        self.assertGreater(waits[0], 0.5)
        self.assertLessEqual(waits[0], 1.0)

    # ------------------------------------------------------------------ Send
    def test_send_check_of_a_large_audience(self):
        self._make_contacts(3)
        self._set_param("send_check_full_limit", 2)
        mailing = self._make_mailing(gateway=self.http_gateway)
        self.assertTrue(mailing.env["sms.marketing.audience"]._is_large(mailing))
        self.http_gateway.sudo()._change_balance(-self.http_gateway.balance, "spend")
        with self.assertRaisesRegex(UserError, "no credits left"):
            mailing.action_send_now()
        self.http_gateway.sudo()._change_balance(1.0, "purchase")
        mailing.action_send_now()  # one credit: the engine pauses for the rest
        self.assertEqual(mailing.state, "scheduled")

    def test_send_check_refuses_an_audience_nobody_can_receive(self):
        self._set_param("send_check_full_limit", 0)
        contacts = self._make_contacts(3)
        mailing = self._make_mailing()
        self.assertTrue(mailing.env["sms.marketing.audience"]._is_large(mailing))
        self.env["sms.marketing.blacklist"].create({"number": contacts[0].phone_sanitized})
        self.env["sms.marketing.subscription"].search([("contact_id", "in", contacts[1:].ids)]).write({"opt_out": True})
        with self.assertRaisesRegex(UserError, "No recipient will receive"):
            mailing.action_send_now()
        self.assertEqual(mailing.state, "draft")
