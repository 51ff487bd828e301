"""The mailing form in Chromium: dashboard, list, domain editor on Contacts, counter, schedule, test."""

from datetime import datetime

import pytz

from odoo.tests import HttpCase, tagged

from ..tools.sms_encoding import count_segments


@tagged("post_install", "-at_install")
class TestMailingTour(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        us, be = cls.env.ref("base.us"), cls.env.ref("base.be")
        cls.env["sms.marketing.list"].create(
            {
                "name": "Tour list",
                "contact_ids": [
                    (0, 0, {"name": "Ann", "phone": "+1 202-555-0143", "country_id": us.id}),
                    (0, 0, {"name": "Bob", "phone": "+32 470 98 76 54", "country_id": be.id}),
                ],
            }
        )
        Partner = cls.env["res.partner"]
        # only the partners of this test have a number in the United States
        Partner.search([("country_id", "=", us.id)]).write({"phone": False, "mobile": False})
        cls.partners = Partner.create(
            [
                {"name": "Tour US 1", "phone": "+1 202-555-0101", "country_id": us.id},
                {"name": "Tour US 2", "mobile": "+1 415-555-2671", "country_id": us.id},
                {"name": "Tour US blacklisted", "phone": "+1 212-555-1234", "country_id": us.id},
                {"name": "Tour BE", "phone": "+32 470 00 00 01", "country_id": be.id},
            ]
        )
        cls.env["sms.marketing.blacklist"]._add_numbers(["+12125551234"])
        cls.gateway = cls.env["sms.marketing.gateway"].create(
            {"name": "Tour gateway", "provider": "sandbox", "balance": 1000.0}
        )
        cls.env.ref("base.user_admin").tz = "America/New_York"

    def test_mailing_tour(self):
        self.start_tour("/web", "sms_marketing_custom_mailing", login="admin")
        mailing = self.env["sms.marketing.mailing"].search([("subject", "=", "Tour spring sale")])
        self.assertEqual(len(mailing), 1)
        self.assertEqual(mailing.recipient_model, "res.partner")
        domain = mailing.env["sms.marketing.audience"]._parse_filter(mailing)
        self.assertIn(("country_id.name", "=", "United States"), [tuple(leaf) for leaf in domain])
        self.assertIn(("blacklisted", "=", False), [tuple(leaf) for leaf in domain])
        recipients = self.env["res.partner"].search(domain)
        self.assertEqual(recipients, self.partners[:2])
        self.assertEqual(mailing.audience_to_send, 2)
        self.assertEqual(mailing.body, "Spring sale \U0001f337 today: https://example.com/spring?from=sms")
        info = count_segments(mailing._get_sms_text_to_count())
        self.assertEqual((mailing.sms_encoding, mailing.sms_segments), ("UCS-2", info.segments))
        self.assertEqual(mailing.state, "scheduled")
        # typed 12/31/2035 10:00:00 in the browser's time zone, stored in UTC
        self.assertIn(
            mailing.schedule_date,
            {
                pytz.timezone(tz).localize(datetime(2035, 12, 31, 10)).astimezone(pytz.utc).replace(tzinfo=None)
                for tz in ("America/New_York", "UTC")
            },
        )


@tagged("post_install", "-at_install")
class TestMailingTruthTour(HttpCase):
    """Chromium: preview and counter on an unsaved mailing, prices, Send's confirmation,
    statistics, traces and the dashboard (static/src/tours/sms_marketing_truth_tour.js)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        us, be, fr = cls.env.ref("base.us"), cls.env.ref("base.be"), cls.env.ref("base.fr")
        cls.truth_list = cls.env["sms.marketing.list"].create(
            {
                "name": "Truth list",
                "contact_ids": [
                    (0, 0, {"name": "Ann", "phone": "+1 202-555-0143", "country_id": us.id}),
                    (0, 0, {"name": "Bob", "phone": "+32 470 98 76 54", "country_id": be.id}),
                    (0, 0, {"name": "Chloé", "phone": "+33 6 12 34 56 78", "country_id": fr.id}),
                ],
            }
        )
        cls.sandbox = cls.env.ref("sms_marketing_custom.sms_marketing_gateway_sandbox")
        cls.env["sms.marketing.gateway"].search([("id", "!=", cls.sandbox.id)]).write({"active": False})
        cls.sandbox.write({"default_price": 1.0, "sandbox_failure_rate": 0, "sandbox_undelivered_rate": 0})
        cls.sandbox.price_ids.unlink()
        cls.env["sms.marketing.gateway.price"].create({"gateway_id": cls.sandbox.id, "country_id": us.id, "price": 0.5})
        cls.sandbox._change_balance(100.0 - cls.sandbox.balance, "purchase", allow_partial=True)
        # a sent mailing: 2 delivered, 1 failed, 1 click
        cls.sent = cls.env["sms.marketing.mailing"].create(
            {
                "subject": "Truth sent",
                "body": "Hello https://shop.example.com",
                "list_ids": [(6, 0, cls.truth_list.ids)],
            }
        )
        contacts = cls.truth_list.contact_ids.sorted("id")
        traces = cls.env["sms.marketing.trace"].create(
            [
                {
                    "mailing_id": cls.sent.id,
                    "res_model": "sms.marketing.contact",
                    "res_id": contact.id,
                    "number": contact.phone_sanitized,
                    "country_code": contact.country_id.code,
                    "state": state,
                    "segments": 1,
                    "cost": 1.0,
                    "sent_at": "2030-01-01 10:00:00",
                    "failure_type": "undelivered" if state == "failed" else False,
                }
                for contact, state in zip(contacts, ("delivered", "delivered", "failed"), strict=True)
            ]
        )
        link = cls.env["sms.marketing.link"].create({"url": "https://shop.example.com", "mailing_id": cls.sent.id})
        cls.env["sms.marketing.link.click"].create({"link_id": link.id, "trace_id": traces[0].id})
        cls.sent.write({"state": "done", "sent_date": "2030-01-01 10:00:00"})

    def test_truth_tour(self):
        self.start_tour("/web", "sms_marketing_custom_truth", login="admin")
        mailing = self.env["sms.marketing.mailing"].search([("subject", "=", "Truth flash sale")])
        self.assertEqual(mailing.state, "scheduled")
        self.assertIn("Hi Ann, flash sale", mailing.sms_preview)
        self.assertEqual(mailing.sms_units, len(mailing.sms_preview))
        estimate = mailing.estimated_credits
        # Ann in the US at 0.5, Bob and Chloé at the default 1.0, per part
        self.assertAlmostEqual(estimate, mailing.sms_segments * 2.5)
        self.env["sms.marketing.mailing"]._cron_process_queue()
        self.env.invalidate_all()
        self.assertAlmostEqual(sum(mailing.trace_ids.mapped("cost")), estimate, places=4)
        self.assertAlmostEqual(self.sandbox.balance, 100.0 - estimate, places=4)

    def test_statistics_tour(self):
        self.start_tour("/web", "sms_marketing_custom_statistics", login="admin")
