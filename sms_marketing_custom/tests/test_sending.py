import re
import time
import uuid
from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.tests import Form, tagged

from ..models import sms_marketing_trace as trace_module
from .common import SmsEngineCase


@tagged("post_install", "-at_install")
class TestSendingSandbox(SmsEngineCase):
    def _database_milliseconds(self):
        """The database's clock, the one the engine's INSERT reads."""
        self.env.cr.execute("SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint")
        return self.env.cr.fetchone()[0]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contacts = cls._make_contacts(12)
        # the cancellation cases, all in the same list
        cls.contacts[1].phone_sanitized = False  # invalid: no number
        cls.contacts[1].phone = "not a number"
        cls.env["sms.marketing.blacklist"].create({"number": cls.contacts[2].phone_sanitized})
        cls._opt_out(cls.contacts[3])
        cls.twin = cls._make_contacts(1, start=4)  # same number as contacts[4]

    def test_a_trace_made_in_python_has_the_same_uuid_layout(self):
        """The ORM's default (tests, demo data) is a UUID version 7 of the time too, as the engine's INSERT."""
        mailing = self._make_mailing()
        before_ms = int(time.time() * 1000)  # the default runs in Python: its clock
        traces = self.env["sms.marketing.trace"].create(
            [{"mailing_id": mailing.id, "number": f"+3247000000{i}"} for i in range(3)]
        )
        after_ms = int(time.time() * 1000)
        layouts = {(uuid.UUID(u).version, uuid.UUID(u).variant) for u in traces.mapped("uuid")}
        self.assertEqual(layouts, {(7, uuid.RFC_4122)})
        self.assertTrue(all(before_ms <= int(u[:12], 16) <= after_ms for u in traces.mapped("uuid")))
        self.assertEqual(len(set(traces.mapped("uuid"))), 3)

    def test_happy_path_with_cancellations(self):
        mailing = self._start(self._make_mailing())
        balance = self.sandbox.balance
        built_after_ms = self._database_milliseconds()
        self._run_cron()
        built_before_ms = self._database_milliseconds()
        self.assertEqual(mailing.state, "done")
        self.assertTrue(mailing.sent_date)
        traces = mailing.trace_ids
        self.assertEqual(len(traces), 13, "one trace per recipient, canceled ones included")
        self.assertEqual(len(set(traces.mapped("uuid"))), 13)
        self.assertTrue(all(re.fullmatch(r"[0-9a-f]{32}", u) for u in traces.mapped("uuid")), "32 hex digits")
        # UUIDs version 7: the build's milliseconds first (new uuids go to the end of the index), then random
        self.assertTrue(all(built_after_ms <= int(u[:12], 16) <= built_before_ms for u in traces.mapped("uuid")))
        layouts = {(uuid.UUID(u).version, uuid.UUID(u).variant) for u in traces.mapped("uuid")}
        self.assertEqual(layouts, {(7, uuid.RFC_4122)})
        self.assertEqual(len({u[13:] for u in traces.mapped("uuid")}), 13)
        by_type = {t.failure_type: t for t in traces.filtered(lambda t: t.state == "canceled")}
        self.assertEqual(set(by_type), {"invalid_number", "blacklisted", "opted_out", "duplicate"})
        self.assertEqual(by_type["blacklisted"].res_id, self.contacts[2].id)
        self.assertEqual(by_type["opted_out"].res_id, self.contacts[3].id)
        self.assertEqual(by_type["duplicate"].res_id, self.twin.id, "the first recipient of a number keeps it")
        self.assertTrue(all(t.failure_reason for t in by_type.values()))
        delivered = traces.filtered(lambda t: t.state == "delivered")
        self.assertEqual(len(delivered), 9)
        self.assertTrue(all(t.sent_at and t.delivered_at and t.segments == 1 for t in delivered))
        self.assertEqual(delivered[0].body, "Spring sale: 20% off today!")
        # credits: 9 messages at 1 credit, the ledger adds up to the balance
        self.assertAlmostEqual(self.sandbox.balance, balance - 9.0)
        self.assertAlmostEqual(self._ledger_balance(self.sandbox), self.sandbox.balance)
        # statistics
        mailing.invalidate_recordset()
        self.assertEqual(mailing.recipient_count, 13)
        self.assertEqual(mailing.sent_count, 9)
        self.assertEqual(mailing.delivered_count, 9)
        self.assertEqual(mailing.canceled_count, 4)
        self.assertEqual(mailing.failed_count, 0)
        self.assertAlmostEqual(mailing.delivered_ratio, 100.0)
        self.assertAlmostEqual(mailing.canceled_ratio, 400 / 13)
        action = mailing.action_view_traces_canceled()
        self.assertEqual(self.env["sms.marketing.trace"].search_count(action["domain"]), 4)

    def test_rebuild_is_idempotent(self):
        mailing = self._start(self._make_mailing())
        params = self.env["sms.marketing.engine"]._get_params()
        while not mailing.trace_build_done:
            self.env["sms.marketing.engine"]._build_traces(mailing, params)
        count = len(mailing.trace_ids)
        self.assertEqual(count, 13)
        # a crash before the cursor was saved: the same windows are inserted again
        mailing.write({"trace_build_cursor": 0, "trace_build_done": False, "trace_build_max": 0})
        while not mailing.trace_build_done:
            self.env["sms.marketing.engine"]._build_traces(mailing, params)
        mailing.invalidate_recordset()
        self.assertEqual(len(mailing.trace_ids), count, "no second trace for a recipient")

    def test_build_in_small_windows(self):
        self.env["ir.config_parameter"].sudo().set_param("sms_marketing_custom.build_first_step", "3")
        self.env["ir.config_parameter"].sudo().set_param("sms_marketing_custom.build_max_step", "4")
        self.env["ir.config_parameter"].sudo().set_param("sms_marketing_custom.batch_size", "2")
        mailing = self._start(self._make_mailing())
        self._run_cron()
        self.assertEqual(mailing.state, "done")
        self.assertEqual(self._states(mailing), {"delivered": 9, "canceled": 4})

    def test_sent_mailing_shows_the_audience_it_was_sent_to(self):
        """Once sent, the form's audience is the one the mailing went to, not today's lists and blacklist."""

        def audience(mailing):
            return (
                mailing.audience_total,
                mailing.audience_to_send,
                mailing.audience_invalid,
                mailing.audience_excluded,
                mailing.audience_duplicates,
            )

        mailing = self._start(self._make_mailing())
        self._run_cron()
        self.assertEqual(mailing.state, "done")
        sent = (13, 9, 1, 2, 1)  # the invalid number, the blacklisted and opted-out ones, the twin
        self.assertEqual(audience(mailing), sent)
        # since then: one more contact in the list, one more number blacklisted
        self._make_contacts(1, start=100)
        self.env["sms.marketing.blacklist"].create({"number": self.contacts[5].phone_sanitized})
        mailing.invalidate_recordset()
        self.assertEqual(audience(mailing), sent)
        self.assertEqual(audience(mailing.copy()), (14, 9, 1, 3, 1), "a new draft counts today's audience")

    def test_build_windows_grow(self):
        """A small first window (the first SMS leaves at once), then four times the span built so far."""
        self.env["ir.config_parameter"].sudo().set_param("sms_marketing_custom.build_first_step", "2")
        self.env["ir.config_parameter"].sudo().set_param("sms_marketing_custom.build_max_step", "100")
        mailing = self._start(self._make_mailing())
        engine = self.env["sms.marketing.engine"]
        params = engine._get_params()
        cursors = []
        while not mailing.trace_build_done:
            engine._build_traces(mailing, params)
            cursors.append(mailing.trace_build_cursor)
        start = min(mailing.trace_ids.mapped("res_id"))
        self.assertEqual(cursors[:2], [start + 1, start + 2 + 8 - 1], "2 ids, then 4 x 2 = 8 ids")
        self.assertEqual(len(cursors), 3, "then 4 x 10 ids: the rest of the 13 recipients")
        self.assertEqual(len(mailing.trace_ids), 13)

    def test_large_window_refreshes_the_trace_statistics(self):
        """A window that grows the trace table by a tenth or more re-analyzes it; a small one does not."""
        cr = self.env.cr

        def known_rows():
            cr.execute("SELECT reltuples FROM pg_class WHERE oid = 'sms_marketing_trace'::regclass")
            return cr.fetchone()[0]

        cr.execute("ANALYZE sms_marketing_trace")
        # enough recipients to grow the table, as its statistics count it, by more than a tenth
        self._make_contacts(max(0, int(known_rows()) // 10 + 1 - 13), start=6000000)
        engine = self.env["sms.marketing.engine"]
        # one window for the whole audience, however far apart the ids of its contacts are
        params = dict(engine._get_params(), build_first_step=10**9, build_max_step=10**9)
        with patch.object(trace_module, "TRACE_ANALYZE_MIN_ROWS", 5):
            mailing = self._start(self._make_mailing())
            before = self._trace_table_analyses()
            while not mailing.trace_build_done:
                engine._build_traces(mailing, params)
            self.assertEqual(self._trace_table_analyses(), before + 1, "the statistics know the new window")
            # a window of one recipient, far below a tenth of the table: not analyzed again
            small_list = self.env["sms.marketing.list"].create({"name": "One"})
            self._make_contacts(1, start=7000000, sms_list=small_list)
            small = self._start(self._make_mailing(list_ids=[(6, 0, small_list.ids)]))
            while not small.trace_build_done:
                engine._build_traces(small, params)
            self.assertEqual(len(small.trace_ids), 1)
            self.assertEqual(self._trace_table_analyses(), before + 1)

    def test_sandbox_simulated_failures(self):
        """The sandbox's test numbers decide each fate (no luck involved): refused ones cost nothing."""
        rejected = self._make_contacts(1, start=5550009)
        wrong_format = self._make_contacts(1, start=5550001)
        undelivered = self._make_contacts(1, start=5550004)
        mailing = self._start(self._make_mailing())
        balance = self.sandbox.balance
        self._run_cron()
        self.assertEqual(mailing.state, "done")
        self.assertEqual(self._states(mailing), {"delivered": 9, "failed": 3, "canceled": 4})
        failed = {t.res_id: t for t in mailing.trace_ids if t.state == "failed"}
        self.assertEqual(failed[rejected.id].failure_type, "rejected")
        self.assertEqual(failed[wrong_format.id].failure_type, "wrong_number_format")
        self.assertEqual(failed[undelivered.id].failure_type, "undelivered")
        for trace in (failed[rejected.id], failed[wrong_format.id]):
            self.assertEqual((trace.cost, trace.sent_at), (0, False), "a refused message is not charged")
            self.assertEqual(trace.failure_reason, trace._get_failure_reasons()[trace.failure_type])
        self.assertEqual(failed[undelivered.id].cost, 1.0, "an undelivered message was sent, and charged")
        self.assertAlmostEqual(self.sandbox.balance, balance - 10.0, msg="refused messages are refunded")
        self.assertAlmostEqual(self._ledger_balance(self.sandbox), self.sandbox.balance)

    def test_credit_exhaustion_then_top_up(self):
        self.env["ir.config_parameter"].sudo().set_param("sms_marketing_custom.batch_size", "4")
        taken = self.sandbox.balance - 5.0
        self.sandbox._change_balance(-taken, "spend")
        mailing = self._start(self._make_mailing())
        self._run_cron()
        self.assertEqual(mailing.state, "paused")
        self.assertEqual(mailing.pause_code, "insufficient_credit")
        self.assertIn("credits", mailing.pause_reason)
        self.assertEqual(self._states(mailing).get("delivered"), 5)
        self.assertEqual(self._states(mailing).get("pending"), 4)
        self.assertEqual(self.sandbox.balance, 0.0)
        # nothing happens while the balance is empty
        self._run_cron()
        self.assertEqual(mailing.state, "paused")
        # a top-up wakes the cron, which resumes the mailing
        cron = self.env.ref("sms_marketing_custom.ir_cron_sms_marketing_process_queue")
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        self.sandbox.action_add_demo_credits()
        self.assertGreater(self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), triggers)
        self._run_cron()
        self.assertEqual(mailing.state, "done")
        self.assertFalse(mailing.pause_reason)
        self.assertEqual(self._states(mailing).get("delivered"), 9)
        self.assertAlmostEqual(self._ledger_balance(self.sandbox), self.sandbox.balance)

    def test_scheduled_mailing_leaves_at_its_time(self):
        cron = self.env.ref("sms_marketing_custom.ir_cron_sms_marketing_process_queue")
        with freeze_time("2030-01-01 10:00:00"):
            when = fields.Datetime.now() + timedelta(hours=2)
            mailing = self._make_mailing(schedule_type="scheduled", schedule_date=when)
            mailing.state = "scheduled"
            self._run_cron()
            self.assertEqual(mailing.state, "scheduled")
            self.assertFalse(mailing.trace_ids, "nothing before its time")
            triggers = self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id), ("call_at", "=", when)])
            self.assertTrue(triggers, "the cron is woken at the schedule date, not at the next tick")
        with freeze_time("2030-01-01 12:00:01"):
            self._run_cron()
            self.assertEqual(mailing.state, "done")
            self.assertEqual(self._states(mailing).get("delivered"), 9)

    def test_canceled_mailing_sends_nothing_more(self):
        mailing = self._start(self._make_mailing())
        while not mailing.trace_build_done:
            self.env["sms.marketing.engine"]._build_traces(mailing, self.env["sms.marketing.engine"]._get_params())
        mailing.state = "canceled"
        self._run_cron()
        self.assertEqual(self._states(mailing), {"canceled": 13})
        self.assertEqual(len(mailing.trace_ids.filtered(lambda t: t.failure_type == "mailing_canceled")), 9)

    def test_marketer_reads_statistics(self):
        mailing = self._start(self._make_mailing())
        self._run_cron()
        as_marketer = mailing.with_user(self.user_marketing)
        self.assertEqual(as_marketer.delivered_count, 9)
        self.assertTrue(as_marketer.action_view_traces_delivered()["domain"])

    def test_list_mailing_switched_to_contacts_sends_to_the_filtered_contacts(self):
        """Regression: a mailing first on a list, then on Contacts with a filter, was marked sent and
        sent nothing (the engine still read the list). The recipient model alone decides now."""
        partner_model = self.env["ir.model"]._get("res.partner")
        partners = self.env["res.partner"].create(
            [{"name": f"Switch {i}", "mobile": f"+3247999{i:04d}", "country_id": self.belgium.id} for i in range(4)]
        )
        mailing = self._make_mailing()
        self.assertTrue(mailing.list_ids)
        with Form(mailing) as form:
            form.recipient_model_id = partner_model
            form.domain = "[('name', 'like', 'Switch ')]"
        self.assertFalse(mailing.list_ids, "no stale list behind another model")
        self.assertEqual(mailing.audience_to_send, 4)
        self.sandbox._change_balance(100.0, "purchase")
        mailing.action_send_now()
        self._run_cron()
        self.assertEqual((mailing.state, mailing.pause_reason), ("done", False))
        self.assertEqual(set(mailing.trace_ids.mapped("res_model")), {"res.partner"})
        self.assertEqual(sorted(mailing.trace_ids.mapped("res_id")), sorted(partners.ids))
        self.assertEqual(self._states(mailing), {"delivered": 4})


@tagged("post_install", "-at_install")
class TestSendingHttp(SmsEngineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contacts = cls._make_contacts(6, start=100)

    def _mailing(self, **values):
        return self._start(self._make_mailing(gateway=self.http_gateway, **values))

    def test_happy_path(self):
        mailing = self._mailing()
        local = self.http_gateway.balance
        self._run_cron()
        self.assertEqual(mailing.state, "done")
        self.assertEqual(self._states(mailing), {"sent": 6})
        sent = self.sim.state()["sent"]
        self.assertEqual(sorted(m["uuid"] for m in sent), sorted(mailing.trace_ids.mapped("uuid")))
        self.assertEqual({m["number"] for m in sent}, set(self.contacts.mapped("phone_sanitized")))
        self.assertEqual(self.sim.balance, 1000.0 - 6)
        self.assertAlmostEqual(self.http_gateway.balance, local - 6)
        # delivery reports, as the webhook passes them
        uuids = mailing.trace_ids.mapped("uuid")
        self.http_gateway._process_statuses(
            [{"uuid": uuids[0], "state": "delivered"}, {"uuid": uuids[1], "state": "undelivered"}]
        )
        self.http_gateway._process_statuses([{"uuid": uuids[0], "state": "undelivered"}])  # never backwards
        self.assertEqual(self._states(mailing), {"sent": 4, "delivered": 1, "failed": 1})
        failed = mailing.trace_ids.filtered(lambda t: t.state == "failed")
        self.assertEqual(failed.failure_type, "undelivered")
        mailing.invalidate_recordset()
        self.assertEqual(mailing.sent_count, 6, "a message failed by its report was sent all the same")

    def test_final_errors_per_trace(self):
        numbers = self.contacts.mapped("phone_sanitized")
        self.sim.configure(
            number_states={
                numbers[0]: "wrong_number_format",
                numbers[1]: "rejected",
                numbers[2]: "country_not_supported",
            }
        )
        mailing = self._mailing()
        local = self.http_gateway.balance
        self._run_cron()
        self.assertEqual(mailing.state, "done")
        failed = mailing.trace_ids.filtered(lambda t: t.state == "failed")
        self.assertEqual(
            set(failed.mapped("failure_type")), {"wrong_number_format", "rejected", "country_not_supported"}
        )
        self.assertTrue(all(t.failure_reason and not t.cost for t in failed))
        self.assertAlmostEqual(self.http_gateway.balance, local - 3, msg="refused messages are refunded")
        refunds = self.env["sms.marketing.credit.move"].search(
            [("mailing_id", "=", mailing.id), ("move_type", "=", "refund")]
        )
        self.assertAlmostEqual(sum(refunds.mapped("amount")), 3.0)

    def test_country_not_priced_by_simulator(self):
        self.sim.configure(prices={"US": 1.0})
        mailing = self._mailing()
        self._run_cron()
        self.assertEqual(set(mailing.trace_ids.mapped("failure_type")), {"country_not_supported"})

    def _check_retried(self, failure):
        self.sim.configure(fail_next=[failure])
        mailing = self._mailing()
        with freeze_time("2030-01-01 10:00:00"):
            self._run_cron()
            self.assertEqual(self._states(mailing), {"pending": 6}, f"{failure}: nothing lost, nothing failed")
            self.assertTrue(all(t.next_try_at and t.try_count == 1 for t in mailing.trace_ids))
            self.assertEqual(mailing.state, "sending")
            self.assertAlmostEqual(self._ledger_balance(self.http_gateway), self.http_gateway.balance)
            cron = self.env.ref("sms_marketing_custom.ir_cron_sms_marketing_process_queue")
            retry_at = mailing.trace_ids[0].next_try_at
            self.assertTrue(
                self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id), ("call_at", "=", retry_at)]),
                "the cron comes back for the retry",
            )
        with freeze_time(retry_at + timedelta(seconds=1)):
            self._run_cron()
        self.assertEqual(mailing.state, "done")
        self.assertEqual(self._states(mailing), {"sent": 6})
        self.assertEqual(len(self.sim.state()["sent"]), 6)

    def test_retry_after_429(self):
        self._check_retried(429)

    def test_retry_after_5xx(self):
        self._check_retried(503)

    def test_retry_after_timeout(self):
        self._check_retried("timeout")

    def test_gives_up_after_max_tries(self):
        self.env["ir.config_parameter"].sudo().set_param("sms_marketing_custom.max_tries", "2")
        self.env["ir.config_parameter"].sudo().set_param("sms_marketing_custom.retry_base_seconds", "0")
        self.sim.configure(fail_next=[500, 500])
        mailing = self._mailing()
        self._run_cron()
        self._run_cron()
        self.assertEqual(mailing.state, "done")
        self.assertEqual(set(mailing.trace_ids.mapped("failure_type")), {"gateway_error"})
        self.assertIn("2 attempts", mailing.trace_ids[0].failure_reason)

    def test_bad_api_key_pauses(self):
        self.sim.configure(api_key="another")
        try:
            mailing = self._mailing()
            self._run_cron()
        finally:
            self.sim.configure(api_key="test-key")
        self.assertEqual(mailing.state, "paused")
        self.assertEqual(mailing.pause_code, "gateway_error")
        self.assertIn("API key", mailing.pause_reason)
        self.assertEqual(self._states(mailing), {"pending": 6})
        mailing.action_resume()
        self._run_cron()
        self.assertEqual(mailing.state, "done")

    def test_insufficient_credit_at_gateway_then_top_up(self):
        self.env["ir.config_parameter"].sudo().set_param("sms_marketing_custom.batch_size", "4")
        self.sim.configure(balance=3.0)
        mailing = self._mailing()
        local = self.http_gateway.balance
        self._run_cron()
        self.assertEqual(mailing.state, "paused")
        self.assertEqual(mailing.pause_code, "insufficient_credit")
        self.assertEqual(self._states(mailing), {"sent": 3, "pending": 3})
        refunds = self.env["sms.marketing.credit.move"].search(
            [("mailing_id", "=", mailing.id), ("move_type", "=", "refund")]
        )
        self.assertAlmostEqual(sum(refunds.mapped("amount")), 1.0, msg="the refused one is refunded")
        self.assertLess(self.http_gateway.balance, local, "aligned with the empty gateway")
        self._run_cron()  # still empty at the gateway
        self.assertEqual(mailing.state, "paused")
        self.sim.configure(balance=50.0)
        self._run_cron()
        self.assertEqual(mailing.state, "done")
        self.assertEqual(self._states(mailing), {"sent": 6})
        self.assertAlmostEqual(self.http_gateway.balance, 47.0, msg="aligned with the gateway's balance")
        self.assertAlmostEqual(self._ledger_balance(self.http_gateway), self.http_gateway.balance)

    def test_killed_sender_never_sends_twice(self):
        mailing = self._mailing()
        engine = type(self.env["sms.marketing.engine"])
        params = self.env["sms.marketing.engine"]._get_params()
        while not mailing.trace_build_done:
            self.env["sms.marketing.engine"]._build_traces(mailing, params)
        with (
            patch.object(engine, "_update_traces", side_effect=RuntimeError("worker killed")),
            self.assertRaises(RuntimeError),
            self.env.cr.savepoint(),
        ):
            self.env["sms.marketing.engine"]._send_batch(mailing, params)
        self.env.invalidate_all()
        self.assertEqual(len(self.sim.state()["sent"]), 6, "the gateway accepted the batch")
        self.assertEqual(self._states(mailing), {"pending": 6}, "but the worker died before its commit")
        self._run_cron()
        self.assertEqual(self._states(mailing), {"sent": 6})
        sent = self.sim.state()["sent"]
        self.assertEqual(len(sent), 6, "the resent uuids were answered duplicate: no second SMS")
        self.assertEqual(len({m["uuid"] for m in sent}), 6)
        self.assertTrue(all(t.cost == 1.0 for t in mailing.trace_ids), "duplicates are accounted as sent")
        self.assertAlmostEqual(self._ledger_balance(self.http_gateway), self.http_gateway.balance)

    def test_refresh_prices_and_balance(self):
        self.sim.configure(prices={"BE": 0.5, "*": 2.0}, balance=123.0)
        self.http_gateway.action_refresh()
        self.assertEqual(self.http_gateway.balance, 123.0)
        self.assertEqual(self.http_gateway.default_price, 2.0)
        self.assertEqual(self.http_gateway.price_ids.mapped("country_id.code"), ["BE"])
        self.assertEqual(self.http_gateway._get_prices(), {"BE": 0.5, False: 2.0})
        self.assertAlmostEqual(self._ledger_balance(self.http_gateway), 123.0)
