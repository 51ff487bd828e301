"""Chromium: start a mailing from a template (static/src/tours/sms_marketing_template_tour.js)."""

from odoo.tests import HttpCase, new_test_user, tagged

BODY = "Hello {{ object.name }}, flash sale tonight only: https://flash.example.org/tour"


@tagged("post_install", "-at_install")
class TestTemplateTour(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["sms.marketing.list"].create(
            {
                "name": "Tour template list",
                "contact_ids": [(0, 0, {"name": "Tess", "phone": "+32 470 55 44 33"})],
            }
        )
        cls.template = cls.env["sms.marketing.template"].create({"name": "Tour flash sale", "body": BODY})

    def test_template_tour(self):
        """As a marketer: the mailing form's preview (and its recipient picker) work without access to
        ir.model."""
        new_test_user(
            self.env,
            login="tpl_tour_mailer",
            groups="base.group_user,sms_marketing_custom.group_sms_marketing_user",
        )
        self.start_tour("/web", "sms_marketing_custom_template", login="tpl_tour_mailer")
        mailing = self.env["sms.marketing.mailing"].search([("subject", "=", "Tour from template")])
        self.assertEqual(len(mailing), 1)
        self.assertEqual(mailing.template_id, self.template)
        self.assertEqual(mailing.body, BODY)
        self.assertTrue(mailing.include_optout)
        self.assertTrue(mailing.sms_preview.startswith("Hello Tess, flash sale tonight only: "))
        self.assertNotIn("flash.example.org", mailing.sms_preview)

    def test_template_form_and_campaigns_tour(self):
        """A marketer: the template form's counter, preview and price; the campaigns in Reporting."""
        new_test_user(
            self.env,
            login="tpl_tour_marketer",
            groups="base.group_user,sms_marketing_custom.group_sms_marketing_user",
        )
        campaign = self.env["sms.marketing.campaign"].create({"name": "Tour campaign"})
        mailing = self.env["sms.marketing.mailing"].create(
            {"subject": "Tour campaign mailing", "body": "Hi", "campaign_id": campaign.id}
        )
        self.env["sms.marketing.trace"].create(
            [
                {
                    "mailing_id": mailing.id,
                    "res_id": index,
                    "number": f"+3247055440{index}",
                    "state": "delivered",
                    "sent_at": "2030-01-01 10:00:00",
                    "cost": 1.0,
                }
                for index in (1, 2)
            ]
        )
        self.start_tour("/web", "sms_marketing_custom_template_form", login="tpl_tour_marketer")
        template = self.env["sms.marketing.template"].search([("name", "=", "Tour welcome")])
        self.assertEqual(len(template), 1)
        self.assertEqual(template.body, "Hi {{ object.name }}, welcome! https://flash.example.org/welcome")
        self.assertEqual(template.create_uid.login, "tpl_tour_marketer")
        self.assertIn("welcome!", template.sms_preview)
        self.assertGreater(template.sample_credits, 0)
