import re

from odoo.addons.sms_marketing_custom_website.models.website_sms_signup import IP_LIMIT_PARAM, NUMBER_LIMIT_PARAM
from odoo.tests import HttpCase, tagged

from .common import WebsiteSignupCase

NUMBER = "+32471554433"


@tagged("post_install", "-at_install")
class TestSignupRoutes(HttpCase, WebsiteSignupCase):
    """The public sign-up route as an attacker sees it: no oracle, no flood, no oversized body."""

    def _form(self, list_id=None):
        response = self.url_open(f"/sms_marketing/signup/form?list_id={list_id or self.sms_list.id}")
        self.assertEqual(response.status_code, 200)
        return re.search(r'name="csrf_token" value="([^"]+)"', response.text).group(1)

    def _post(self, phone=NUMBER, token=None, **extra):
        data = {
            "csrf_token": token if token is not None else self._form(),
            "list_id": self.sms_list.id,
            "country_id": self.belgium.id,
            "phone": phone,
            "consent": "1",
            "page_url": "http://127.0.0.1/sms-offers",
            **extra,
        }
        response = self.url_open("/sms_marketing/signup", data=data, allow_redirects=False)
        self.env.invalidate_all()
        return response

    def _answer(self, response):
        """The visible answer, without what differs from one request to another (tokens)."""
        return re.sub(r"\s+", " ", re.search(r'o_sms_marketing_signup_answer">(.*?)</div>', response.text, re.S)[1])

    def _signups(self):
        return self.Signup.search([("list_id", "=", self.sms_list.id)])

    def test_double_opt_in_and_consent_evidence(self):
        done = self._post("0471 55 44 33")
        self.assertEqual(done.status_code, 200)
        self.assertIn("Check your phone", self._answer(done))
        signup = self._signups()
        self.assertEqual((signup.number, signup.state, signup.ip), (NUMBER, "queued", "127.0.0.1"))
        self.Signup._cron_send_confirmations()
        self.assertEqual(signup.state, "sent")
        request = signup.join_request_id
        self.assertEqual((request.number, request.list_id, request.state), (NUMBER, self.sms_list, "pending"))
        self.assertIn("Yes, send me VIP offers by SMS.", request.evidence)
        self.assertFalse(self.env["sms.marketing.subscription"].search([("list_id", "=", self.sms_list.id)]))
        # the YES from the phone, through the inbound keywords as for JOIN
        Blacklist = self.env["sms.marketing.blacklist"].with_context(sms_marketing_gateway_id=self.gateway.id)
        [result] = Blacklist._apply_inbound_keywords([{"number": NUMBER, "content": "YES"}])
        self.assertEqual(result["action"], "yes")
        subscription = self.env["sms.marketing.subscription"].search([("list_id", "=", self.sms_list.id)])
        self.assertEqual((subscription.contact_id.phone_sanitized, subscription.opt_out), (NUMBER, False))
        events = self.env["sms.marketing.consent"].search([("number", "=", NUMBER), ("list_id", "=", self.sms_list.id)])
        self.assertEqual(sorted(events.mapped("source")), ["form", "keyword"])
        form = events.filtered(lambda event: event.source == "form")
        self.assertEqual(form.event, "opt_in")
        submitted = str(signup.create_date.replace(microsecond=0))
        for evidence in (
            "http://127.0.0.1/sms-offers",
            "127.0.0.1",
            submitted,
            "Yes, send me VIP offers by SMS.",
            "YES",
        ):
            self.assertIn(evidence, form.evidence)

    def test_csrf_required(self):
        self.assertEqual(self._post(token="").status_code, 400)
        self.assertEqual(self._post(token="0" * 40 + "o1234567890").status_code, 400)
        self.assertFalse(self._signups())

    def test_honeypot_same_answer_nothing_done(self):
        real = self._answer(self._post("0470 00 00 01"))
        robot = self._post(website_url="http://spam.example.com")
        self.assertEqual((robot.status_code, self._answer(robot)), (200, real))
        self.assertEqual(self._signups().mapped("number"), ["+32470000001"])

    def test_flood_from_one_ip(self):
        self.env["ir.config_parameter"].sudo().set_param(IP_LIMIT_PARAM, "3")
        statuses = [self._post(f"0470 00 00 1{index}").status_code for index in range(5)]
        self.assertEqual(statuses, [200, 200, 200, 429, 429])
        self.assertEqual(len(self._signups()), 3, "refused attempts are not stored either")

    def test_flood_for_one_number(self):
        self.env["ir.config_parameter"].sudo().set_param(NUMBER_LIMIT_PARAM, "2")
        answers = [self._post() for _index in range(4)]
        self.assertEqual(
            {(answer.status_code, self._answer(answer)) for answer in answers}, {(200, self._answer(answers[0]))}
        )
        self.assertEqual(sorted(self._signups().mapped("state")), ["limited", "limited", "queued", "queued"])
        self.Signup._cron_send_confirmations()
        self.assertEqual(len(self.env["sms.marketing.join.request"].search([("number", "=", NUMBER)])), 2)

    def test_subscribed_or_blacklisted_same_answer_no_sms(self):
        fresh = self._answer(self._post("0470 00 00 02"))
        contact = self.env["sms.marketing.contact"].create(
            {"name": "Known", "phone": NUMBER, "list_ids": [(4, self.sms_list.id)]}
        )
        self.assertTrue(contact.phone_sanitized)
        self.env["sms.marketing.blacklist"]._add_numbers(["+32470000003"])
        subscribed = self._post()
        blacklisted = self._post("0470 00 00 03")
        self.assertEqual({self._answer(subscribed), self._answer(blacklisted)}, {fresh})
        self.Signup._cron_send_confirmations()
        states = {signup.number: signup.state for signup in self._signups()}
        self.assertEqual(states, {"+32470000002": "sent", NUMBER: "subscribed", "+32470000003": "blacklisted"})
        self.assertFalse(self.env["sms.marketing.join.request"].search([("number", "in", [NUMBER, "+32470000003"])]))

    def test_oversized_body_and_bad_input(self):
        self.assertEqual(self._post(padding="x" * 8000).status_code, 413)
        self.assertFalse(self._signups())
        invalid = self._post("12")
        self.assertEqual(invalid.status_code, 400)
        self.assertIn("cannot receive SMS", invalid.text)
        self.assertEqual(self._signups().mapped("state"), ["invalid"])
        # a list not offered on the website cannot be joined, nor its form read
        self.assertEqual(self._post(list_id=self.hidden_list.id).status_code, 404)
        self.assertEqual(self.url_open(f"/sms_marketing/signup/form?list_id={self.hidden_list.id}").status_code, 404)
        self.assertEqual(len(self.Signup.search([])), 1)
