import hashlib
import time
from unittest.mock import patch
from urllib.parse import urlencode

from odoo.tests import tagged

from ..providers.vonage import compute_signature
from .common import SmsProviderCase
from .standins import vonage


@tagged("post_install", "-at_install")
class TestVonageProvider(SmsProviderCase):
    """The vonage provider against its stand-in (standins/vonage.py): sending, status codes, signed webhooks."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.standin = vonage.VonageStandin().start()
        cls.addClassCleanup(cls.standin.stop)
        cls.gateway = cls.env["sms.marketing.gateway"].create(
            vonage.gateway_values(cls.standin, timeout=5, default_price=0.05)  # EUR, like Vonage's balance
        )
        cls.gateway._change_balance(100.0, "purchase")
        cls.be = cls.env.ref("base.be")
        cls.contacts = cls._make_contacts(["+32470000001", "+32470000002", "+32470000003"], cls.be)

    def setUp(self):
        super().setUp()
        self.standin.reset()
        self.standin.balance = 20.0
        self.standin.signature_method = "md5hash"
        self.gateway.vonage_signature_method = "md5hash"

    def test_a_refused_request_pauses_instead_of_unknown(self):
        """Vonage answers every message's error with 200: a 4xx (a proxy's page, a wrong endpoint) sent
        nothing; the mailing pauses, no message is left unknown for ever (Vonage cannot be asked)."""
        for status in (403, 404):
            with self.subTest(status=status):
                self._send_through_a_proxy_page(self.gateway, status)

    def _dlr_url(self):
        return f"{self.odoo_url}/sms_marketing/status/{self.gateway.id}"

    def test_signature_matches_vonage_documentation(self):
        """The provider's ``sig`` against the stand-in's, written from Vonage's "Signing requests": every
        method, values holding the "&" and "=" that the documented scheme replaces by "_"."""
        params = {"text": "a&b=c", "msisdn": "447700900000", "timestamp": "1700000000", "nonce": "n=1&2"}
        spelled_out = "&msisdn=447700900000&nonce=n_1_2&text=a_b_c&timestamp=1700000000"
        md5_of_string_and_secret = hashlib.md5(f"{spelled_out}s3cret".encode()).hexdigest()
        self.assertEqual(vonage.signature("s3cret", "md5hash", params), md5_of_string_and_secret)
        for method in ("md5hash", "md5", "sha1", "sha256", "sha512"):
            with self.subTest(method=method):
                self.assertEqual(
                    compute_signature("s3cret", method, params), vonage.signature("s3cret", method, params)
                )

    def test_send_unicode_and_signed_receipts(self):
        mailing = self._make_mailing(self.gateway, body="Soldes d'été ✨ -20%")
        self._run_engine(mailing)
        self.assertEqual(len(self.standin.messages), 3)
        traces = self._traces_by_number(mailing)
        for message in self.standin.messages:
            trace = traces["+" + message["to"]]
            self.assertEqual((message["type"], message["from"]), ("unicode", "AcmeShop"))  # not GSM-7
            self.assertEqual(message["client-ref"], trace.uuid)
            self.assertEqual(message["callback"], self._dlr_url())
            self.assertEqual(trace.state, "sent")
            self.assertEqual(trace.provider_message_id, message["message-ids"][0])
            self.assertAlmostEqual(trace.cost, 0.05)  # Vonage's message-price
        self.assertAlmostEqual(self.gateway.balance, 100.0 - 0.15)
        first, second, third = (m["client-ref"] for m in self.standin.messages)
        self.assertEqual(self.standin.post_dlr(first, "accepted")[0], 200)  # not final
        self.assertEqual(self.standin.post_dlr(first, "delivered")[0], 200)
        self.assertEqual(self.standin.post_dlr(second, "expired", err_code="1")[0], 200)
        self.assertEqual(self.standin.post_dlr(third, "delivered", secret="forged")[0], 403)
        self.env.invalidate_all()
        by_uuid = {t.uuid: t for t in mailing.trace_ids}
        self.assertEqual(by_uuid[first].state, "delivered")
        self.assertEqual((by_uuid[second].state, by_uuid[second].failure_type), ("failed", "expired"))
        self.assertEqual(by_uuid[third].state, "sent")
        self.assertAlmostEqual(mailing.credits_spent, 0.15)

    def test_status_codes(self):
        self.standin.number_statuses.update({"32470000001": "3", "32470000002": "6", "32470000003": "7"})
        mailing = self._make_mailing(self.gateway)
        self._run_engine(mailing)
        traces = self._traces_by_number(mailing)
        self.assertEqual(traces["+32470000001"].failure_type, "wrong_number_format")
        self.assertEqual(traces["+32470000002"].failure_type, "country_not_supported")
        self.assertEqual(traces["+32470000003"].failure_type, "rejected")
        entry = self.env["sms.marketing.blacklist"].search([("number", "=", "+32470000003")])
        self.assertEqual(entry.source, "provider")  # barred at Vonage: blacklisted here too

    def test_quota_exceeded_pauses(self):
        self.standin.balance = 0.07  # one message, not two
        mailing = self._make_mailing(self.gateway)
        self._run_engine(mailing)
        self.assertEqual((mailing.state, mailing.pause_code), ("paused", "insufficient_credit"))
        self.assertEqual(sorted(mailing.trace_ids.mapped("state")), ["pending", "pending", "sent"])
        self.assertEqual(len(self.standin.messages), 1)
        # the local balance follows Vonage's: what is left pays for no message
        self.assertAlmostEqual(self.gateway.balance, 0.02)

    def test_bad_credentials_pause(self):
        self.gateway.api_key = "wrong"
        mailing = self._make_mailing(self.gateway)
        self._run_engine(mailing)
        self.assertEqual((mailing.state, mailing.pause_code), ("paused", "gateway_error"))
        self.assertIn("status 4", mailing.pause_reason)
        self.assertEqual(set(mailing.trace_ids.mapped("state")), {"pending"})
        self.assertFalse(self.standin.messages)

    def test_inbound_stop_signed_methods_and_replays(self):
        url = f"{self.odoo_url}/sms_marketing/inbound/{self.gateway.id}"
        Blacklist = self.env["sms.marketing.blacklist"]
        self.assertEqual(self.standin.post_inbound(url, "32470000009", "STOP", secret="forged")[0], 403)
        self.assertFalse(Blacklist.search([("number", "=", "+32470000009")]))
        # the dashboard's method must match the gateway's
        self.standin.signature_method = "sha256"
        self.assertEqual(self.standin.post_inbound(url, "32470000009", "STOP")[0], 403)
        self.gateway.vonage_signature_method = "sha256"
        self.env.flush_all()
        self.assertEqual(self.standin.post_inbound(url, "32470000009", "STOP")[0], 200)
        self.assertEqual(Blacklist.search([("number", "=", "+32470000009")]).source, "keyword")
        # a well signed call from an hour ago is a replay
        params = {
            "msisdn": "32470000008",
            "to": "447700900000",
            "text": "STOP",
            "type": "text",
            "timestamp": str(int(time.time()) - 3600),
            "nonce": "abc",
        }
        params["sig"] = vonage.signature(self.standin.signature_secret, "sha256", params)
        response = self.url_open(
            url, data=urlencode(params), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Blacklist.search([("number", "=", "+32470000008")]))

    def test_lost_answer_stays_unknown_never_resent(self):
        """Vonage cannot look a message up: the one whose answer was lost is shown unknown, never resent."""
        self.standin.fail_next.append("drop_after_accept")
        mailing = self._make_mailing(self.gateway)
        self._run_engine(mailing)
        self._make_due(mailing)
        self._run_engine()
        self.assertEqual(len(self.standin.messages), 3)
        self.assertEqual(len({m["to"] for m in self.standin.messages}), 3)  # 0 duplicates
        self.assertEqual(sorted(mailing.trace_ids.mapped("state")), ["sent", "sent", "unknown"])  # 0 lost
        unknown = mailing.trace_ids.filtered(lambda t: t.state == "unknown")
        self.assertIn("not sent again", unknown.failure_reason)
        self.assertEqual((mailing.unknown_count, mailing.recipient_count, mailing.state), (1, 3, "done"))
        # its delivery receipt arrives after all: it was sent, and delivered
        self.assertEqual(self.standin.post_dlr(unknown.uuid, "delivered")[0], 200)
        unknown.invalidate_recordset()
        self.assertEqual(unknown.state, "delivered")

    def test_crash_after_accept_is_reconciled(self):
        """The runner dies after Vonage took the messages, before recording them: nothing is sent
        twice, and the messages are shown unknown (Vonage cannot be asked), not lost."""
        mailing = self._make_mailing(self.gateway)
        engine_class = type(self.env["sms.marketing.engine"])
        # the runner dies in the batch's second transaction (recording), after the call; the marks and the
        # reservation were committed before the call (a plain try keeps them: assertRaises would roll back)
        with patch.object(engine_class, "_record_batch", side_effect=RuntimeError("killed")):
            died = False
            try:
                self._run_engine(mailing)
            except RuntimeError:
                died = True
            self.assertTrue(died, "the runner should have died")
        self.assertEqual(len(self.standin.messages), 3)
        self.env.flush_all()
        self.env.cr.execute(  # the call's allowed time is over: the runner is taken for dead
            "UPDATE sms_marketing_trace SET next_try_at = now() at time zone 'UTC' - interval '1 second'"
            " WHERE mailing_id = %s AND in_flight_at IS NOT NULL",
            [mailing.id],
        )
        self.env.cr.execute(  # and its batch's lease has expired: the recovery releases the batch
            "UPDATE sms_marketing_credit_move SET lease_until = now() at time zone 'UTC' - interval '1 second'"
            " WHERE mailing_id = %s AND lease_until IS NOT NULL",
            [mailing.id],
        )
        self.env.invalidate_all()
        self._run_engine()
        self.assertEqual(len(self.standin.messages), 3)  # 0 duplicates
        self.assertEqual(set(mailing.trace_ids.mapped("state")), {"unknown"})  # 0 lost
        self.assertEqual(mailing.unknown_count, 3)
        self.assertEqual(mailing.state, "done")
