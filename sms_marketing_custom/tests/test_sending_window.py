"""Sending window ("quiet hours") in each recipient's local time: the pure rule and the engine."""

from datetime import datetime

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import BaseCase, tagged

from ..tools import quiet_hours
from .common import SmsEngineCase

NEW_YORK = "+12025550143"  # Washington DC: America/New_York
INMARSAT = "+870773111632"  # valid, and no time zone in libphonenumber's table


@tagged("post_install", "-at_install")
class TestWindowRule(BaseCase):
    def test_open_now_or_next_opening(self):
        # 2026-01-15, New York is UTC-5
        at = datetime(2026, 1, 16, 1, 59)  # 20:59 local
        self.assertEqual(quiet_hours.next_opening("America/New_York", at, 9, 21, False), at)
        at = datetime(2026, 1, 16, 2, 1)  # 21:01 local: opens at 09:00 local
        self.assertEqual(quiet_hours.next_opening("America/New_York", at, 9, 21, False), datetime(2026, 1, 16, 14, 0))

    def test_daylight_saving_days(self):
        # the US springs forward on 2026-03-08 at 02:00: from midnight EST, 09:00 EDT is 13:00 UTC (not 14:00)
        self.assertEqual(
            quiet_hours.next_opening("America/New_York", datetime(2026, 3, 8, 5, 0), 9, 20, False),
            datetime(2026, 3, 8, 13, 0),
        )
        # Europe on 2026-03-29 (CET -> CEST) and back on 2026-10-25
        self.assertEqual(
            quiet_hours.next_opening("Europe/Paris", datetime(2026, 3, 28, 20, 0), 9, 20, False),
            datetime(2026, 3, 29, 7, 0),
        )
        self.assertEqual(
            quiet_hours.next_opening("Europe/Paris", datetime(2026, 10, 24, 20, 0), 9, 20, False),
            datetime(2026, 10, 25, 8, 0),
        )

    def test_several_zones_take_the_window_open_in_all(self):
        key = quiet_hours.zone_key(["America/Los_Angeles", "America/New_York"])
        # 10:00 in New York is 07:00 in Los Angeles: wait for 09:00 there (12:00 in New York)
        self.assertEqual(
            quiet_hours.next_opening(key, datetime(2026, 1, 15, 15, 0), 9, 20, False), datetime(2026, 1, 15, 17, 0)
        )

    def test_no_sunday_and_unknown_zone(self):
        # Saturday 2026-01-17 21:00 in Paris: Sunday is skipped, Monday 09:00 (08:00 UTC)
        self.assertEqual(
            quiet_hours.next_opening("Europe/Paris", datetime(2026, 1, 17, 20, 0), 9, 20, True),
            datetime(2026, 1, 19, 8, 0),
        )
        # an unknown zone name falls back to the given zone
        self.assertEqual(
            quiet_hours.next_opening("Mars/Olympus", datetime(2026, 1, 15, 1, 0), 9, 20, False, fallback="Asia/Tokyo"),
            datetime(2026, 1, 15, 1, 0),
        )


@tagged("post_install", "-at_install")
class TestSendingWindowEngine(SmsEngineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.window_list = cls.env["sms.marketing.list"].create({"name": "Window list"})
        cls.env.company.partner_id.tz = "Asia/Tokyo"

    def _contacts(self, *numbers):
        return self.env["sms.marketing.contact"].create(
            [{"name": number, "phone": number, "list_ids": [(4, self.window_list.id)]} for number in numbers]
        )

    def _mailing(self, **values):
        values = {"quiet_hours": True, "window_start": 9.0, "window_end": 21.0, **values}
        return self._make_mailing(list_ids=[(6, 0, self.window_list.ids)], **values)

    def _trace(self, mailing, number):
        return mailing.trace_ids.filtered(lambda trace: trace.number == number)

    def test_us_number_at_2059_and_2101_local(self):
        self._contacts(NEW_YORK)
        with freeze_time("2026-01-16 01:59:00"):  # 20:59 in New York
            sent = self._start(self._mailing())
            self._run_cron()
            self.assertEqual(self._trace(sent, NEW_YORK).state, "delivered")
        with freeze_time("2026-01-16 02:01:00"):  # 21:01 in New York
            waiting = self._start(self._mailing())
            self._run_cron()
            trace = self._trace(waiting, NEW_YORK)
            self.assertEqual((trace.state, trace.failure_type), ("pending", "quiet_hours"))
            self.assertEqual(trace.time_zone, "America/New_York")
            self.assertEqual(trace.next_try_at, datetime(2026, 1, 16, 14, 0))
            self.assertEqual((waiting.window_waiting_count, waiting.window_next_at), (1, datetime(2026, 1, 16, 14, 0)))
            self.assertEqual(waiting.state, "sending")
        with freeze_time("2026-01-16 13:59:00"):
            self._run_cron()
            self.assertEqual(trace.state, "pending")
        with freeze_time("2026-01-16 14:00:00"):
            self._run_cron()
            self.assertEqual((trace.state, trace.failure_type), ("delivered", False))
            self.assertEqual(waiting.window_waiting_count, 0)
            self.assertEqual(waiting.state, "done")

    def test_send_says_the_window_is_closed_and_progress_counts_canceled_as_finished(self):
        """Sent at 23:19 in the company's zone with a 09:00-21:00 window: the confirmation says the
        messages wait, the form says how many wait and until when, and a canceled message is finished."""
        self._contacts(NEW_YORK, "+1 202-555-01")  # the second one is invalid: canceled at build
        mailing = self._mailing()
        with freeze_time("2026-01-16 14:19:00"):  # 23:19 in Tokyo, 09:19 in New York
            confirm = self.env["sms.marketing.mailing.send"].create({"mailing_id": mailing.id})
            self.assertIn("is closed now in Asia/Tokyo", confirm.window_note)
            self.assertIn("(01/17/2026 09:00:00 there)", confirm.window_note, "the opening in Tokyo's time")
        with freeze_time("2026-01-16 02:01:00"):  # 11:01 in Tokyo (open), 21:01 in New York (closed)
            confirm = self.env["sms.marketing.mailing.send"].create({"mailing_id": mailing.id})
            self.assertIn("only between 09:00 and 21:00", confirm.window_note)
            self._start(mailing)
            self._run_cron()
            self.assertEqual((mailing.window_waiting_count, mailing.canceled_count), (1, 1))
            self.assertEqual(mailing.progress_ratio, 50.0, "the canceled message is finished, the waiting one is not")

    def test_dst_change_day(self):
        self._contacts(NEW_YORK)
        with freeze_time("2026-03-08 12:30:00"):  # 08:30 EDT, the morning the clocks went forward
            mailing = self._start(self._mailing())
            self._run_cron()
            self.assertEqual(self._trace(mailing, NEW_YORK).next_try_at, datetime(2026, 3, 8, 13, 0))

    def test_number_without_a_known_zone_uses_the_company_zone(self):
        self._contacts(INMARSAT, NEW_YORK)
        with freeze_time("2026-01-15 15:00:00"):  # 10:00 in New York, 00:00 in Tokyo
            mailing = self._start(self._mailing())
            self._run_cron()
            unknown = self._trace(mailing, INMARSAT)
            self.assertEqual((unknown.state, unknown.time_zone), ("pending", "Asia/Tokyo"))
            self.assertEqual(unknown.next_try_at, datetime(2026, 1, 16, 0, 0))  # 09:00 in Tokyo
            self.assertEqual(self._trace(mailing, NEW_YORK).state, "delivered")

    def test_record_time_zone_wins_over_the_number(self):
        partner = self.env["res.partner"].create({"name": "In Paris", "mobile": NEW_YORK, "tz": "Europe/Paris"})
        with freeze_time("2026-01-15 15:00:00"):  # 10:00 in New York, 16:00 in Paris
            mailing = self._make_mailing(
                recipient_model_id=self.env["ir.model"]._get_id("res.partner"),
                domain=f"[('id', '=', {partner.id})]",
                quiet_hours=True,
                window_start=9.0,
                window_end=12.0,
            )
            self._start(mailing)
            self._run_cron()
            trace = mailing.trace_ids
            self.assertEqual((trace.time_zone, trace.state), ("Europe/Paris", "pending"))
            self.assertEqual(trace.next_try_at, datetime(2026, 1, 16, 8, 0))

    def test_window_closed_between_build_and_claim(self):
        self._contacts(NEW_YORK)
        engine = self.env["sms.marketing.engine"]
        with freeze_time("2026-01-16 01:59:00"):
            mailing = self._start(self._mailing())
            engine._build_traces(mailing, engine._get_params())
            self.assertEqual(self._trace(mailing, NEW_YORK).failure_type, False)
        with freeze_time("2026-01-16 02:01:00"):
            self._run_cron()
            trace = self._trace(mailing, NEW_YORK)
            self.assertEqual((trace.state, trace.next_try_at), ("pending", datetime(2026, 1, 16, 14, 0)))

    def test_bad_window_is_refused(self):
        with self.assertRaisesRegex(ValidationError, "21:00 to 09:00"):
            self._mailing(window_start=21.0, window_end=9.0)
        with self.assertRaises(ValidationError):
            self.env.company.sms_marketing_window_end = 25.0
