import threading
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

from odoo.addons.sms_marketing_custom.tests.common import RecordingServer, SmsProviderCase
from odoo.addons.sms_marketing_custom.tests.standins import iap
from odoo.tests import tagged
from odoo.tools import mute_logger


@tagged("post_install", "-at_install")
class TestOdooIapProvider(SmsProviderCase):
    """The odoo_iap provider through Odoo's own SmsApi, against its stand-in (standins.iap)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.standin = iap.IapStandin().start()
        cls.addClassCleanup(cls.standin.stop)
        set_param = cls.env["ir.config_parameter"].sudo().set_param
        set_param("sms.endpoint", cls.standin.url)
        set_param("iap.endpoint", cls.standin.url)
        cls.gateway = cls.env.ref("sms_marketing_custom_iap.sms_marketing_gateway_odoo_iap")
        cls.gateway._change_balance(100.0, "purchase")
        cls.be = cls.env.ref("base.be")
        cls.numbers = ["+32470000021", "+32470000022"]
        cls._make_contacts(cls.numbers, cls.be)

    def setUp(self):
        super().setUp()
        self.standin.reset()

    @contextmanager
    def _network(self):
        """iap_jsonrpc refuses to call out from a test thread; the stand-in is on 127.0.0.1."""
        thread = threading.current_thread()
        testing = thread.testing
        thread.testing = False
        try:
            yield
        finally:
            thread.testing = testing

    def _send_through(self, status=None, payload=None):
        """A mailing sent while ``sms.endpoint`` answers ``status`` and ``payload`` (None: nobody listens)."""
        server = RecordingServer().start()
        self.addCleanup(server.stop)
        if status is None:
            server.stop()  # the port is closed: no connection is made
        else:
            server.answer(status, payload, {"Content-Type": "text/html"})
        self.env["ir.config_parameter"].sudo().set_param("sms.endpoint", server.url)
        self.addCleanup(self.env["ir.config_parameter"].sudo().set_param, "sms.endpoint", self.standin.url)
        mailing = self._make_mailing(self.gateway)
        with self._network():
            self._run_engine(mailing)
        return mailing

    @mute_logger("odoo.addons.iap.tools.iap_tools")  # Odoo logs the failed call it raises on: expected here
    def test_an_answer_lost_after_the_request_left_is_never_sent_again(self):
        """An unreadable 200 (Odoo raises AccessError): IAP may have taken the batch and has no
        idempotency key; the messages are unknown with their reason, not retried."""
        mailing = self._send_through(200, b"<html>not JSON-RPC</html>")
        self.assertEqual(set(mailing.trace_ids.mapped("state")), {"unknown"})
        self.assertEqual(set(mailing.trace_ids.mapped("failure_type")), {"unknown_outcome"})

    @mute_logger("odoo.addons.iap.tools.iap_tools")  # Odoo logs the failed call it raises on: expected here
    def test_no_connection_is_retried(self):
        """Nothing reached IAP (connection refused): the messages wait for a retry."""
        mailing = self._send_through(None)
        self.assertEqual(set(mailing.trace_ids.mapped("state")), {"pending"})
        self.assertTrue(all(mailing.trace_ids.mapped("next_try_at")), "retried later")
        self.assertEqual(mailing.state, "sending")

    @mute_logger("odoo.addons.iap.tools.iap_tools")  # Odoo logs the failed call it raises on: expected here
    def test_a_refused_request_pauses(self):
        """A 404 (a wrong sms.endpoint, a proxy's page) sent nothing: the mailing pauses with the reason."""
        mailing = self._send_through(404, b"<html>Not found</html>")
        self.assertEqual(set(mailing.trace_ids.mapped("state")), {"pending"})
        self.assertEqual((mailing.state, mailing.pause_code), ("paused", "gateway_error"))

    def test_gateway_needs_nothing_configured(self):
        self.assertEqual(self.gateway.provider, "odoo_iap")
        self.assertEqual(self.gateway.provider_fields, ",timeout,")
        with self._network():
            self.gateway.action_refresh()
        self.assertAlmostEqual(self.gateway.balance, 100.0)  # read from IAP

    def test_send_and_reports(self):
        mailing = self._make_mailing(self.gateway)
        with self._network():
            self._run_engine(mailing)
        self.assertEqual(sorted(m["number"] for m in self.standin.sent), self.numbers)
        self.assertTrue(all(m["account_token"] for m in self.standin.sent))  # the database's IAP account
        traces = self._traces_by_number(mailing)
        self.assertEqual(set(mailing.trace_ids.mapped("state")), {"sent"})
        self.assertAlmostEqual(mailing.credits_spent, 2.0)
        webhook = self.standin.sent[0]["webhook_url"]
        self.assertEqual(urlsplit(webhook).path, f"/sms_marketing/status/{self.gateway.id}")
        first, second = (traces[n].uuid for n in self.numbers)
        self.assertEqual(self.standin.post_report(webhook, "delivered", [first])[0], 200)
        # IAP signs nothing: a report without the URL's token changes nothing
        forged = webhook.split("?")[0] + "?token=" + "0" * 64
        self.assertEqual(self.standin.post_report(forged, "delivered", [second])[0], 403)
        self.assertEqual(self.standin.post_report(webhook.split("?")[0], "delivered", [second])[0], 403)
        self.assertEqual(self.standin.post_report(webhook, "not_delivered", [second])[0], 200)
        self.env.invalidate_all()
        self.assertEqual(traces[self.numbers[0]].state, "delivered")
        self.assertEqual(
            (traces[self.numbers[1]].state, traces[self.numbers[1]].failure_type), ("failed", "undelivered")
        )
        self.assertTrue(parse_qs(urlsplit(webhook).query)["token"][0])

    def test_states_and_credits(self):
        self.standin.number_states[self.numbers[0]] = "wrong_number_format"
        self.standin.credits = 0.5
        mailing = self._make_mailing(self.gateway)
        with self._network():
            self._run_engine(mailing)
        traces = self._traces_by_number(mailing)
        self.assertEqual(traces[self.numbers[0]].failure_type, "wrong_number_format")
        self.assertEqual(traces[self.numbers[1]].state, "pending")
        self.assertEqual((mailing.state, mailing.pause_code), ("paused", "insufficient_credit"))
        self.assertFalse(self.standin.sent)

    def test_malformed_or_oversize_reports_are_refused(self):
        mailing = self._make_mailing(self.gateway)
        with self._network():
            self._run_engine(mailing)
        webhook = self.standin.sent[0]["webhook_url"]
        trace = self._traces_by_number(mailing)[self.standin.sent[0]["number"]]
        base = webhook.split("?")[0]
        # a token that is not ASCII once decoded is refused like any wrong token, not with a 500
        for token in ("%C3%A9" * 32, "%FF" * 64):
            with self.subTest(token=token):
                self.assertEqual(self.standin.post_report(f"{base}?token={token}", "delivered", [trace.uuid])[0], 403)
        # the right token with a body over the webhooks' limit: 413, nothing read
        padding = ["0" * 32] * 10000
        self.assertEqual(self.standin.post_report(webhook, "delivered", [trace.uuid, *padding])[0], 413)
        self.env.invalidate_all()
        self.assertEqual(trace.state, "sent")
        self.assertEqual(self.standin.post_report(webhook, "delivered", [trace.uuid])[0], 200)
