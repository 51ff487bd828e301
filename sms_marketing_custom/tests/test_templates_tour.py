"""Chromium: start a mailing from a template (static/src/tours/sms_marketing_template_tour.js)."""

from odoo.tests import HttpCase, tagged

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
        self.start_tour("/web", "sms_marketing_custom_template", login="admin")
        mailing = self.env["sms.marketing.mailing"].search([("subject", "=", "Tour from template")])
        self.assertEqual(len(mailing), 1)
        self.assertEqual(mailing.template_id, self.template)
        self.assertEqual(mailing.body, BODY)
        self.assertTrue(mailing.include_optout)
        self.assertTrue(mailing.sms_preview.startswith("Hello Tess, flash sale tonight only: "))
        self.assertNotIn("flash.example.org", mailing.sms_preview)
