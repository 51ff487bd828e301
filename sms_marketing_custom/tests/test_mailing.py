"""The mailing core: placeholders, the live counts, price estimate, send/schedule rules and guards."""

from datetime import datetime, timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from ..tools.sms_encoding import count_segments
from .common import SmsMarketingMailingCase

NOW = datetime(2030, 5, 17, 9, 0, 0)


def fake_statistics(by_country, **counts):
    """A stand-in for the audience's SQL statistics (patched on the model class)."""
    to_send = sum(by_country.values())
    stats = {
        "total": to_send,
        "valid": to_send,
        "invalid": 0,
        "blacklisted": 0,
        "opted_out": 0,
        "duplicates": 0,
        "to_send": to_send,
        "by_country": by_country,
    }
    stats.update(counts)
    return lambda self, mailing: dict(stats)


@tagged("post_install", "-at_install")
class TestMailing(SmsMarketingMailingCase):
    def _patch_statistics(self, by_country, **counts):
        Audience = type(self.env["sms.marketing.audience"])
        return patch.object(Audience, "_get_statistics", fake_statistics(by_country, **counts))

    def _triggers(self):
        cron = self.env.ref("sms_marketing_custom.ir_cron_sms_marketing_process_queue")
        return self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)])

    # ---------------------------------------------------------------- placeholders
    def test_render_placeholders_fast_path(self):
        ids = self.contacts.ids
        self.mailing.mapped("body")  # in cache, as when the engine renders a batch
        with self.assertQueryCount(0):
            rendered = self.mailing._render_placeholders(ids)
        self.assertEqual(rendered, dict.fromkeys(ids, "Spring sale: 20% off today!"))

    def test_render_placeholders_per_recipient(self):
        self.mailing.body = "Hi {{ object.name }}, {{ object.country_id.code or 'friend' }}!"
        rendered = self.mailing._render_placeholders(self.contacts.ids)
        self.assertEqual(
            rendered,
            {
                self.contacts[0].id: "Hi Ann, US!",
                self.contacts[1].id: "Hi Bob, US!",
                self.contacts[2].id: "Hi Chloé, BE!",
            },
        )

    def test_render_placeholders_other_model(self):
        partner = self.env["res.partner"].create({"name": "Dana", "phone": "+32 470 00 00 01"})
        self.mailing.write(
            {"recipient_model_id": self.env["ir.model"]._get_id("res.partner"), "body": "Dear {{ object.name }}"}
        )
        self.assertEqual(self.mailing._render_placeholders([partner.id]), {partner.id: "Dear Dana"})

    def test_render_placeholders_is_sandboxed(self):
        self.mailing.body = "{{ object.__class__ }}"
        with self.assertRaises(UserError):
            self.mailing._render_placeholders(self.contacts.ids)

    def test_broken_placeholder_refuses_sending(self):
        self.mailing.body = "Hi {{ object.name.nope }}"
        with self.assertRaisesRegex(UserError, "placeholder"):
            self.mailing.action_send_now()
        self.assertEqual(self.mailing.state, "draft")

    # ---------------------------------------------------------------- counter
    def test_counter_counts_links_and_optout(self):
        mailing = self.mailing
        mailing.body = "Sale! https://example.com/a/very/long/path?with=query&and=more."
        link = mailing.sms_link_length
        self.assertGreater(link, 10)
        expected = len("Sale! ") + link + len(".")
        self.assertEqual((mailing.sms_units, mailing.sms_encoding), (expected, "GSM-7"))
        mailing.include_optout = True
        self.assertTrue(mailing.sms_optout_suffix)
        self.assertEqual(mailing.sms_units, expected + len(mailing.sms_optout_suffix))

    def test_counter_unicode_and_parts(self):
        self.mailing.body = "Hello \U0001f600 " + "x" * 70
        info = count_segments(self.mailing.body)
        self.assertEqual((self.mailing.sms_encoding, self.mailing.sms_segments), ("UCS-2", 2))
        self.assertEqual(self.mailing.sms_units, info.units)

    # ---------------------------------------------------------------- audience
    def test_audience_of_lists(self):
        self.assertEqual(self.mailing.audience_total, 3)
        self.assertFalse(self.mailing.audience_error)
        with self._patch_statistics({"US": 2}, total=5, invalid=1, blacklisted=1, opted_out=1, duplicates=1):
            self.mailing.invalidate_recordset()
            self.assertEqual(
                (self.mailing.audience_total, self.mailing.audience_to_send, self.mailing.audience_invalid),
                (5, 2, 1),
            )
            self.assertEqual((self.mailing.audience_excluded, self.mailing.audience_duplicates), (2, 1))

    def test_other_model_gets_its_default_filter_and_live_count(self):
        self.env["res.partner"].create([{"name": f"US {i}", "country_id": self.country_us.id} for i in range(3)])
        partner_model = self.env["ir.model"]._get("res.partner")
        with Form(self.mailing.with_user(self.user_marketing)) as form:
            form.recipient_model_id = partner_model
            self.assertEqual(form.domain, self.mailing._get_default_recipient_domain("res.partner"))
            form.domain = "[('country_id.name', '=', 'United States'), ('name', '=like', 'US %')]"
            self.assertEqual(form.audience_total, 3)
            form.domain = "[('no_such_field', '=', 1)]"
            self.assertIn("no_such_field", form.audience_error)
            form.domain = "[('country_id.name', '=', 'United States'), ('name', '=like', 'US %')]"
        self.assertFalse(self.mailing.is_list_mailing)

    def test_recipient_models_are_sms_enabled_ones(self):
        domain = self.env["sms.marketing.mailing"]._fields["recipient_model_id"].get_domain_list(self.mailing)
        models = self.env["ir.model"].search(domain).mapped("model")
        self.assertIn("sms.marketing.contact", models)
        self.assertIn("res.partner", models)
        self.assertNotIn("res.users", models)

    def test_invalid_domain_rejected_on_save(self):
        with self.assertRaises(ValidationError):
            self.mailing.write(
                {"recipient_model_id": self.env["ir.model"]._get_id("res.partner"), "domain": "[('x', '=' "}
            )

    # ---------------------------------------------------------------- price
    def test_estimate_by_country(self):
        self.mailing.body = "x" * 200  # 2 parts
        with self._patch_statistics({"US": 3, "BE": 2, "FR": 1}):
            self.mailing.invalidate_recordset()
            # US 3 x 2 x 1.0 + BE 2 x 2 x 2.5 + FR (other countries) 1 x 2 x 3.0
            self.assertAlmostEqual(self.mailing.estimated_credits, 6 + 10 + 6)
            html = str(self.mailing.estimate_html)
            for country in ("United States", "Belgium", "France"):
                self.assertIn(country, html)
        action = self.mailing.action_view_prices()
        prices = (
            self.env[action["res_model"]].with_user(self.user_marketing).with_context(**action["context"]).create({})
        )
        for line in ("United States", "Belgium", "Other countries"):
            self.assertIn(line, prices.prices_html)

    def test_send_refused_when_credits_are_short(self):
        self.gateway.balance = 2.0
        with self._patch_statistics({"US": 3}):
            with self.assertRaisesRegex(UserError, "Not enough credits"):
                self.mailing.action_send_now()
            with self.assertRaisesRegex(UserError, "Not enough credits"):
                self.mailing.schedule_date = fields.Datetime.now() + timedelta(days=1)
                self.mailing.action_schedule()
        self.assertEqual(self.mailing.state, "draft")

    # ---------------------------------------------------------------- send / schedule
    @freeze_time(NOW)
    def test_send_now_queues_and_wakes_the_cron(self):
        with self._patch_statistics({"US": 2, "BE": 1}):
            self.mailing.action_send_now()
        self.assertEqual(self.mailing.state, "scheduled")
        self.assertEqual(self.mailing.schedule_date, NOW)
        self.assertIn(NOW, self._triggers().mapped("call_at"))
        self.assertFalse(self.env["sms.marketing.trace"].search([("mailing_id", "=", self.mailing.id)]))
        self.env.flush_all()
        self.env.cr.precommit.run()  # tracking values are written at commit time
        tracked = self.mailing.sudo().message_ids.tracking_value_ids.field_id.mapped("name")
        self.assertIn("state", tracked)
        self.assertIn("schedule_date", tracked)

    def test_send_refused_without_content_or_recipients(self):
        self.mailing.body = "  "
        with self.assertRaisesRegex(UserError, "no SMS content"):
            self.mailing.action_send_now()
        self.mailing.write({"body": "Hi", "list_ids": [(5, 0, 0)]})
        with self.assertRaisesRegex(UserError, "mailing list"):
            self.mailing.action_send_now()
        empty_list = self.env["sms.marketing.list"].create({"name": "Empty"})
        self.mailing.list_ids = empty_list
        with self.assertRaisesRegex(UserError, "No recipient"):
            self.mailing.action_send_now()

    @freeze_time(NOW)
    def test_schedule(self):
        mailing = self.mailing.with_user(self.user_marketing)
        with self._patch_statistics({"US": 2}):
            wizard = Form(self.env["sms.marketing.mailing.schedule"].with_context(default_mailing_id=mailing.id))
            wizard.schedule_date = NOW - timedelta(hours=1)
            with self.assertRaisesRegex(UserError, "future"):
                wizard.save().action_schedule()
            wizard.schedule_date = NOW + timedelta(days=2)
            wizard.save().action_schedule()
        self.assertEqual(mailing.state, "scheduled")
        self.assertEqual(mailing.schedule_type, "scheduled")
        self.assertEqual(mailing.schedule_date, NOW + timedelta(days=2))
        self.assertIn(NOW + timedelta(days=2), self._triggers().mapped("call_at"))
        # a scheduled mailing goes back to draft while nothing is sent
        mailing.action_draft()
        self.assertEqual(mailing.state, "draft")

    @freeze_time(NOW)
    def test_schedule_in_the_past_refused(self):
        self.mailing.schedule_date = NOW - timedelta(hours=2)
        with self._patch_statistics({"US": 2}), self.assertRaisesRegex(UserError, "past"):
            self.mailing.action_schedule()

    @freeze_time(NOW + timedelta(minutes=23))
    def test_schedule_without_date_asks_for_it(self):
        action = self.mailing.action_schedule()
        self.assertEqual(action["res_model"], "sms.marketing.mailing.schedule")
        # the dialog proposes the next full hour, not an empty field
        wizard = Form(self.env[action["res_model"]].with_user(self.user_marketing).with_context(**action["context"]))
        self.assertEqual(wizard.schedule_date, NOW + timedelta(hours=1))
        # the next full hour of the user's clock: 14:53 in Kolkata (UTC+5:30) proposes 16:00 there
        self.user_marketing.tz = "Asia/Kolkata"
        wizard = Form(self.env[action["res_model"]].with_user(self.user_marketing).with_context(**action["context"]))
        self.assertEqual(wizard.schedule_date, NOW + timedelta(hours=1, minutes=30))
        # a mailing's own date is kept
        self.mailing.schedule_date = NOW + timedelta(days=3)
        action = self.mailing.action_open_schedule_wizard()
        wizard = Form(self.env[action["res_model"]].with_user(self.user_marketing).with_context(**action["context"]))
        self.assertEqual(wizard.schedule_date, NOW + timedelta(days=3))

    # ---------------------------------------------------------------- guards and other actions
    def test_started_mailing_cannot_change(self):
        mailing = self.mailing.with_user(self.user_marketing)
        for state in ("sending", "paused", "done"):
            self.mailing.sudo().state = state
            for values in ({"body": "changed"}, {"list_ids": [(5, 0, 0)]}, {"include_optout": True}):
                with self.assertRaisesRegex(UserError, "can no longer change"):
                    mailing.write(values)
            mailing.write({"user_id": self.user_manager.id, "subject": "Renamed"})
        self.assertEqual(mailing.body, "Spring sale: 20% off today!")

    def test_cancel_and_duplicate(self):
        mailing = self.mailing.with_user(self.user_marketing)
        mailing.action_cancel()
        self.assertEqual(mailing.state, "canceled")
        action = mailing.action_duplicate()
        copy = self.env["sms.marketing.mailing"].browse(action["res_id"])
        self.assertEqual((copy.state, copy.body, copy.list_ids), ("draft", mailing.body, mailing.list_ids))
        self.assertIn("(copy)", copy.subject)
        mailing.sudo().state = "done"
        with self.assertRaises(UserError):
            mailing.action_cancel()

    def test_test_action_opens_the_wizard(self):
        action = self.mailing.with_user(self.user_marketing).action_test()
        self.assertEqual(action["res_model"], "sms.marketing.mailing.test")
        self.assertEqual(action["context"]["default_mailing_id"], self.mailing.id)

    def test_responsible_defaults_to_creator(self):
        self.assertEqual(self.mailing.user_id, self.user_marketing)
