"""Inbound keywords through the signed webhook: every keyword in every language, answers and their charge."""

import json

from odoo.exceptions import ValidationError
from odoo.tests import Form, HttpCase, tagged

from ..tools import links
from .common import load_gateway_simulator

SECRET = "kw-s3cret"


@tagged("post_install", "-at_install")
class TestInboundKeywords(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.simulator = load_gateway_simulator()
        cls.company = cls.env.company
        cls.company.name = "Acme Shoes"
        cls.sandbox = cls.env["sms.marketing.gateway"].create(
            {"name": "Keyword sandbox", "provider": "sandbox", "webhook_secret": SECRET, "default_price": 1.0}
        )
        cls.sandbox._change_balance(1000.0, "purchase")
        cls.vip = cls.env["sms.marketing.list"].create({"name": "VIP club", "keyword": "vip"})
        cls.numbers = (f"+3247{i:07d}" for i in range(1000000, 2000000))

    def _inbound(self, gateway, messages, secret=SECRET):
        body = json.dumps({"messages": messages}).encode()
        headers = self.simulator.signed_headers(secret, body)
        response = self.url_open(f"/sms_marketing/inbound/{gateway.id}", data=body, headers=headers)
        self.env.invalidate_all()
        self.assertEqual(response.status_code, 200)
        return response.json()["results"]

    def _send(self, number, content, gateway=None):
        return self._inbound(gateway or self.sandbox, [{"number": number, "content": content}])[0]["action"]

    def _answers(self):
        """Answers sent so far through the sandbox, once the queued ones left."""
        self.env["sms.marketing.reply"]._cron_send()
        return self.env["sms.marketing.reply"].search_count(
            [("gateway_id", "=", self.sandbox.id), ("state", "=", "sent")]
        )

    def _last_event(self, number):
        return self.env["sms.marketing.consent"].search([("number", "=", number)], order="id desc", limit=1)

    def test_every_keyword_in_every_language(self):
        Blacklist = self.env["sms.marketing.blacklist"]
        balance = self.sandbox.balance
        answers = 0
        for action, keywords in (
            ("optout", links.OPTOUT_KEYWORDS),
            ("optin", links.OPTIN_KEYWORDS),
            ("help", links.HELP_KEYWORDS),
        ):
            for keyword in sorted(keywords):
                with self.subTest(action=action, keyword=keyword):
                    number = next(self.numbers)
                    content = f" {keyword.lower()} !"
                    self.assertEqual(self._send(number, content), action)
                    answers += 1
                    self.assertEqual(self._answers(), answers, "one answer, charged through the gateway")
                    event = self._last_event(number)
                    if action == "help":
                        self.assertFalse(event, "HELP changes no consent")
                    else:
                        self.assertEqual((event.event, event.source), (action.replace("opt", "opt_"), "keyword"))
                        self.assertEqual((event.evidence, event.gateway_id), (content, self.sandbox))
                        self.assertEqual(bool(Blacklist.search([("number", "=", number)])), action == "optout")
        for join, yes in zip(sorted(links.JOIN_KEYWORDS), sorted(links.YES_KEYWORDS) * 2, strict=False):
            with self.subTest(join=join, yes=yes):
                number = next(self.numbers)
                self.assertEqual(self._send(number, f"{join.capitalize()} Vip"), "join")
                self.assertFalse(self.vip.contact_ids.filtered(lambda c, n=number: c.phone_sanitized == n))
                self.assertEqual(self._send(number, f"{yes.lower()}."), "yes")
                contact = self.vip.contact_ids.filtered(lambda c, n=number: c.phone_sanitized == n)
                self.assertEqual(len(contact), 1, "subscribed after the YES")
                event = self._last_event(number)
                self.assertEqual((event.event, event.source, event.list_id), ("opt_in", "keyword", self.vip))
                self.assertIn(yes.lower(), event.evidence)
                answers += 2
        self.assertEqual(self._answers(), answers)
        self.assertAlmostEqual(self.sandbox.balance, balance - answers, msg="each answer costs one one-part SMS")

    def test_stop_answers_once(self):
        number = next(self.numbers)
        self.assertEqual(self._send(number, "STOP"), "optout")
        self.assertEqual(self._send(number, "Stop"), "optout")
        self.assertEqual(self._answers(), 1, "the second STOP is not answered")
        self.assertEqual(self._send(number, "START"), "optin")
        self.assertEqual(self._answers(), 2)

    def test_ignored_messages_cost_nothing(self):
        number = next(self.numbers)
        for content in ("hello", "JOIN NOSUCHLIST", "YES", "stop please"):
            self.assertEqual(self._send(number, content), "ignored", content)
        self.assertEqual(self._answers(), 0)
        self.assertFalse(self.env["sms.marketing.consent"].search([("number", "=", number)]))

    def test_answers_text_through_the_gateway_that_received(self):
        sim = self.simulator.Simulator(delivery=None).start()
        self.addCleanup(sim.stop)
        gateway = self.env["sms.marketing.gateway"].create(
            {
                "name": "Simulator",
                "provider": "http",
                "endpoint_url": sim.url,
                "allow_private_network": True,  # the stand-in listens on 127.0.0.1
                "api_key": sim.api_key,
                "webhook_secret": SECRET,
                "sequence": 200,
            }
        )
        gateway._change_balance(100.0, "purchase")
        self.company.sms_marketing_reply_stop = "{company}: bye. Text {stop} again? No need."
        number = next(self.numbers)
        self._send(number, "help", gateway)
        self._send(number, "stop", gateway)
        self._send(number, "join vip", gateway)
        self._send(number, "yes", gateway)
        self.assertFalse(sim.state()["sent"], "no provider call inside the webhook")
        self.env["sms.marketing.reply"]._cron_send()
        contents = [message["content"] for message in sim.state()["sent"]]
        self.assertEqual(
            contents,
            [
                "Acme Shoes SMS alerts. Reply STOP to stop receiving them.",
                "Acme Shoes: bye. Text STOP again? No need.",
                "Acme Shoes: reply YES to join VIP club. Reply STOP to stop.",
                "Acme Shoes: you joined VIP club. Reply STOP to stop.",
            ],
        )
        self.assertEqual({message["number"] for message in sim.state()["sent"]}, {number})
        self.assertFalse(self.env["sms.marketing.blacklist"].search([("number", "=", number)]), "YES is consent again")
        self.assertEqual(self._answers(), 0, "nothing went through the sandbox")

    def test_company_keywords(self):
        self.company.sms_marketing_keywords_optout = "Basta, ENOUGH"
        number = next(self.numbers)
        self.assertEqual(self._send(number, "stop"), "ignored", "the company's list replaces the built-in one")
        self.assertEqual(self._send(number, "Enough!"), "optout")

    def test_answers_name_the_company_keywords(self):
        """A company that replaced STOP, START and YES: the built-in answers name its words, which work, not
        the English ones it removed; the settings show those answers while the keywords are being typed."""
        self.company.write(
            {
                "sms_marketing_keywords_optout": "Basta",
                "sms_marketing_keywords_optin": "Avvia, riprendi",
                "sms_marketing_keywords_yes": "Certo",
            }
        )
        company = self.company.with_context(lang="en_US")
        self.assertEqual(
            company._get_sms_marketing_reply("stop", "en_US"),
            "Acme Shoes: you will receive no more SMS from us. Reply AVVIA to undo.",
        )
        self.assertEqual(
            company._get_sms_marketing_reply("join", "en_US", list_name="VIP club"),
            "Acme Shoes: reply CERTO to join VIP club. Reply BASTA to stop.",
        )
        self.company.sms_marketing_reply_start = "{company}: welcome back ({stop} to leave, {yes}, {start})."
        self.assertEqual(
            company._get_sms_marketing_reply("start", "en_US"),
            "Acme Shoes: welcome back (BASTA to leave, CERTO, AVVIA).",
        )
        self.assertEqual(company._get_sms_marketing_answer_words("it_IT")["yes"], "CERTO", "the company's own word")
        number = next(self.numbers)
        self.assertEqual(self._send(number, "basta"), "optout")
        self.assertEqual(self._send(number, "avvia"), "optin", "the word the STOP answer names undoes it")

        settings = Form(self.env["res.config.settings"].with_context(lang="en_US"))
        self.assertEqual(
            settings.sms_marketing_reply_stop_builtin,
            "Empty: Acme Shoes: you will receive no more SMS from us. Reply AVVIA to undo.",
        )
        settings.sms_marketing_keywords_optin = ""  # cleared: the built-in list, START among it
        settings.sms_marketing_keywords_optout = "Fine, STOP"
        self.assertEqual(
            settings.sms_marketing_reply_stop_builtin,
            "Empty: Acme Shoes: you will receive no more SMS from us. Reply START to undo.",
        )
        self.assertEqual(
            settings.sms_marketing_reply_join_builtin,
            "Empty: Acme Shoes: reply CERTO to join {list}. Reply STOP to stop.",
        )

    def test_answers_ask_for_the_yes_of_their_language(self):
        """With the built-in keywords, an answer in French asks for OUI, in Italian for SI, in English for
        YES; a company that kept only YES gets YES in every language."""
        words = self.company._get_sms_marketing_answer_words
        self.assertEqual([words(lang)["yes"] for lang in ("fr_FR", "it_IT", "de_DE", "en_US", False)],
                         ["OUI", "SI", "JA", "YES", "YES"])  # fmt: skip
        self.assertEqual(words("fr_FR")["stop"], "STOP")
        self.company.sms_marketing_keywords_yes = "yes, y"
        self.assertEqual(words("fr_FR")["yes"], "YES")

    def test_list_keyword_unique_per_company(self):
        Lists = self.env["sms.marketing.list"]
        self.assertEqual(self.vip.keyword, "VIP")
        with self.assertRaisesRegex(ValidationError, "already has the keyword VIP"):
            Lists.create({"name": "Other", "keyword": "Vip"})
        other_company = self.env["res.company"].create({"name": "Other shoes"})
        self.assertTrue(Lists.create({"name": "Other", "keyword": "VIP", "company_id": other_company.id}))
        with self.assertRaisesRegex(ValidationError, "letters and digits"):
            Lists.create({"name": "Bad", "keyword": "v.i.p/"})
