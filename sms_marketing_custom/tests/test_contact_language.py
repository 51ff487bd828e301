"""List contacts have a language: their opt-out line is in it, and the counter and the price count
the line each recipient gets."""

from odoo.tests import tagged

from ..tools import links
from ..tools.sms_encoding import count_segments
from .common import SmsEngineCase


@tagged("post_install", "-at_install")
class TestContactLanguage(SmsEngineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for lang in ("fr_FR", "it_IT"):
            cls.env["res.lang"]._activate_lang(lang)
        cls.env["ir.module.module"].search([("name", "=", "sms_marketing_custom")])._update_translations(
            ["fr_FR", "it_IT"]
        )
        cls.Contact = cls.env["sms.marketing.contact"].with_user(cls.user_marketing)

    def test_default_is_the_main_language_of_the_country_when_installed(self):
        contacts = self.Contact.create(
            [
                {"name": "Giulia", "phone": "06 1234 5678", "country_id": self.env.ref("base.it").id},
                {"name": "Ann", "phone": "+1 202-555-0143"},  # no country: the number's (US)
                {"name": "Jan", "phone": "+32 470 12 34 56"},  # Belgium: Dutch, not installed
                {"name": "Léa", "phone": "+33 6 11 22 33 44", "lang": "it_IT"},  # chosen: kept
            ]
        )
        self.assertEqual(contacts.mapped("lang"), ["it_IT", "en_US", False, "it_IT"])
        contacts[0].country_id = self.env.ref("base.fr")
        self.assertEqual(contacts[0].lang, "it_IT", "a language once set is not changed by the country")

    def test_language_is_importable(self):
        result = self.Contact.load(
            ["name", "phone", "lang"],
            [["Léa", "+33 6 11 22 33 45", "fr_FR"], ["Bob", "+1 202-555-0144", "Italian / Italiano"]],
        )
        self.assertFalse(result["messages"], result["messages"])
        without = self.Contact.load(["name", "phone"], [["Ann", "+1 202-555-0145"]])
        contacts = self.Contact.browse(result["ids"] + without["ids"])
        self.assertEqual(contacts.mapped("lang"), ["fr_FR", "it_IT", "en_US"])

    def test_optout_line_of_each_contact_in_its_language_counted_exactly(self):
        self.user_marketing.lang = "it_IT"  # the Responsible: not the recipients' language
        french, english = self.Contact.create(
            [
                {"name": "Léa", "phone": "+33 6 11 22 33 44", "list_ids": [(4, self.sms_list.id)]},
                {"name": "Ann", "phone": "+1 202-555-0143", "list_ids": [(4, self.sms_list.id)]},
            ]
        )
        self.assertEqual((french.lang, english.lang), ("fr_FR", "en_US"))
        Mailing = self.env["sms.marketing.mailing"]
        line_fr = Mailing.with_context(lang="fr_FR")._get_optout_suffix_text("URL")
        line_en = Mailing.with_context(lang="en_US")._get_optout_suffix_text("URL")
        self.assertGreater(len(line_fr), len(line_en), "fr.po translates the opt-out line (longer)")
        probe = self._make_mailing(body="x", include_optout=True, user_id=self.user_marketing.id)
        head, tail = probe._get_optout_suffix_parts("en_US")
        # fits one part with the English line (and its token), needs two with the French one
        body = "x" * (160 - len(head) - links.OPTOUT_TOKEN_LENGTH - len(tail))
        mailing = self._make_mailing(body=body, include_optout=True, user_id=self.user_marketing.id)
        self.assertEqual((mailing.sms_segments_min, mailing.sms_segments_max), (1, 2))
        # the counter counts the message the preview shows, opt-out line of the preview recipient included
        preview_contact = mailing.preview_ref
        self.assertIn(preview_contact, french | english)
        self.assertEqual(len(mailing.sms_preview), len(body) + len(mailing.sms_optout_suffix))
        self.assertEqual(mailing.sms_segments, 2 if preview_contact == french else 1)
        estimate = mailing.estimated_credits
        mailing.with_user(self.user_marketing).action_send_now()
        self._run_cron()
        by_contact = {trace.res_id: trace for trace in mailing.trace_ids}
        self.assertIn(line_fr.strip().split(":")[0], by_contact[french.id].body)
        self.assertIn(line_en.strip().split(":")[0], by_contact[english.id].body)
        self.assertEqual((by_contact[french.id].segments, by_contact[english.id].segments), (2, 1))
        for trace in mailing.trace_ids:
            self.assertEqual(trace.segments, count_segments(trace.body).segments)
        self.assertAlmostEqual(sum(mailing.trace_ids.mapped("cost")), estimate, places=4)
