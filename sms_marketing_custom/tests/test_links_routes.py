import json
import re
from unittest.mock import patch

from odoo.tests import HttpCase, tagged

from ..controllers import links as links_controller
from ..tools import links
from .common import PHONE_BROWSER, SmsMarketingLinksCommon, load_gateway_simulator

CLICK = links.CLICK_PATH
LEGACY = links.LEGACY_CLICK_PATH
OPTOUT = links.OPTOUT_PATH


@tagged("post_install", "-at_install")
class TestLinkRoutes(HttpCase, SmsMarketingLinksCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_tracked_bodies()
        cls.Click = cls.env["sms.marketing.link.click"]
        cls.gateway = cls.env["sms.marketing.gateway"].create({"name": "Inbound", "webhook_secret": "s3cr3t"})

    def _opted_out_subscriptions(self):
        return self.env["sms.marketing.subscription"].search(
            [("contact_id", "in", self.contacts.ids), ("opt_out", "=", True)]
        )

    def _get(self, path, user_agent=PHONE_BROWSER, **kwargs):
        """GET ``path`` as ``user_agent``, following redirects that stay on this server (e.g. "//" merged)."""
        for _hop in range(3):
            response = self.url_open(path, headers={"User-Agent": user_agent}, allow_redirects=False, **kwargs)
            location = response.headers.get("Location", "")
            if response.status_code not in (301, 308) or not location.startswith(self.base_url()):
                break
            path = location[len(self.base_url()) :]
        self.env.invalidate_all()  # the server wrote in the same transaction
        return response

    # ------------------------------------------------------------------ clicks
    def test_click_attributed_to_trace(self):
        trace = self.traces[1]
        click_paths, _optout = self._links_of(trace)
        self.assertEqual(len(click_paths), 3)
        with patch.object(links_controller, "_country_code", return_value="BE"):
            response = self._get(click_paths[0])
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response.headers["Location"], "https://shop.example.com/sale?utm_source=sms&promo=SUMMER")
        click = self.Click.search([("trace_id", "=", trace.id)])
        self.assertEqual(len(click), 1)
        self.assertEqual(click.mailing_id, self.mailing)
        self.assertEqual(click.country_id.code, "BE")
        self.assertTrue(click.click_date)
        self.assertEqual(self.mailing.clicked_count, 1)

    def test_click_bots_not_counted(self):
        path = self._links_of(self.traces[0])[0][0]
        for user_agent in (
            "WhatsApp/2.23.20.0 A",
            "facebookexternalhit/1.1 Facebot Twitterbot/1.0",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "TelegramBot (like TwitterBot)",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "curl/8.4.0",
        ):
            response = self._get(path, user_agent=user_agent)
            self.assertEqual(response.status_code, 302, "previews still get the page")
        response = self.url_open(path, headers={"User-Agent": PHONE_BROWSER}, allow_redirects=False, head=True)
        self.env.invalidate_all()
        self.assertEqual(response.status_code, 302)
        self.assertFalse(self.Click.search_count([("mailing_id", "=", self.mailing.id)]))

    def test_click_forged_token_not_attributed(self):
        path = self._links_of(self.traces[0])[0][0]
        code, token = path.split("/")[2:4]
        other_mailing_trace = self.trace_model
        other_token = self.env["sms.marketing.trace"]._get_tokens(other_mailing_trace.ids)[other_mailing_trace.id][0]
        forged = links.encode_base62(self.traces[1].id, links.ID_LENGTH) + token[links.ID_LENGTH :]
        for bad_token in (forged, token[:-1], other_token, "x"):
            response = self._get(f"{CLICK}{code}/{bad_token}")
            self.assertEqual(response.status_code, 302)
            self.assertEqual(response.headers["Location"], "https://shop.example.com/sale?utm_source=sms&promo=SUMMER")
        clicks = self.Click.search([("link_id.code", "=", code)])
        self.assertEqual(len(clicks), 4, "the clicks count")
        self.assertFalse(clicks.trace_id, "but are tied to no one")

    def test_click_no_open_redirect(self):
        path = self._links_of(self.traces[0])[0][0]
        code, token = path.split("/")[2:4]
        target = "https://shop.example.com/sale?utm_source=sms&promo=SUMMER"
        for attempt in (
            f"{CLICK}{code}//evil.com",
            f"{CLICK}{code}/{token}/https://evil.com",
            f"{CLICK}{code}/{token}//evil.com/x",
            f"{CLICK}{code}%2F%2Fevil.com",
            f"{CLICK}{code}/{token}?url=https://evil.com&next=//evil.com&redirect=%2F%2Fevil.com",
            f"{CLICK}{code}?%0d%0aLocation:%20https://evil.com",
            f"{CLICK}{code}/..%2F..%2F..%2Fevil.com",
            f"{CLICK}{code}.",
            f"{CLICK}{code}/{token}.",
        ):
            response = self._get(attempt)
            self.assertEqual(response.status_code, 302, attempt)
            self.assertEqual(response.headers["Location"], target, attempt)
        # an empty path segment after the code matches no route: 404, never elsewhere
        response = self._get(f"{CLICK}{code}/%2F%2Fevil.com")
        self.assertEqual(response.status_code, 404)
        for unknown in (f"{CLICK}evil.com", f"{CLICK}AAAAAA", f"{CLICK}%2F%2Fevil.com", f"{CLICK}x", f"{CLICK}{code}A"):
            response = self._get(unknown)
            self.assertEqual(response.status_code, 404, unknown)
            self.assertNotIn("evil", response.headers.get("Location", ""))

    def test_click_legacy_path(self):
        """Links sent before the click path changed (always code and token) still redirect and count."""
        trace = self.traces[1]
        code, token = self._links_of(trace)[0][0].split("/")[2:4]
        target = "https://shop.example.com/sale?utm_source=sms&promo=SUMMER"
        response = self._get(f"{LEGACY}{code}/{token}")
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response.headers["Location"], target)
        click = self.Click.search([("trace_id", "=", trace.id)])
        self.assertEqual(len(click), 1, "attributed like a new link")
        for attempt in (f"{LEGACY}{code}/{token}/https://evil.com", f"{LEGACY}{code}/{token}//evil.com/x"):
            response = self._get(attempt)
            self.assertEqual(response.status_code, 302, attempt)
            self.assertEqual(response.headers["Location"], target, attempt)
        # the one-segment form belongs to Surveys' live sessions: not ours any more
        clicks = self.Click.search_count([])
        for other in (f"{LEGACY}{code}", f"{LEGACY}{code}/", f"{LEGACY}AAAAAA/{token}"):
            response = self._get(other)
            self.assertEqual(response.status_code, 404, other)
        self.assertEqual(self.Click.search_count([]), clicks)

    # ------------------------------------------------------------------ opt-out
    def test_optout_from_lists(self):
        trace = self.traces[0]
        _clicks, optout_path = self._links_of(trace)
        self.assertEqual(self._get(optout_path).status_code, 200)
        self.assertFalse(trace.optout_at, "the page's GET records nothing: its script posts")
        response = self._post_route(optout_path)
        self.assertEqual(response.status_code, 200)
        page = response.text
        self.assertIn("Newsletter", page)
        self.assertIn("Promotions", page)
        left = page.split('class="o_sms_optout_lists"')[1].split("</ul>")[0]
        self.assertNotIn("Partners", left, "the lists of other mailings are not left ...")
        self.assertRegex(
            page, r'value="\d+" id="keep_list_\d+" checked="True"/>\s*<label[^>]*>Partners<', "... but offered"
        )
        self.assertIn("+•••••••••78", page)
        self.assertNotIn("612345678", page, "the number is masked")
        subscriptions = self.env["sms.marketing.subscription"].search([("contact_id", "=", self.contacts[0].id)])
        self.assertEqual(
            subscriptions.filtered("opt_out").list_id, self.list_news | self.list_promo, "left the mailing's lists only"
        )
        others = self.env["sms.marketing.subscription"].search([("contact_id", "in", self.contacts[1:].ids)])
        self.assertFalse(others.filtered("opt_out"), "no one else is opted out")
        self.assertTrue(trace.optout_at)
        self.assertFalse(self.env["sms.marketing.blacklist"].search([("number", "=", trace.number)]))
        self.assertEqual(self.mailing.optout_count, 1)
        # again: same page, nothing new
        self.assertEqual(self._get(optout_path).status_code, 200)

    def test_optout_from_all(self):
        bodies = self.mailing_model._apply_tracking(self.trace_model, {self.trace_model.id: "News"})
        optout_path = re.search(re.escape(OPTOUT) + r"\w+", bodies[self.trace_model.id]).group(0)
        response = self._post_route(optout_path)
        self.assertEqual(response.status_code, 200)
        self.assertIn("any marketing SMS", response.text)
        entry = self.env["sms.marketing.blacklist"].search([("number", "=", self.trace_model.number)])
        self.assertEqual(entry.source, "optout_link")
        self.assertTrue(entry.active)
        self.assertFalse(self._opted_out_subscriptions())

    def test_optout_preview_needs_confirmation(self):
        trace = self.traces[2]
        _clicks, optout_path = self._links_of(trace)
        response = self._get(optout_path, user_agent="facebookexternalhit/1.1 Facebot Twitterbot/1.0")
        self.assertEqual(response.status_code, 200)
        self.assertIn("Confirm", response.text)
        self.url_open(optout_path, headers={"User-Agent": PHONE_BROWSER}, head=True)
        self.env.invalidate_all()
        self.assertFalse(trace.optout_at, "a link preview does not opt anyone out")
        response = self._post_route(optout_path, user_agent="WhatsApp/2")
        self.assertEqual(response.status_code, 200)
        self.assertIn("You are unsubscribed", response.text)
        self.assertTrue(trace.optout_at)

    def test_optout_forged_token(self):
        trace = self.traces[0]
        _clicks, optout_path = self._links_of(trace)
        token = optout_path[len(OPTOUT) :]
        forged = links.encode_base62(self.traces[1].id, links.ID_LENGTH) + token[links.ID_LENGTH :]
        click_token = self._links_of(trace)[0][0].split("/")[3]
        for bad in (forged, token[:-1], token[:-1] + ("a" if token[-1] != "a" else "b"), click_token, "0" * 16, "x"):
            response = self._get(f"{OPTOUT}{bad}")
            self.assertEqual(response.status_code, 404, bad)
            self.assertIn("This link is not valid", response.text)
            for secret in ("Newsletter", "•", "78", self.env.company.name):
                self.assertNotIn(secret, response.text.split("<main>")[-1], f"{bad} reveals {secret}")
            response = self._post_route(f"{OPTOUT}{bad}")
            self.assertEqual(response.status_code, 404)
        self.assertFalse(self.traces.filtered("optout_at"))
        self.assertFalse(self._opted_out_subscriptions())

    # ------------------------------------------------------------------ inbound keywords
    def _inbound(self, messages, secret="s3cr3t", signature=None):
        body = json.dumps({"messages": messages}).encode()
        headers = load_gateway_simulator().signed_headers(secret, body)
        if signature is not None:
            headers["X-Signature"] = signature
        response = self.url_open(f"/sms_marketing/inbound/{self.gateway.id}", data=body, headers=headers)
        self.env.invalidate_all()
        return response

    def _blacklisted(self, number):
        return self.env["sms.marketing.blacklist"].search([("number", "=", number), ("active", "=", True)])

    def test_inbound_stop_start(self):
        number = self.traces[0].number
        response = self._inbound([{"number": number, "content": "Stop"}, {"number": "+14155550100", "content": "hi"}])
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json()["results"],
            [{"number": number, "action": "optout"}, {"number": "+14155550100", "action": "ignored"}],
        )
        self.assertEqual(self._blacklisted(number).source, "keyword")
        self.assertFalse(self._blacklisted("+14155550100"))
        self.assertTrue(self.trace_model.optout_at, "the last SMS sent to that number counts the opt-out")
        self.assertFalse(self.traces[0].optout_at)
        self.assertEqual((self.mailing | self.mailing_model).mapped("optout_count"), [0, 1])

        self.assertEqual(self._inbound([{"number": number.lstrip("+"), "content": "START"}]).status_code, 200)
        self.assertFalse(self._blacklisted(number), "START removes the number")
        self._inbound([{"number": number, "content": "Arrêt !"}])
        self.assertTrue(self._blacklisted(number), "localised keywords")

    def test_inbound_bad_signature(self):
        number = self.traces[1].number
        for kwargs in ({"secret": "wrong"}, {"signature": ""}, {"signature": "00" * 32}):
            response = self._inbound([{"number": number, "content": "STOP"}], **kwargs)
            self.assertEqual(response.status_code, 403, kwargs)
        self.assertFalse(self._blacklisted(number))
        self.gateway.webhook_secret = False
        self.assertEqual(self._inbound([{"number": number, "content": "STOP"}], secret="").status_code, 403)
        self.assertFalse(self._blacklisted(number))
