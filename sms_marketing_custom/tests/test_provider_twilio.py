import time
from email.utils import formatdate
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

from odoo import fields
from odoo.tests import tagged

from ..providers.twilio import compute_signature
from .common import SmsProviderCase
from .standins import twilio


@tagged("post_install", "-at_install")
class TestTwilioProvider(SmsProviderCase):
    """The twilio provider against its stand-in (standins/twilio.py): sending, error codes, signed callbacks."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.standin = twilio.TwilioStandin().start()
        cls.addClassCleanup(cls.standin.stop)
        cls.gateway = cls.env["sms.marketing.gateway"].create(twilio.gateway_values(cls.standin, timeout=5))
        cls.gateway._change_balance(100.0, "purchase")
        cls.us = cls.env.ref("base.us")
        cls.contacts = cls._make_contacts(["+12025550141", "+12025550142", "+12025550143"], cls.us)

    def setUp(self):
        super().setUp()
        self.standin.reset()

    def test_a_proxy_page_pauses_instead_of_refusing_everyone(self):
        """A 403 or 404 that is not Twilio's error (no Twilio error code) is the gateway's problem,
        not the recipients': the mailing pauses, every message stays to send."""
        for status in (403, 404):
            with self.subTest(status=status):
                self._send_through_a_proxy_page(self.gateway, status)

    def test_signature_matches_twilio_reference(self):
        """The reference vectors of Twilio's own RequestValidator tests (twilio-python), for the provider and
        for the stand-in, whose signature is written from Twilio's documentation, not from the provider."""
        params = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ]
        uri = "https://mycompany.com/myapp.php?foo=1&bar=2"
        self.assertEqual(compute_signature("12345", uri, params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        multi = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
        self.assertEqual(compute_signature("12345", uri, multi), "IK+Dwps556ElfBT0I3Rgjkr1wJU=")
        self.assertEqual(twilio.signature("12345", uri, params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
        self.assertEqual(twilio.signature("12345", uri, multi), "IK+Dwps556ElfBT0I3Rgjkr1wJU=")
        odd = [("Body", "STOP & go=now é"), ("From", "+32470000001"), ("A", ""), ("Body", "again")]
        url = "http://127.0.0.1:8069/sms_marketing/inbound/7?x=1"
        self.assertEqual(compute_signature("t0ken", url, odd), twilio.signature("t0ken", url, odd))

    def test_send_then_signed_status_callbacks(self):
        mailing = self._make_mailing(self.gateway)
        self._run_engine(mailing)
        self.assertEqual(len(self.standin.messages), 3)
        traces = self._traces_by_number(mailing)
        for message in self.standin.messages:
            trace = traces[message["to"]]
            self.assertEqual(message["body"], "Spring sale: 20% off today!")
            self.assertEqual(message["from"], "+15005550006")
            self.assertEqual(trace.state, "sent")
            self.assertEqual(trace.provider_message_id, message["sid"])
            callback = self.standin.callbacks[message["sid"]]
            self.assertEqual(callback.split("?")[0], f"{self.odoo_url}/sms_marketing/status/{self.gateway.id}")
            self.assertEqual(parse_qs(urlsplit(callback).query)["ref"], [trace.uuid])
        self.assertEqual(mailing.state, "done")
        self.assertAlmostEqual(mailing.credits_spent, 3.0)  # the default price, as reserved
        first, second, third = self.standin.messages
        self.assertEqual(self.standin.post_status(first["sid"], "sent")[0], 200)  # not final: nothing moves
        self.assertEqual(self.standin.post_status(first["sid"], "delivered")[0], 200)
        self.assertEqual(self.standin.post_status(second["sid"], "undelivered", error_code=30003)[0], 200)
        # forged: signed with another token
        self.assertEqual(self.standin.post_status(third["sid"], "delivered", auth_token="forged")[0], 403)
        self.env.invalidate_all()
        self.assertEqual(traces[first["to"]].state, "delivered")
        self.assertEqual((traces[second["to"]].state, traces[second["to"]].failure_type), ("failed", "undelivered"))
        self.assertEqual(traces[third["to"]].state, "sent")
        self.assertEqual((mailing.delivered_count, mailing.failed_count, mailing.sent_count), (1, 1, 3))

    def test_error_codes_map_to_reasons_and_blacklist(self):
        self.standin.number_errors.update({"+12025550141": 21211, "+12025550142": 21408, "+12025550143": 21610})
        mailing = self._make_mailing(self.gateway)
        self._run_engine(mailing)
        traces = self._traces_by_number(mailing)
        self.assertEqual(traces["+12025550141"].failure_type, "wrong_number_format")
        self.assertEqual(traces["+12025550142"].failure_type, "country_not_supported")
        self.assertEqual(traces["+12025550143"].failure_type, "rejected")
        self.assertEqual(set(mailing.trace_ids.mapped("state")), {"failed"})
        blacklisted = self.env["sms.marketing.blacklist"].search([("number", "like", "+1202555014")])
        self.assertEqual(blacklisted.mapped("number"), ["+12025550143"])
        self.assertEqual(blacklisted.source, "provider")
        self.assertEqual(self.gateway.balance, 100.0)  # nothing was charged

    def test_throttled_is_retried_and_bad_credentials_pause(self):
        self.standin.fail_next.append(429)
        mailing = self._make_mailing(self.gateway)
        self._run_engine(mailing)
        self.assertEqual(len(self.standin.messages), 0)
        self.assertEqual(set(mailing.trace_ids.mapped("state")), {"pending"})
        self._make_due(mailing)
        self._run_engine()
        self.assertEqual(len(self.standin.messages), 3)
        self.assertEqual(set(mailing.trace_ids.mapped("state")), {"sent"})

        self.gateway.api_key = "wrong-token"
        other = self._make_mailing(self.gateway, body="Second")
        self._run_engine(other)
        self.assertEqual(other.state, "paused")
        self.assertIn("Account SID or Auth Token", other.pause_reason)
        self.assertEqual(set(other.trace_ids.mapped("state")), {"pending"})
        self.gateway.api_key = self.standin.auth_token

    def test_inbound_stop_is_signed_and_applied(self):
        url = f"{self.odoo_url}/sms_marketing/inbound/{self.gateway.id}"
        Blacklist = self.env["sms.marketing.blacklist"]
        status, body = self.standin.post_inbound(url, "+12025550199", "STOP", auth_token="forged")
        self.assertEqual(status, 403)
        self.assertFalse(Blacklist.search([("number", "=", "+12025550199")]))
        # Twilio's Advanced Opt-Out handled "UNSUBSCRIBE" itself: the number is blocked at Twilio
        status, body = self.standin.post_inbound(url, "+12025550199", "UNSUBSCRIBE please", opt_out_type="STOP")
        self.assertEqual(status, 200)
        self.assertIn(b"<Response>", body)  # TwiML: Twilio replies nothing more
        entry = Blacklist.search([("number", "=", "+12025550199")])
        self.assertEqual((entry.source, entry.active), ("provider", True))
        status, _body = self.standin.post_inbound(url, "+12025550198", "STOP")
        self.assertEqual(status, 200)
        self.assertEqual(Blacklist.search([("number", "=", "+12025550198")]).source, "keyword")

    def test_lost_answer_is_never_sent_twice(self):
        """Twilio took the message but the connection broke before its answer: no second send,
        and the message is found again at Twilio (reconciled), not lost."""
        self.standin.fail_next.append("drop_after_accept")
        mailing = self._make_mailing(self.gateway)
        self._run_engine(mailing)
        self.assertEqual(len(self.standin.messages), 1)  # the batch stopped at the doubt
        # the same run asked Twilio about the message whose answer was lost, and found it
        found = mailing.trace_ids.filtered(lambda t: t.state == "sent")
        self.assertEqual(found.number, self.standin.messages[0]["to"])
        self.assertEqual(found.provider_message_id, self.standin.messages[0]["sid"])
        self.assertEqual(sorted(mailing.trace_ids.mapped("state")), ["pending", "pending", "sent"])
        self.assertIn("1 sent", mailing.message_ids[0].body)
        self._make_due(mailing)
        self._run_engine()
        self.assertEqual(len(self.standin.messages), 3)
        self.assertEqual(len({m["to"] for m in self.standin.messages}), 3)  # 0 duplicates
        self.assertEqual(set(mailing.trace_ids.mapped("state")), {"sent"})  # 0 lost
        self.assertEqual(mailing.state, "done")

    def test_crash_after_accept_is_reconciled(self):
        """The runner dies after Twilio took the messages, before recording them: the next run
        finds them at Twilio (0 duplicates, 0 lost) instead of sending them again."""
        mailing = self._make_mailing(self.gateway)
        engine_class = type(self.env["sms.marketing.engine"])
        balance = self.gateway.balance
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
        self.assertTrue(all(mailing.trace_ids.mapped("in_flight_at")))
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
        self.assertEqual(set(mailing.trace_ids.mapped("state")), {"sent"})  # 0 lost
        sids = {m["to"]: m["sid"] for m in self.standin.messages}
        for trace in mailing.trace_ids:
            self.assertEqual(trace.provider_message_id, sids[trace.number])
            self.assertFalse(trace.in_flight_at)
        self.assertEqual(mailing.state, "done")
        # the batch's reservation holds what was spent; the ledger is the balance
        self.assertAlmostEqual(self.gateway.balance, balance - 3.0)
        self.assertAlmostEqual(mailing.credits_spent, 3.0)

    def test_lookup_ignores_the_same_text_sent_before(self):
        """The same text to the same number by an earlier mailing is not the message looked up."""
        form = {"To": "+12025550141", "Body": "Same text", "From": "+15005550006"}
        self.standin.create_message(form)
        self.standin.messages[-1]["date_created"] = formatdate(time.time() - 3600, usegmt=True)
        message = {"uuid": "a" * 32, "number": "+12025550141", "content": "Same text", "since": fields.Datetime.now()}
        provider = self.gateway._get_provider()
        self.assertEqual(provider.lookup([message])[message["uuid"]]["state"], "server_error")
        self.standin.create_message(form)
        found = provider.lookup([message])[message["uuid"]]
        self.assertEqual((found["state"], found["provider_id"]), ("sent", self.standin.messages[-1]["sid"]))
