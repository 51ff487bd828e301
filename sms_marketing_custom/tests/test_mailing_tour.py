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
        domain = mailing._parse_domain()
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
