"""The opt-out page's choices: undo, the person's other lists, stop all; each in the consent log."""

import re

from odoo.tests import Form, HttpCase, tagged

from ..tools import links
from .common import SmsEngineCase, SmsOptoutPageCase

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


@tagged("post_install", "-at_install")
class TestOptoutPage(SmsOptoutPageCase):
    def _open(self, data=None, user_agent=BROWSER):
        """A person's tap (data None): the GET, then the confirm POST its script makes; else a POST of ``data``."""
        if data is None:
            page = self._request(None, user_agent)
            if "I unsubscribed by mistake" in page:  # already done: no form to submit
                return page
            self.assertIn('document.getElementById("o_sms_optout_confirm").submit()', page)
            data = {"confirm": "1"}  # what the form posts (a button without name: any field, url_open posts)
        return self._request(data, user_agent)

    def _request(self, data, user_agent):
        if data is None:
            response = self.url_open(self.path, headers={"User-Agent": user_agent})
            self.env.invalidate_all()
        else:
            response = self._post_route(self.path, data, user_agent=user_agent)
        self.assertEqual(response.status_code, 200)
        return response.text

    def _opted_out_lists(self):
        subscriptions = self.env["sms.marketing.subscription"].search([("contact_id", "=", self.contacts[0].id)])
        return subscriptions.filtered("opt_out").list_id

    def _events(self):
        events = self.env["sms.marketing.consent"].search(
            [("contact_id", "=", self.contacts[0].id), ("id", ">", self.first_event)], order="id"
        )
        return [(event.event, event.list_id.name, event.source) for event in events]

    def test_undo_and_choice_of_lists_land_in_the_log(self):
        page = self._open()
        self.assertIn("/web/binary/company_logo?company=", page)
        self.assertIn(self.env.company.name, page)
        self.assertEqual(self._opted_out_lists(), self.list_news | self.list_promo)
        self.assertIn("I unsubscribed by mistake", page)

        page = self._open({"choice": "undo"})
        self.assertIn("You are subscribed again", page)
        self.assertIn("o_sms_optout_again", page, "a second change of mind is one tap too")
        self.assertFalse(self._opted_out_lists())
        self.assertFalse(self.trace.optout_at, "the mailing's opt-out count forgets it")

        self._open()  # one tap again
        # keep nothing of the other lists: Partners is left too
        self._open({"choice": "lists"})
        self.assertEqual(self._opted_out_lists(), self.list_news | self.list_promo | self.list_other)
        self._open({"choice": "lists", "keep_list_ids": str(self.list_other.id)})
        self.assertEqual(self._opted_out_lists(), self.list_news | self.list_promo)
        self.assertEqual(
            self._events(),
            [
                ("opt_out", "Newsletter", "optout_link"),
                ("opt_out", "Promotions", "optout_link"),
                ("opt_in", "Newsletter", "optout_link"),
                ("opt_in", "Promotions", "optout_link"),
                ("opt_out", "Newsletter", "optout_link"),
                ("opt_out", "Promotions", "optout_link"),
                ("opt_out", "Partners", "optout_link"),
                ("opt_in", "Partners", "optout_link"),
            ],
        )
        self.assertEqual(self.env["sms.marketing.consent"].search([], limit=1).mailing_id, self.mailing)

    def test_choices_cannot_reach_other_people_lists(self):
        self._open()
        foreign = self.env["sms.marketing.list"].create({"name": "Someone else's"})
        self.env["sms.marketing.subscription"].create(
            {"contact_id": self.contacts[1].id, "list_id": foreign.id, "opt_out": True}
        )
        self._open({"choice": "lists", "keep_list_ids": [str(foreign.id), str(self.list_other.id), "x"]})
        self.assertTrue(self.env["sms.marketing.subscription"].search([("list_id", "=", foreign.id)]).opt_out)

    def test_stop_all_and_bots(self):
        page = self._request(None, "WhatsApp/2.23")
        self.assertIn("Confirm", page)
        self.assertNotIn(".submit()", page, "a link preview gets no script")
        self.assertNotIn("I unsubscribed by mistake", page)
        self.assertFalse(self._opted_out_lists(), "a link preview changes nothing")
        self.assertFalse(self._events())
        self._open()
        self._open({"choice": "all"})
        entry = self.env["sms.marketing.blacklist"].search([("number", "=", self.trace.number)])
        self.assertEqual(entry.source, "optout_link")
        event = self.env["sms.marketing.consent"].search([("number", "=", self.trace.number), ("list_id", "=", False)])
        self.assertEqual((event.event, event.mailing_id), ("opt_out", self.mailing))
        self._open({"choice": "undo"})
        self.assertFalse(self.env["sms.marketing.blacklist"].search([("number", "=", self.trace.number)]))

    def test_page_in_the_recipient_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        partner = self.env["res.partner"].create({"name": "Zoé", "mobile": "+33612345678", "lang": "fr_FR"})
        trace = self.trace_model
        trace.res_id = partner.id
        token = self.env["sms.marketing.trace"]._get_tokens([trace.id])[trace.id][1]
        response = self.url_open(f"{links.OPTOUT_PATH}{token}", headers={"User-Agent": BROWSER})
        self.assertTrue(re.search(r'<html lang="fr-FR"', response.text))
        self.assertIn('<html lang="en-US"', self._request(None, BROWSER), "a contact has no language: the company's")


@tagged("post_install", "-at_install")
class TestTestSmsOptoutPreview(SmsEngineCase, HttpCase):
    """The opt-out link of a test SMS opens the page the recipients will see, as a preview that records
    nothing (it used to open "Invalid link")."""

    def test_test_sms_optout_link_opens_a_preview_that_records_nothing(self):
        contacts = self._make_contacts(2)
        mailing = self._make_mailing(include_optout=True).with_user(self.user_marketing)
        wizard = Form(
            self.env["sms.marketing.mailing.test"]
            .with_user(self.user_marketing)
            .with_context(default_mailing_id=mailing.id)
        )
        wizard.numbers = "+32 470 12 34 66"
        wizard = wizard.save()
        wizard.action_send()
        token = re.search(rf"{links.OPTOUT_PATH}([0-9A-Za-z]+)", str(wizard.result_html)).group(1)
        self.assertEqual(len(token), links.OPTOUT_TOKEN_LENGTH, "the link of a test SMS has the sent length")
        self.env.flush_all()
        before = (
            self.env["sms.marketing.consent"].search_count([]),
            self.env["sms.marketing.blacklist"].search_count([]),
            sorted(self.env["sms.marketing.subscription"].search([]).mapped("opt_out")),
        )
        path = f"{links.OPTOUT_PATH}{token}"
        page = self.url_open(path, headers={"User-Agent": BROWSER})
        self.assertEqual(page.status_code, 200, "a tester sees the opt-out page, not 'Invalid link'")
        self.assertIn("o_sms_optout_preview", page.text)
        self.assertIn(self.sms_list.name, page.text, "the lists the recipients would leave")
        self.assertIn('document.getElementById("o_sms_optout_confirm").submit()', page.text, "the same one tap")
        for data in ({"confirm": "1"}, {"choice": "undo"}, {"choice": "all"}):
            page = self.url_open(path, data=data, headers={"User-Agent": BROWSER})
            self.assertEqual(page.status_code, 200)
            self.assertIn("o_sms_optout_preview", page.text)
        done = self.url_open(path, data={"confirm": "1"}, headers={"User-Agent": BROWSER}).text
        self.assertIn("You are unsubscribed", done)
        self.env.invalidate_all()
        after = (
            self.env["sms.marketing.consent"].search_count([]),
            self.env["sms.marketing.blacklist"].search_count([]),
            sorted(self.env["sms.marketing.subscription"].search([]).mapped("opt_out")),
        )
        self.assertEqual(after, before, "a preview records nothing")
        self.assertFalse(any(contacts.mapped("blacklisted")))
        # a token of another mailing's test, or a trace's token of another scope, is not a preview
        other = self._make_mailing()
        # the last character changed, whatever it is (a fixed "x" was the token itself when it ended in "x")
        tampered = token[:-1] + ("y" if token.endswith("x") else "x")
        self.assertFalse(self.env["sms.marketing.trace"]._get_mailing_from_test_optout_token(tampered))
        self.assertEqual(
            self.env["sms.marketing.trace"]._get_mailing_from_test_optout_token(
                self.env["sms.marketing.trace"]._get_test_optout_token(other.id)
            ),
            other,
        )
