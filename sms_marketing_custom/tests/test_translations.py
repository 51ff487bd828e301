"""Translations: every term of the module in Italian, French, Spanish and German, and the opt-out
line of each SMS in the recipient's language (counted exactly)."""

import os
import re

import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import TranslationModuleReader

from ..tools import links
from ..tools.sms_encoding import count_segments
from .common import SmsEngineCase

I18N = os.path.join(os.path.dirname(__file__), "..", "i18n")
LANGS = ("it", "fr", "es", "de")
PLACEHOLDER_RE = re.compile(r"%\([a-z_]+\)s|\{\{[^}]*\}\}")


@tagged("post_install", "-at_install")
class TestTranslationFiles(TransactionCase):
    def test_template_is_up_to_date(self):
        """The .pot holds every term the code and views have today."""
        current = {row[4] for row in TranslationModuleReader(self.env.cr, modules=["sms_marketing_custom"])}
        template = {entry.msgid for entry in polib.pofile(os.path.join(I18N, "sms_marketing_custom.pot"))}
        self.assertEqual(current - template, set(), "regenerate i18n/sms_marketing_custom.pot")

    def test_every_term_is_translated(self):
        template = [entry.msgid for entry in polib.pofile(os.path.join(I18N, "sms_marketing_custom.pot"))]
        for lang in LANGS:
            with self.subTest(lang=lang):
                path = os.path.join(I18N, f"{lang}.po")
                self.assertTrue(os.path.exists(path), f"missing i18n/{lang}.po")
                translated = {entry.msgid: entry.msgstr for entry in polib.pofile(path) if entry.msgstr}
                missing = [msgid for msgid in template if msgid not in translated]
                self.assertEqual(missing, [], f"untranslated in {lang}.po")
                for msgid in template:
                    self.assertEqual(
                        sorted(PLACEHOLDER_RE.findall(msgid)),
                        sorted(PLACEHOLDER_RE.findall(translated[msgid])),
                        f"{lang}.po changes the placeholders of {msgid!r}",
                    )


@tagged("post_install", "-at_install")
class TestOptoutLanguage(SmsEngineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.env["ir.module.module"].search([("name", "=", "sms_marketing_custom")])._update_translations(["fr_FR"])
        cls.partners = cls.env["res.partner"].create(
            [
                {
                    "name": "Léa",
                    "mobile": "+33 6 11 22 33 44",
                    "lang": "fr_FR",
                    "country_id": cls.env.ref("base.fr").id,
                },
                {"name": "Ann", "mobile": "+1 202-555-0143", "lang": "en_US", "country_id": cls.env.ref("base.us").id},
            ]
        )

    def test_optout_line_in_the_recipient_language_and_counted(self):
        french = self.env["sms.marketing.mailing"].with_context(lang="fr_FR")._get_optout_suffix_text("URL")
        english = self.env["sms.marketing.mailing"].with_context(lang="en_US")._get_optout_suffix_text("URL")
        self.assertNotEqual(french, english, "fr.po translates the opt-out line")
        # a text that fits one part with the English line and needs two with the French one
        base = self.env["sms.marketing.mailing"].get_base_url().rstrip("/")
        suffix_en = len(english) - len("URL") + len(base + links.OPTOUT_PATH) + links.OPTOUT_TOKEN_LENGTH
        body = "x" * (160 - suffix_en)
        mailing = self._make_mailing(
            body=body,
            list_ids=[],
            recipient_model_id=self.env["ir.model"]._get_id("res.partner"),
            domain=f"[('id', 'in', {self.partners.ids})]",
            include_optout=True,
        )
        self.assertEqual((mailing.sms_segments_min, mailing.sms_segments_max), (1, 2))
        estimate = mailing.estimated_credits
        mailing.with_user(self.user_marketing).action_send_now()
        self._run_cron()
        by_partner = {trace.res_id: trace for trace in mailing.trace_ids}
        self.assertIn(french.strip().split(":")[0], by_partner[self.partners[0].id].body)
        self.assertIn(english.strip().split(":")[0], by_partner[self.partners[1].id].body)
        self.assertEqual(by_partner[self.partners[0].id].segments, 2)
        self.assertEqual(by_partner[self.partners[1].id].segments, 1)
        for trace in mailing.trace_ids:
            self.assertEqual(trace.segments, count_segments(trace.body).segments)
        self.assertAlmostEqual(sum(mailing.trace_ids.mapped("cost")), estimate, places=4)


@tagged("post_install", "-at_install")
class TestChatterLanguage(SmsEngineCase):
    """What the sending posts on a mailing is in its Responsible's language, not the cron's (English)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("it_IT")
        cls.env["ir.module.module"].search([("name", "=", "sms_marketing_custom")])._update_translations(["it_IT"])

    def test_sending_posts_in_the_responsibles_language(self):
        self.user_marketing.lang = "it_IT"
        self._make_contacts(2)
        mailing = self._make_mailing(user_id=self.user_marketing.id)
        mailing.with_user(self.user_marketing).action_send_now()
        self._run_cron()
        self.assertEqual(mailing.state, "done")
        bodies = [str(body) for body in mailing.message_ids.mapped("body")]
        english = [
            _source
            for _source in ("Sending started.", "The mailing has been sent.")
            if any(_source in body for body in bodies)
        ]
        self.assertFalse(english, f"posted in English to an Italian Responsible: {bodies}")
        self.assertTrue(any("Il mailing è stato inviato." in body for body in bodies), bodies)
