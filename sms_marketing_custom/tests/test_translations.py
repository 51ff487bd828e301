"""Translations: every term of the module in Italian, French, Spanish and German, and the opt-out
line of each SMS in the recipient's language (counted exactly)."""

import ast
import os
import re

import lxml.etree
import lxml.html
import polib
from psycopg2.extras import Json

from odoo.modules.module import get_module_path
from odoo.tests import Form, TransactionCase, tagged
from odoo.tools.translate import TranslationModuleReader

from ..tools import links
from ..tools.sms_encoding import count_segments
from .common import SmsEngineCase, load_migration

I18N = os.path.join(os.path.dirname(__file__), "..", "i18n")
LANGS = ("it", "fr", "es", "de")
PLACEHOLDER_RE = re.compile(r"%\([a-z_]+\)s|\{\{[^}]*\}\}")


class TranslationFilesMixin:
    """The .pot of ``MODULE`` up to date and its .po files complete in ``LANGS``, placeholders kept;
    each addon of this repository runs it on its own i18n/ (the bridges' tests too)."""

    MODULE = None

    def _i18n(self, name):
        return os.path.join(get_module_path(self.MODULE), "i18n", name)

    def test_template_is_up_to_date(self):
        """The .pot holds every term the code and views have today."""
        current = {row[4] for row in TranslationModuleReader(self.env.cr, modules=[self.MODULE])}
        template = {entry.msgid for entry in polib.pofile(self._i18n(f"{self.MODULE}.pot"))}
        self.assertEqual(current - template, set(), f"regenerate {self.MODULE}/i18n/{self.MODULE}.pot")

    def test_every_term_is_translated(self):
        template = [entry.msgid for entry in polib.pofile(self._i18n(f"{self.MODULE}.pot"))]
        for lang in LANGS:
            with self.subTest(lang=lang):
                path = self._i18n(f"{lang}.po")
                self.assertTrue(os.path.exists(path), f"missing {self.MODULE}/i18n/{lang}.po")
                translated = {entry.msgid: entry.msgstr for entry in polib.pofile(path) if entry.msgstr}
                missing = [msgid for msgid in template if msgid not in translated]
                self.assertEqual(missing, [], f"untranslated in {lang}.po")
                for msgid in template:
                    self.assertEqual(
                        sorted(PLACEHOLDER_RE.findall(msgid)),
                        sorted(PLACEHOLDER_RE.findall(translated[msgid])),
                        f"{lang}.po changes the placeholders of {msgid!r}",
                    )

    def test_figure_labels_read_under_a_count(self):
        """The figures' labels stand under a number (the KPIs, the dashboard's cards): nouns, not a singular
        participle ("12 Cliccato" in the Italian walk-through)."""
        expected = {"it": "Clic", "fr": "Clics", "es": "Clics", "de": "Klicks"}
        for lang, label in expected.items():
            with self.subTest(lang=lang):
                translated = {entry.msgid: entry.msgstr for entry in polib.pofile(os.path.join(I18N, f"{lang}.po"))}
                self.assertEqual(translated["Clicked"], label)


@tagged("post_install", "-at_install")
class TestTranslationFiles(TranslationFilesMixin, TransactionCase):
    MODULE = "sms_marketing_custom"


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

    def test_pause_reason_in_the_responsibles_language(self):
        # the engine (the cron's user, in English) pauses the mailing of an Italian Responsible: no credits left
        self.user_marketing.lang = "it_IT"
        self._make_contacts(2)
        empty = self.env["sms.marketing.gateway"].create(
            {"name": "Empty sandbox", "provider": "sandbox", "default_price": 1.0, "sequence": 500}
        )
        mailing = self._start(self._make_mailing(gateway=empty, user_id=self.user_marketing.id))
        self.env["sms.marketing.mailing"].with_context(lang="en_US")._cron_process_queue()
        self.env.invalidate_all()
        self.assertEqual((mailing.state, mailing.pause_code), ("paused", "insufficient_credit"))
        italian = "In pausa: il gateway Empty sandbox non ha più crediti sufficienti."
        self.assertIn(italian, mailing.pause_reason, "the reason the form shows")
        bodies = [str(body) for body in mailing.message_ids.mapped("body")]
        self.assertTrue(any(italian in body for body in bodies), f"the reason on the chatter: {bodies}")

    def test_a_reply_is_announced_in_its_users_language(self):
        # the provider's webhook request carries no language (English): the activity is read by an Italian user
        self.user_manager.lang = "it_IT"
        self.env.company.sms_marketing_conversation_user_ids = self.user_manager
        conversation = self.env["sms.marketing.conversation"].create(
            {"number": "+32470111333", "company_id": self.env.company.id}
        )
        conversation.with_context(lang="en_US")._notify_new_reply()
        activity = self.env["mail.activity"].search(
            [("res_model", "=", conversation._name), ("res_id", "=", conversation.id)]
        )
        self.assertEqual(activity.user_id, self.user_manager)
        self.assertEqual(activity.summary, "Nuova risposta SMS da +32470111333")

    def test_a_replys_note_is_titled_in_its_readers_language(self):
        # the note on the matched records is written once: the answered mailing's Responsible's language,
        # else the company's, never the webhook request's (English here)
        self.user_marketing.lang = "it_IT"
        mailing = self._make_mailing(user_id=self.user_marketing.id)
        Conversation = self.env["sms.marketing.conversation"].with_context(lang="en_US")
        conversation = Conversation.create({"number": "+32470111334", "company_id": self.env.company.id})
        self.assertEqual(conversation._get_note_subject(mailing), "Risposta SMS")
        no_mailing = self.env["sms.marketing.mailing"]
        self.env.company.partner_id.lang = "it_IT"
        self.assertEqual(conversation._get_note_subject(no_mailing), "Risposta SMS", "the company's language")
        self.env.company.partner_id.lang = "en_US"
        self.assertEqual(conversation._get_note_subject(no_mailing), "SMS reply")
        # a language no longer installed is nobody's: the company's next
        self.env.company.partner_id.lang = "it_IT"
        self.env.flush_all()
        self.env.cr.execute("UPDATE res_partner SET lang = 'xx_XX' WHERE id = %s", [self.user_marketing.partner_id.id])
        self.assertEqual(conversation._get_note_subject(mailing), "Risposta SMS")

    def test_an_upgrade_gives_renamed_labels_their_new_translations(self):
        """Odoo's upgrade writes a renamed label's English and keeps the former label's translations;
        17.0.1.7.0's scripts drop those of the labels whose English changed, and the .po fills them."""
        cr, Fields = self.env.cr, self.env["ir.model.fields"]
        renamed = Fields._get("sms.marketing.contact", "phone_country_code")
        unchanged = Fields._get("sms.marketing.contact", "phone_sanitized")
        choice = self.env["ir.model.fields.selection"].search(
            [
                ("field_id", "=", Fields._get("sms.marketing.journey.participant", "exit_reason").id),
                ("value", "=", "opted_out"),
            ]
        )
        # a 17.0.1.6.0 database: the former labels with their translations, and an administrator's own wording
        cr.execute(
            "UPDATE ir_model_fields SET field_description = %s WHERE id = %s",
            [Json({"en_US": "Number Country", "it_IT": "Paese del numero"}), renamed.id],
        )
        cr.execute(
            "UPDATE ir_model_fields SET field_description = field_description || %s WHERE id = %s",
            [Json({"it_IT": "Il mio numero"}), unchanged.id],
        )
        cr.execute(
            "UPDATE ir_model_fields_selection SET name = %s WHERE id = %s",
            [Json({"en_US": "Opted Out", "it_IT": "Disiscritti"}), choice.id],
        )
        load_migration("17.0.1.7.0", "pre-migrate").migrate(cr, "17.0.1.6.0")
        # what the upgrade's reflection of the fields writes (ir.model's upsert_en): the English only
        cr.execute(
            "UPDATE ir_model_fields SET field_description = field_description || %s WHERE id = %s",
            [Json({"en_US": "Number Country Code"}), renamed.id],
        )
        cr.execute(
            "UPDATE ir_model_fields_selection SET name = name || %s WHERE id = %s",
            [Json({"en_US": "Opted out"}), choice.id],
        )
        load_migration("17.0.1.7.0", "post-migrate").migrate(cr, "17.0.1.6.0")
        self.env["ir.module.module"].search([("name", "=", "sms_marketing_custom")])._update_translations(["it_IT"])
        self.env.invalidate_all()
        self.assertEqual(renamed.with_context(lang="it_IT").field_description, "Codice del paese del numero")
        self.assertEqual(choice.with_context(lang="it_IT").name, "Disiscritto")
        self.assertEqual(unchanged.with_context(lang="it_IT").field_description, "Il mio numero", "not renamed: kept")

    def test_a_failure_without_text_reads_its_types_sentence(self):
        # a delivery report or an import may give the type alone: the Reason column was empty
        self._make_contacts(2)
        mailing = self._start(self._make_mailing())
        self._run_cron()
        trace, other = mailing.trace_ids[:2]
        trace.write({"state": "failed", "failure_type": "undelivered", "failure_reason": False})
        other.write({"state": "failed", "failure_type": "rejected", "failure_reason": "Carrier blocked: spam filter"})
        italian = self.env["sms.marketing.trace"].with_context(lang="it_IT").browse([trace.id, other.id])
        self.assertEqual(italian[0].failure_message, "L'operatore non ha potuto consegnare il messaggio.")
        self.assertEqual(italian[1].failure_message, "Carrier blocked: spam filter", "a gateway's own text as it came")


class _Rollback(Exception):
    """Ends a language's run: what it created is rolled back, the next language starts from the same data."""


@tagged("post_install", "-at_install")
class TestNoEnglishShown(SmsEngineCase):
    """What the app shows that its code writes (chatter lines of the sending, of a test SMS, of a pause;
    trace failure reasons; consent-log lines; the public pages of an unknown or invalid link; the names
    of the gateways it installs) is never the English text when the user's language is Italian, French,
    Spanish or German: each is an extracted term (``_()``, ``_lt``, selection label, QWeb, translatable
    field) with a translation in that language's .po.

    The same story runs once per language (rolled back after each): a text of the English run found
    as is in another language's run is English shown to that user (not extracted, or not translated).
    """

    # names the story gives its records: the same in every language, stripped before comparing
    NAMES = ("Summer sale", "Customers", "Simulator")
    # words written the same in these languages
    SAME_EVERYWHERE = {"SMS", "GSM", "Unicode"}
    SAME_IN = {"es_ES": {"Manual"}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        langs = [f"{lang}_{lang.upper()}" for lang in LANGS if lang != "es"] + ["es_ES"]
        for lang in langs:
            cls.env["res.lang"]._activate_lang(lang)
        modules = cls.env["ir.module.module"].search(
            [("name", "like", "sms_marketing_custom"), ("state", "=", "installed")]
        )
        modules._update_translations(langs)
        cls.langs = langs
        cls.sms_list.name = "Customers"
        cls.http_gateway.name = "Simulator"

    def _texts_of_html(self, html):
        """The text nodes of ``html``, without the SMS contents (``<code>``: the marketer's text)."""
        if not html:
            return []
        root = lxml.html.fromstring(f"<div>{html}</div>")
        for code in root.iter("code"):
            code.getparent().remove(code)
        return [text.strip() for text in root.itertext() if text.strip()]

    def _story(self, lang):
        """Every text the story shows a marketer whose language is ``lang``."""
        user = self.user_marketing
        user.lang = lang
        texts = []
        contacts = self._make_contacts(2)
        self.env["sms.marketing.contact"].create({"name": "Bad", "phone": "12ab", "list_ids": [(4, self.sms_list.id)]})
        self.env["sms.marketing.blacklist"]._add_numbers([contacts[1].phone_sanitized], "manual")
        # a mailing sent to the end: chatter lines, failure reasons
        mailing = self._make_mailing(subject="Summer sale", include_optout=True, user_id=user.id)
        # Odoo's own "created" line is written in its creator's language (mail's term): not ours
        mailing.message_ids.sudo().unlink()
        as_user = mailing.with_user(user).with_context(lang=lang)
        as_user.action_send_now()
        self._run_cron()
        # a test SMS, its chatter line and its cost
        wizard = Form(
            self.env["sms.marketing.mailing.test"]
            .with_user(user)
            .with_context(lang=lang, default_mailing_id=mailing.id)
        )
        wizard.numbers = "+32 470 12 34 66"
        wizard = wizard.save()
        texts.append(wizard.cost_estimate)
        wizard.action_send()
        # the opt-out page's choices in the consent log
        trace = mailing.trace_ids.filtered(lambda t: t.res_id == contacts[0].id)
        token = self.env["sms.marketing.trace"]._get_tokens([trace.id])[trace.id][1]
        Trace = self.env["sms.marketing.trace"].sudo()
        for choice in (None, "undo", "all"):
            Trace._route_optout(token, record=True, choice=choice)
        # a mailing paused: its gateway has no credits left
        self.sim.configure(balance=0.0)
        paused = self._make_mailing(self.http_gateway, subject="Summer sale", user_id=user.id)
        paused.message_ids.sudo().unlink()
        self.http_gateway.sudo()._change_balance(-self.http_gateway.balance, "spend", allow_partial=True)
        paused.sudo().write({"state": "sending"})
        self._run_cron()
        self.env.invalidate_all()
        # what the marketer reads
        as_user = self.env(user=user, context={"lang": lang})
        for record in (mailing, paused):
            for message in as_user["sms.marketing.mailing"].browse(record.id).message_ids:
                texts += self._texts_of_html(message.body)
            texts.append(as_user["sms.marketing.mailing"].browse(record.id).pause_reason or "")
        for trace in as_user["sms.marketing.trace"].browse(mailing.trace_ids.ids):
            texts.append(trace.failure_message or "")
        Consent = as_user["sms.marketing.consent"].sudo()
        for event in Consent.search([("mailing_id", "=", mailing.id)]):
            texts.append(event.evidence or "")
        sources = dict(Consent._fields["source"]._description_selection(as_user))
        texts += list(sources.values())
        for template in ("sms_marketing_custom.link_not_found", "sms_marketing_custom.optout_invalid"):
            # the page's own texts (its layout needs a request): the view's arch in that language
            arch = as_user.ref(template).sudo().arch
            texts += [text.strip() for text in lxml.etree.fromstring(arch).itertext() if text.strip()]
        gateways = as_user["sms.marketing.gateway"].sudo().search([]).filtered(lambda g: g.get_external_id()[g.id])
        texts += gateways.mapped("name")
        return [text for text in texts if text]

    def _run_story(self, lang):
        try:
            with self.env.cr.savepoint():
                raise _Rollback(self._story(lang))
        except _Rollback as rollback:
            self.env.invalidate_all()
            return rollback.args[0]

    def _is_words(self, text):
        for name in self.NAMES:
            text = text.replace(name, "")
        words = set(re.findall(r"[^\W\d_]{3,}", text)) - self.SAME_EVERYWHERE
        return bool(words)

    def test_no_english_text_in_another_language(self):
        self.maxDiff = None
        english = {text for text in self._run_story("en_US") if self._is_words(text)}
        self.assertGreater(len(english), 20, "the story shows texts")
        shown_in_english = {}
        for lang in self.langs:
            with self.subTest(lang=lang):
                shown = set(self._run_story(lang))
                shown_in_english[lang] = sorted((english & shown) - self.SAME_IN.get(lang, set()))
        self.assertEqual(
            {lang: texts for lang, texts in shown_in_english.items() if texts},
            {},
            "English texts shown to users of these languages: wrap them for the extractor (_(), _lt, "
            "selection label, QWeb, translate=True), regenerate the .pot and translate them",
        )


@tagged("post_install", "-at_install")
class TestCounterTermsTranslated(TransactionCase):
    """The counter beneath the SMS content is JavaScript and QWeb: its terms are extracted and translated."""

    def test_counter_terms_extracted_and_translated(self):
        rows = TranslationModuleReader(self.env.cr, modules=["sms_marketing_custom"])
        terms = {row[4] for row in rows if "sms_body_field" in row[2]}
        self.assertTrue({"SMS part", "SMS parts", "characters"} & terms or terms, "the counter's terms are extracted")
        for lang in LANGS:
            with self.subTest(lang=lang):
                translated = {e.msgid for e in polib.pofile(os.path.join(I18N, f"{lang}.po")) if e.msgstr}
                self.assertEqual(sorted(terms - translated), [], f"counter terms untranslated in {lang}.po")


@tagged("post_install", "-at_install")
class TestExtractableCalls(TransactionCase):
    """Odoo's extractor reads the string tokens of each ``_()``/``_lt()`` call: a formatted argument
    inside one (f-string, ``.format``, ``%``) or a source that is not a literal stops it from reading
    the whole file, silently."""

    def test_translation_calls_are_extractable(self):
        addons = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        paths = [
            os.path.join(dirpath, name)
            for addon in sorted(os.listdir(addons))
            if addon.startswith("sms_marketing_custom")
            for dirpath, _dirs, files in os.walk(os.path.join(addons, addon))
            if f"{os.sep}tests" not in dirpath
            for name in files
            if name.endswith(".py")
        ]
        self.assertGreater(len(paths), 20)
        bad = []
        for path in paths:
            with open(path, encoding="utf-8") as file:
                tree = ast.parse(file.read())
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("_", "_lt")):
                    continue
                if not node.args or not isinstance(node.args[0], ast.Constant):
                    bad.append(f"{path}:{node.lineno}: the source is not a literal")
                for argument in [*node.args[1:], *(keyword.value for keyword in node.keywords)]:
                    for inner in ast.walk(argument):
                        if (
                            isinstance(inner, ast.JoinedStr)
                            or (isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Mod))
                            or (isinstance(inner, ast.Call) and getattr(inner.func, "attr", None) == "format")
                        ):
                            bad.append(f"{path}:{node.lineno}: a formatted argument (format it before the call)")
        self.assertEqual(bad, [])
