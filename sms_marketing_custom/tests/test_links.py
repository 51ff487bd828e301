import re

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged
from odoo.tests.common import BaseCase

from ..tools import links
from ..tools.sms_encoding import count_segments
from .common import SmsEngineCase, SmsMarketingCase, SmsMarketingLinksCommon


@tagged("post_install", "-at_install")
class TestLinksTools(BaseCase):
    def test_find_urls_and_compile(self):
        text = "Go https://a.io/x?q=1&r=2, then (https://b.io/y). Or https://a.io/x?q=1&r=2!"
        self.assertEqual(
            [url for _s, _e, url in links.find_urls(text)],
            ["https://a.io/x?q=1&r=2", "https://b.io/y", "https://a.io/x?q=1&r=2"],
        )
        self.assertEqual(links.trackable_urls(text), ["https://a.io/x?q=1&r=2", "https://b.io/y"])
        parts = links.compile_text(text, {"https://a.io/x?q=1&r=2": "AAAAAA"}, f"https://t.co{links.CLICK_PATH}")
        self.assertEqual(
            "TOKEN".join(parts),
            f"Go https://t.co{links.CLICK_PATH}AAAAAA/TOKEN, then (https://b.io/y). Or https://t.co{links.CLICK_PATH}AAAAAA/TOKEN!",
        )
        # placeholders inside a URL: only known once rendered; our own short links are not tracked again
        own = (f"https://t.co{links.CLICK_PATH}",)
        self.assertEqual(links.trackable_urls(f"https://x.io/?id={{{{ object.id }}}} {own[0]}abc", own), [])
        self.assertEqual(links.trackable_urls(f"{own[0]}abc https://x.io", own), ["https://x.io"])

    def test_tokens(self):
        digest = bytes(range(32))
        click, optout = links.tokens_from_digest(123456, digest)
        self.assertEqual(len(click), links.CLICK_TOKEN_LENGTH)
        self.assertEqual(len(optout), links.OPTOUT_TOKEN_LENGTH)
        self.assertEqual(links.split_token(click, links.CLICK_MAC_LENGTH)[0], 123456)
        self.assertEqual(links.split_token(optout, links.OPTOUT_MAC_LENGTH)[0], 123456)
        for bad in ("", "abc", "0000-0abcdef", "x" * 40, "000000" + "é" * 6):
            self.assertEqual(links.split_token(bad, links.CLICK_MAC_LENGTH), (None, None), bad)
        for number in (1, 61, 62, 3843, 3844, 987654321, 62**6 - 1, 62**6, 2**31 - 1):
            self.assertEqual(links.decode_base62(links.encode_id(number)), number)
            self.assertEqual(links.encode_id(number), links.encode_base62(number, links.ID_LENGTH))

    def test_bots(self):
        for user_agent in (
            "",
            "WhatsApp/2.23.20.0 A",
            "facebookexternalhit/1.1 Facebot Twitterbot/1.0",  # iMessage link previews
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "TelegramBot (like TwitterBot)",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
            "curl/8.4.0",
            "python-requests/2.31.0",
        ):
            self.assertTrue(links.is_bot(user_agent), user_agent)
        for user_agent in (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/119.0.0.0 Mobile Safari/537.36",
        ):
            self.assertFalse(links.is_bot(user_agent), user_agent)

    def test_keywords(self):
        for text in ("STOP", " stop ", "Stop.", "stop all", "Arrêt !", "ARRET", "opt-out", "Baja", "stopp", "END"):
            self.assertEqual(links.classify_keyword(text), "optout", text)
        for text in ("START", "unstop", "Start!"):
            self.assertEqual(links.classify_keyword(text), "optin", text)
        for text in ("don't stop", "stop sending me the promo", "hello", "", "STARTS"):
            self.assertIsNone(links.classify_keyword(text), text)

    def test_mask_number(self):
        self.assertEqual(links.mask_number("+33612345678"), "+•••••••••78")
        self.assertEqual(links.mask_number(""), "")


@tagged("post_install", "-at_install")
class TestLinkTracking(SmsMarketingCase, SmsMarketingLinksCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_links_fixtures()
        cls.env["ir.config_parameter"].sudo().set_param("web.base.url", "https://odoo.example.com")

    def _form_length(self, mailing, text):
        """What the form's counter shows: each URL becomes one tracked link, then the opt-out text."""
        length = len(text)
        for url in links.trackable_urls(text):
            length += (mailing.sms_link_length - len(url)) * text.count(url)
        return length + len(mailing.sms_optout_suffix)

    def test_prepare_and_apply_tracking(self):
        mailing = self.mailing.with_user(self.user_marketing)
        mailing._prepare_tracking()
        mailing._prepare_tracking()  # idempotent: the engine may call it on each run
        trackers = mailing.link_ids
        self.assertEqual(
            sorted(trackers.mapped("url")),
            ["https://shop.example.com/sale?utm_source=sms&promo=SUMMER", "https://www.example.org/shop"],
        )
        self.assertTrue(all(re.fullmatch(r"[0-9A-Za-z]{6}", code) for code in trackers.mapped("code")))
        code_sale = trackers.filtered(lambda link: "sale" in link.url).code
        code_shop = (trackers - trackers.filtered(lambda link: "sale" in link.url)).code

        bodies = mailing._apply_tracking(self.traces, {trace.id: self.BODY for trace in self.traces})
        self.assertEqual(set(bodies), set(self.traces.ids))
        self.assertEqual(len(set(bodies.values())), 3, "each recipient has their own tokens")
        tokens = self.env["sms.marketing.trace"]._get_tokens(self.traces.ids)
        trace = self.traces[0]
        click, optout = tokens[trace.id]
        self.assertEqual(
            bodies[trace.id],
            f"Summer sale! https://odoo.example.com{links.CLICK_PATH}{code_sale}/{click}, "
            f"again https://odoo.example.com{links.CLICK_PATH}{code_sale}/{click}. "
            f"Our shop (https://odoo.example.com{links.CLICK_PATH}{code_shop}/{click}).\n"
            f"Opt out: https://odoo.example.com{links.OPTOUT_PATH}{optout}",
        )
        shown = count_segments(mailing._get_sms_text_to_count())
        self.assertEqual((mailing.sms_units, mailing.sms_segments), (shown.units, shown.segments))
        for body in bodies.values():
            self.assertNotIn("utm_source", body, "the query string stays behind the short link")
            self.assertEqual(len(body), self._form_length(mailing, self.BODY), "the form shows the length sent")
            sent = count_segments(body)
            self.assertEqual((sent.encoding, sent.units, sent.segments), (shown.encoding, shown.units, shown.segments))
        self.assertEqual(len(mailing.link_ids), 2, "no tracker created at send time for known URLs")
        self.assertEqual(mailing.link_count, 2, "the form's Links button counts the trackers it opens")
        self.assertEqual(self.env["sms.marketing.link"].search_count(mailing.action_view_links()["domain"]), 2)

    def test_urls_from_placeholders(self):
        mailing = self.mailing.with_user(self.user_marketing)
        mailing.body = "Hi {{ object.name }}, your page: {{ object.website }}"
        mailing._prepare_tracking()
        self.assertFalse(mailing.link_ids, "nothing to track before rendering")
        texts = {
            self.traces[0].id: "Hi Ann, your page: https://ann.example.com/p?id=1.",
            self.traces[1].id: "Hi Bob, your page: https://bob.example.com/p?id=2",
            self.traces[2].id: "Hi Cid, your page: https://ann.example.com/p?id=1",
        }
        bodies = mailing._apply_tracking(self.traces, texts)
        self.assertEqual(
            sorted(mailing.link_ids.mapped("url")), ["https://ann.example.com/p?id=1", "https://bob.example.com/p?id=2"]
        )
        for trace in self.traces:
            self.assertNotIn("example.com/p", bodies[trace.id])
            self.assertEqual(len(bodies[trace.id]), self._form_length(mailing, texts[trace.id]))
        self.assertTrue(bodies[self.traces[0].id].split("\n")[0].endswith("."), "the final dot stays after the link")
        # a later batch reuses the trackers created by the first one
        mailing._apply_tracking(self.traces[:1], {self.traces[0].id: texts[self.traces[1].id]})
        self.assertEqual(len(mailing.link_ids), 2)

    def test_without_links_nor_optout(self):
        mailing = self.mailing.with_user(self.user_marketing)
        mailing.include_optout = False
        self.assertEqual(mailing.sms_optout_suffix, "")
        texts = {trace.id: f"Plain text {trace.id}" for trace in self.traces}
        self.assertEqual(mailing._apply_tracking(self.traces, texts), texts)

    def test_form_counter_fields(self):
        mailing = self.mailing.with_user(self.user_marketing)
        base = "https://odoo.example.com"
        self.assertEqual(mailing.sms_link_length, len(f"{base}{links.CLICK_PATH}") + 6 + 1 + 12)
        self.assertEqual(
            mailing.sms_optout_suffix, f"\nOpt out: {base}{links.OPTOUT_PATH}" + "X" * links.OPTOUT_TOKEN_LENGTH
        )
        mailing.include_optout = False
        self.assertEqual(mailing.sms_optout_suffix, "")

    def test_tokens_forgery(self):
        Trace = self.env["sms.marketing.trace"]
        trace = self.traces[0]
        click, optout = Trace._get_tokens(trace.ids)[trace.id]
        self.assertEqual(Trace._check_click_token(click), trace.id)
        self.assertEqual(Trace._get_from_optout_token(optout), trace)
        other = self.traces[1]
        forged = links.encode_base62(other.id, links.ID_LENGTH) + optout[links.ID_LENGTH :]
        altered = optout[:-1] + ("A" if optout[-1] != "A" else "B")
        for token in (forged, altered, click, optout + "0", optout.lower() if optout != optout.lower() else "x"):
            self.assertFalse(Trace._get_from_optout_token(token), token)
        self.assertIsNone(Trace._check_click_token(optout), "an opt-out token is not a click token")

    def test_manual_link(self):
        Link = self.env["sms.marketing.link"].with_user(self.user_marketing)
        with Form(Link) as form:
            form.url = "https://www.example.com/summer-sale?ref=qr"
        link = form.record
        self.assertEqual(link.title, "www.example.com/summer-sale")
        short_url = r"^https://odoo\.example\.com" + re.escape(links.CLICK_PATH) + r"[0-9A-Za-z]{6}$"
        self.assertRegex(link.short_url, short_url)
        self.assertEqual(self.env["sms.marketing.link"]._route_click(link.code, user_agent="Mozilla/5.0"), link.url)
        self.assertEqual(link.click_count, 1)
        for url in ("javascript:alert(1)", "data:text/html,x", "ftp://x.io/a", "https:///nohost", "https://a.io/\nX"):
            with self.assertRaises(ValidationError):
                Link.create({"url": url})

    def test_link_tracker_list_reads_several_links(self):
        """Configuration > Link Tracker reads every tracker's short URL at once (it crashed with two)."""
        Link = self.env["sms.marketing.link"].with_user(self.user_marketing)
        created = Link.create([{"url": "https://www.example.com/a"}, {"url": "https://www.example.com/b"}])
        rows = Link.search_read([("id", "in", created.ids)], ["short_url", "click_count"])
        prefix = "https://odoo.example.com" + links.CLICK_PATH
        self.assertEqual(len(rows), 2)
        self.assertTrue(all(row["short_url"].startswith(prefix) for row in rows), rows)

    def test_statistics(self):
        Link = self.env["sms.marketing.link"]
        self.mailing._prepare_tracking()
        code = self.mailing.link_ids[0].code
        tokens = self.env["sms.marketing.trace"]._get_tokens(self.traces.ids)
        browser = "Mozilla/5.0 (iPhone) Safari/604.1"
        Link._route_click(code, tokens[self.traces[0].id][0], user_agent=browser)
        Link._route_click(code, tokens[self.traces[0].id][0], user_agent=browser)
        Link._route_click(code, tokens[self.traces[1].id][0], user_agent=browser, country_code="fr")
        Link._route_click(code, tokens[self.traces[2].id][0], user_agent="WhatsApp/2.23")
        Link._route_click(code, None, user_agent=browser)
        self.traces[2]._optout()
        mailings = (self.mailing | self.mailing_model).with_user(self.user_marketing)
        self.assertEqual(mailings.mapped("clicked_count"), [2, 0], "two recipients clicked (bots not counted)")
        self.assertEqual(mailings.mapped("optout_count"), [1, 0])
        self.assertEqual(self.mailing.link_ids[0].click_count, 4)
        clicks = self.env["sms.marketing.link.click"].search([("mailing_id", "=", self.mailing.id)])
        self.assertEqual(clicks.country_id.mapped("code"), ["FR"])
        mailing = self.mailing.with_user(self.user_marketing)
        clickers = (
            self.env["sms.marketing.trace"]
            .with_user(self.user_marketing)
            .search(mailing.action_view_clicks()["domain"])
        )
        self.assertEqual(clickers, self.traces[:2], "Clicked lists the recipients who clicked, once each")
        not_clicked = self.env["sms.marketing.trace"].search(
            [("mailing_id", "=", self.mailing.id), ("clicked", "=", False)]
        )
        self.assertEqual(not_clicked, self.traces - self.traces[:2])
        self.assertEqual(
            self.env["sms.marketing.trace"].search(mailing.action_view_optouts()["domain"]), self.traces[2]
        )
        self.assertEqual(self.env["sms.marketing.link"].search(mailing.action_view_links()["domain"]), mailing.link_ids)
        with self.assertQueryCount(2):  # one grouped query per counter, for all the mailings
            mailings.invalidate_recordset()
            mailings.mapped("clicked_count")


@tagged("post_install", "-at_install")
class TestLinksSent(SmsEngineCase):
    """What the engine sends carries the tracked links and opt-out link of LINKS, as the form counted."""

    def test_sent_bodies(self):
        contacts = self._make_contacts(3)
        body = "Spring sale: https://shop.example.com/spring?utm_source=sms, ends Sunday!"
        mailing = self._start(self._make_mailing(body=body, include_optout=True))
        shown = count_segments(mailing._get_sms_text_to_count())
        self._run_cron()
        traces = mailing.trace_ids
        self.assertEqual(len(traces), 3)
        self.assertEqual(traces.mapped("res_id"), contacts.ids[::-1])
        code = mailing.link_ids.code
        self.assertEqual(mailing.link_ids.url, "https://shop.example.com/spring?utm_source=sms")
        tokens = self.env["sms.marketing.trace"]._get_tokens(traces.ids)
        for trace in traces:
            click, optout = tokens[trace.id]
            self.assertEqual(
                trace.body,
                f"Spring sale: http://127.0.0.1:9{links.CLICK_PATH}{code}/{click}, ends Sunday!"
                f"\nOpt out: http://127.0.0.1:9{links.OPTOUT_PATH}{optout}",
            )
            sent = count_segments(trace.body)
            self.assertEqual((sent.units, sent.segments), (shown.units, shown.segments), "as the form counted")
            self.assertEqual(trace.segments, shown.segments)
        # a click on the SMS of the second recipient is theirs
        self.assertEqual(
            self.env["sms.marketing.link"]._route_click(code, tokens[traces[1].id][0], user_agent="Mozilla/5.0"),
            "https://shop.example.com/spring?utm_source=sms",
        )
        self.assertEqual(mailing.link_ids.click_ids.trace_id, traces[1])
        self.assertEqual(mailing.clicked_count, 1)
