"""The opt-out link against link scanners: only a POST records. A GET, whatever its user agent
(mail and SMS scanners pose as browsers), renders the page; a person's browser runs its script,
which posts the confirmation (one tap)."""

from unittest.mock import patch

from odoo.tests import tagged
from odoo.tests.common import ChromeBrowser

from .common import PHONE_BROWSER, SmsOptoutPageCase

# what scanners send to look like a person's phone
BROWSER_AGENTS = (
    PHONE_BROWSER,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
)


@tagged("post_install", "-at_install", "sms_security")
class TestOptoutScanners(SmsOptoutPageCase):
    def _nothing_recorded(self):
        self.env.invalidate_all()
        self.assertFalse(self.trace.optout_at)
        self.assertFalse(self.env["sms.marketing.consent"].search([("id", ">", self.first_event)]))
        subscriptions = self.env["sms.marketing.subscription"].search([("contact_id", "=", self.contacts[0].id)])
        self.assertFalse(subscriptions.filtered("opt_out"))

    def _recorded(self):
        self.env.invalidate_all()
        self.assertTrue(self.trace.optout_at)
        events = self.env["sms.marketing.consent"].search([("id", ">", self.first_event)])
        self.assertEqual(set(events.mapped("event")), {"opt_out"})
        self.assertEqual(events.list_id, self.list_news | self.list_promo)
        self.assertEqual(set(events.mapped("source")), {"optout_link"})

    def test_scanner_get_with_a_browser_agent_records_nothing(self):
        for agent in BROWSER_AGENTS:
            with self.subTest(agent=agent):
                response = self.url_open(self.path, headers={"User-Agent": agent})
                self.assertEqual(response.status_code, 200)
                self.assertIn("Confirm", response.text)
                self.assertIn('id="o_sms_optout_confirm"', response.text, "the button a person may press")
                self.url_open(self.path, headers={"User-Agent": agent}, head=True)
                self._nothing_recorded()

    def test_post_records(self):
        response = self._post_route(self.path, user_agent=BROWSER_AGENTS[0])
        self.assertEqual(response.status_code, 200)
        self.assertIn("You are unsubscribed", response.text)
        self._recorded()

    def test_real_browser_records(self):
        """Chromium opens the link: the page's script posts the confirmation, as a person's phone does.

        Headless Chromium names itself "HeadlessChrome", which the bot list rightly refuses (scanners
        use it): the browser is started with the user agent of Chrome on a phone instead."""
        spawn = ChromeBrowser._spawn_chrome

        def spawn_as_a_phone(browser, cmd):
            return spawn(browser, [cmd[0], f"--user-agent={BROWSER_AGENTS[2]}", *cmd[1:]])

        with patch.object(ChromeBrowser, "_spawn_chrome", spawn_as_a_phone):
            self.browser_js(
                self.path,
                "console.log('test successful')",
                ready="document.querySelector('.o_sms_optout_undo') !== null",
            )
        self._recorded()
