"""Attacks on the public routes, as an anonymous caller and as someone impersonating a provider.

A webhook cannot be forged (a malformed signature is a 403, never a 500),
replayed (a captured START, YES or HELP acts once, however often it is posted
again; an old signed time is refused) or used to flood (a body over the limit
is a 413 before anything reads it). Each attack is checked by what it changed:
the blacklist, the consent log, the answers charged.
"""

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import psycopg2

from odoo import SUPERUSER_ID, api, sql_db
from odoo.tests import HttpCase, TransactionCase, tagged

from ..controllers.links import MAX_PAGE_BODY
from ..controllers.webhooks import MAX_WEBHOOK_BODY
from ..providers.base import WEBHOOK_TOLERANCE
from .common import SmsMarketingLinksCommon, SmsProviderCase
from .standins import gateway as simulator
from .standins import twilio, vonage

SECRET = "attack-s3cret"
NOT_ASCII = "é" * 64  # what a header's bytes look like to Odoo (latin-1) when they are not ASCII
ARABIC_INDIC_TIME = "\u0661\u0667" + "\u0660" * 8  # digits to str.isdigit() and int(), not to a signature


@tagged("post_install", "-at_install")
class TestWebhookAttacks(SmsProviderCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = cls.env["sms.marketing.gateway"].create(
            {"name": "Attacked sandbox", "provider": "sandbox", "webhook_secret": SECRET, "default_price": 1.0}
        )
        cls.sandbox._change_balance(100.0, "purchase")
        cls.twilio_standin = twilio.TwilioStandin().start()
        cls.addClassCleanup(cls.twilio_standin.stop)
        cls.twilio = cls.env["sms.marketing.gateway"].create(
            twilio.gateway_values(cls.twilio_standin, name="Attacked Twilio", default_price=1.0)
        )
        cls.twilio._change_balance(100.0, "purchase")
        cls.vonage_standin = vonage.VonageStandin().start()
        cls.addClassCleanup(cls.vonage_standin.stop)
        cls.vonage = cls.env["sms.marketing.gateway"].create(
            vonage.gateway_values(cls.vonage_standin, name="Attacked Vonage")
        )
        cls.numbers = (f"+3247{i:07d}" for i in range(3000000, 4000000))

    def setUp(self):
        super().setUp()
        self.twilio_standin.reset()
        self.vonage_standin.reset()

    # ------------------------------------------------------------------ helpers
    def _url(self, kind, gateway):
        return f"{self.odoo_url}/sms_marketing/{kind}/{gateway.id}"

    def _json_inbound(self, number, content):
        return json.dumps({"messages": [{"number": number, "content": content}]}).encode()

    def _traces_of(self, number):
        """What an inbound call can change for ``number``: (blacklisted, consent events)."""
        blacklisted = bool(self.env["sms.marketing.blacklist"].search([("number", "=", number)]))
        return blacklisted, self.env["sms.marketing.consent"].search_count([("number", "=", number)])

    def _answers(self, gateway):
        """Answers sent through ``gateway`` so far, once the queued ones left."""
        self.env["sms.marketing.reply"]._cron_send()
        return self.env["sms.marketing.reply"].search_count([("gateway_id", "=", gateway.id), ("state", "=", "sent")])

    def _assert_refused(self, response, status=403):
        self.assertEqual(response.status_code, status)
        if status == 403:
            self.assertEqual(response.content, b"", "a refusal reveals nothing")

    # ------------------------------------------------------------------ forged and malformed
    def test_malformed_signatures_get_403_never_500(self):
        number = next(self.numbers)
        body = self._json_inbound(number, "STOP")
        good = simulator.signed_headers(SECRET, body)
        for label, headers in {
            "signature not ASCII": {**good, "X-Signature": NOT_ASCII.encode()},
            "nonce not ASCII": {**good, "X-Nonce": NOT_ASCII.encode()},
            "timestamp not ASCII": {**good, "X-Timestamp": ARABIC_INDIC_TIME.encode()},
            "signature not hex": {**good, "X-Signature": "zz" * 32},
            "timestamp not a number": {**good, "X-Timestamp": "1e10"},
            "no timestamp": {k: v for k, v in good.items() if k != "X-Timestamp"},
            "no nonce": {k: v for k, v in good.items() if k != "X-Nonce"},
            "no signature": {k: v for k, v in good.items() if k != "X-Signature"},
        }.items():
            with self.subTest(label):
                self._assert_refused(self._post_route(self._url("inbound", self.sandbox), body, headers))
        # unknown gateways, even beyond PostgreSQL's integers, look the same as a bad signature
        for gateway_id in (self.vonage.id + 1000, 2**31, 10**20):
            with self.subTest(gateway_id=gateway_id):
                url = f"{self.odoo_url}/sms_marketing/inbound/{gateway_id}"
                self._assert_refused(self._post_route(url, body, good))

        # Twilio: base64 expected; not ASCII, not base64 at all
        form = {"From": number, "Body": "STOP", "MessageSid": "SM" + "1" * 32}
        url = self._url("inbound", self.twilio)
        for signature in (NOT_ASCII.encode(), "%%%not base64***", ""):
            with self.subTest(twilio=signature):
                headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
                self._assert_refused(self._post_route(url, urlencode(form), headers))

        # Vonage signs inside the body: a sig that is not ASCII, then one of the wrong type (JSON)
        params = {"msisdn": number.lstrip("+"), "text": "STOP", "timestamp": str(int(time.time())), "sig": "é" * 32}
        form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        self._assert_refused(self._post_route(self._url("inbound", self.vonage), urlencode(params), form_headers))
        json_headers = {"Content-Type": "application/json"}
        for sig in ("é" * 32, 12345, ["a"], None):
            with self.subTest(vonage_json_sig=sig):
                payload = json.dumps({**params, "sig": sig}).encode()
                self._assert_refused(self._post_route(self._url("inbound", self.vonage), payload, json_headers))
        self.assertEqual(self._traces_of(number), (False, 0), "nothing was applied")

    def test_unsigned_old_scheme_and_stale_calls_change_nothing(self):
        number = next(self.numbers)
        body = self._json_inbound(number, "STOP")
        now = int(time.time())
        old_scheme = {
            "Content-Type": "application/json",
            "X-Signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        }
        for label, headers in {
            "the signature of the body alone (no time, no nonce)": old_scheme,
            "no signature at all": {"Content-Type": "application/json"},
            "another secret": simulator.signed_headers("guessed", body),
            f"signed {WEBHOOK_TOLERANCE + 60} s ago": simulator.signed_headers(
                SECRET, body, timestamp=now - WEBHOOK_TOLERANCE - 60
            ),
            "signed in the future": simulator.signed_headers(SECRET, body, timestamp=now + WEBHOOK_TOLERANCE + 60),
            "a nonce too short to be one": simulator.signed_headers(SECRET, body, nonce="1"),
        }.items():
            with self.subTest(label):
                self._assert_refused(self._post_route(self._url("inbound", self.sandbox), body, headers))
        self.assertEqual(self._traces_of(number), (False, 0))
        self.assertEqual(self._answers(self.sandbox), 0)
        # the same call signed now passes: the refusals above were the signature's
        response = self._post_route(self._url("inbound", self.sandbox), body, simulator.signed_headers(SECRET, body))
        self.assertEqual(response.json()["results"], [{"number": number, "action": "optout"}])

    # ------------------------------------------------------------------ replays
    def test_replayed_keywords_act_once(self):
        """Our protocol: a captured START, HELP or JOIN/YES posted again is answered 200 and does nothing."""
        url = self._url("inbound", self.sandbox)
        number = next(self.numbers)
        start = self._json_inbound(number, "START")
        captured_start = simulator.signed_headers(SECRET, start)
        self.assertEqual(self._post_route(url, start, captured_start).json()["results"][0]["action"], "optin")
        stop = self._json_inbound(number, "STOP")
        self.assertEqual(self._post_route(url, stop, simulator.signed_headers(SECRET, stop)).status_code, 200)
        blacklisted_after_stop = self._traces_of(number)
        self.assertTrue(blacklisted_after_stop[0])
        answers = self._answers(self.sandbox)  # the STOP's answer leaves first
        balance = self.sandbox.balance

        replay = self._post_route(url, start, captured_start)
        self.assertEqual((replay.status_code, replay.json()), (200, {"results": []}), "a retry: 200, no effect")
        self.assertEqual(self._traces_of(number), blacklisted_after_stop, "the person stays opted out")

        help_body = self._json_inbound(number, "HELP")
        captured_help = simulator.signed_headers(SECRET, help_body)
        self.assertEqual(self._post_route(url, help_body, captured_help).json()["results"][0]["action"], "help")
        self.assertEqual(self._answers(self.sandbox), answers + 1)
        for _attempt in range(3):
            self.assertEqual(self._post_route(url, help_body, captured_help).status_code, 200)
        self.sandbox.invalidate_recordset()
        self.assertEqual(self._answers(self.sandbox), answers + 1, "no second answer SMS")
        self.assertAlmostEqual(self.sandbox.balance, balance - 1.0, msg="one answer charged, not four")

        # the nonce is the call's identity: the same nonce cannot carry another signed call either
        other = self._json_inbound(number, "START")
        same_nonce = simulator.signed_headers(SECRET, other, nonce=captured_start["X-Nonce"])
        self.assertEqual(self._post_route(url, other, same_nonce).json(), {"results": []})
        self.assertEqual(self._traces_of(number), blacklisted_after_stop)

    def test_twilio_replays_act_once(self):
        url = self._url("inbound", self.twilio)
        number = "+12025550177"
        standin = self.twilio_standin
        self.assertEqual(standin.post_inbound(url, number, "START")[0], 200)
        captured_start = standin.posted[-1]
        self.assertEqual(standin.post_inbound(url, number, "STOP")[0], 200)
        self.env.invalidate_all()
        after_stop = self._traces_of(number)
        self.assertTrue(after_stop[0])
        status, body = standin.replay(captured_start)
        self.assertEqual(status, 200)
        self.assertIn(b"<Response>", body, "Twilio gets its empty TwiML: it does not retry")
        self.env.invalidate_all()
        self.assertEqual(self._traces_of(number), after_stop, "the person stays opted out")

        sid = "SM" + "7" * 32
        self._answers(self.twilio)  # the answers queued so far leave
        answered = len(standin.messages)
        self.assertEqual(standin.post_inbound(url, number, "HELP", sid=sid)[0], 200)
        captured_help = standin.posted[-1]
        self.env.invalidate_all()
        answers, sent = self._answers(self.twilio), len(standin.messages)
        self.assertEqual(sent, answered + 1, "HELP was answered through Twilio")
        self.assertEqual(standin.replay(captured_help)[0], 200)
        # the same MessageSid signed again (Twilio's own retry) is the same message
        self.assertEqual(standin.post_inbound(url, number, "HELP", sid=sid)[0], 200)
        self.env.invalidate_all()
        self.assertEqual((self._answers(self.twilio), len(standin.messages)), (answers, sent), "no second answer")

    def test_vonage_replays_and_stale_calls(self):
        url = self._url("inbound", self.vonage)
        standin = self.vonage_standin
        digits = "32470000077"
        self.assertEqual(standin.post_inbound(url, digits, "START")[0], 200)
        captured_start = standin.posted[-1]
        self.assertEqual(standin.post_inbound(url, digits, "STOP")[0], 200)
        self.env.invalidate_all()
        after_stop = self._traces_of(f"+{digits}")
        self.assertTrue(after_stop[0])
        self.assertEqual(standin.replay(captured_start)[0], 200, "within the tolerance: refused as already applied")
        self.env.invalidate_all()
        self.assertEqual(self._traces_of(f"+{digits}"), after_stop, "the person stays opted out")
        # a START signed long ago is refused outright
        stale = int(time.time()) - WEBHOOK_TOLERANCE - 60
        self.assertEqual(standin.post_inbound(url, digits, "START", timestamp=stale), (403, b""))
        self.env.invalidate_all()
        self.assertEqual(self._traces_of(f"+{digits}"), after_stop)

    # ------------------------------------------------------------------ flooding
    def test_oversize_and_unbounded_bodies_are_refused_unread(self):
        number = next(self.numbers)
        padding = "x" * (MAX_WEBHOOK_BODY + 1)
        body = json.dumps({"messages": [{"number": number, "content": "STOP"}], "padding": padding}).encode()
        headers = simulator.signed_headers(SECRET, body)  # well signed: only the size is wrong
        self._assert_refused(self._post_route(self._url("inbound", self.sandbox), body, headers), 413)
        # a chunked body says no length: it could go on forever
        small = self._json_inbound(number, "STOP")
        chunks = iter([small[:10], small[10:]])
        response = self._post_route(self._url("inbound", self.sandbox), chunks, simulator.signed_headers(SECRET, small))
        self._assert_refused(response, 411)
        # a form (Twilio) over the limit, signed: Odoo refuses it before parsing it
        params = [("From", number), ("Body", "STOP"), ("MessageSid", "SM" + "2" * 32), ("Padding", padding)]
        url = self._url("inbound", self.twilio)
        self._assert_refused(self._post_route(url, urlencode(params), self._twilio_headers(url, params)), 413)
        self.assertEqual(self._traces_of(number), (False, 0), "nothing was parsed nor applied")
        # under the limit, the same call passes
        params = params[:3]
        self.assertEqual(self._post_route(url, urlencode(params), self._twilio_headers(url, params)).status_code, 200)
        self.assertTrue(self._traces_of(number)[0])

    def _twilio_headers(self, url, params):
        signature = twilio.signature(self.twilio_standin.auth_token, url, params)
        return {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}


@tagged("post_install", "-at_install")
class TestPageBodyLimit(SmsMarketingLinksCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_tracked_bodies()

    def test_optout_post_over_the_limit_is_refused_unparsed(self):
        trace = self.traces[0]
        optout_path = self._links_of(trace)[1]
        data = urlencode({"choice": "all", "padding": "x" * MAX_PAGE_BODY})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        self.assertEqual(self._post_route(optout_path, data, headers).status_code, 413)
        self.assertFalse(trace.optout_at, "the choice was never read")
        self.assertFalse(self.env["sms.marketing.blacklist"].search([("number", "=", trace.number)]))


@tagged("post_install", "-at_install")
class TestConcurrentDeliveries(TransactionCase):
    """Two deliveries of one call at once, on committed connections of their own: one applies it."""

    def setUp(self):
        super().setUp()
        with self._cursor() as cr:
            self.gateway_id = self._env(cr)["sms.marketing.gateway"].create({"name": "Twice", "provider": "sandbox"}).id
            # the deliveries' own connections must see it
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._drop_gateway)

    def _cursor(self):
        return sql_db.db_connect(self.env.cr.dbname).cursor()

    @staticmethod
    def _env(cr):
        return api.Environment(cr, SUPERUSER_ID, {})

    def _drop_gateway(self):
        with self._cursor() as cr:
            self._env(cr)["sms.marketing.gateway"].browse(self.gateway_id).unlink()  # its keys go with it
            cr.commit()  # pylint: disable=invalid-commit

    def _claim(self, cr, key):
        env = self._env(cr)
        gateway = env["sms.marketing.gateway"].browse(self.gateway_id)
        return env["sms.marketing.webhook.replay"]._claim(gateway, key, time.time() + 60)

    def test_second_delivery_waits_then_is_refused(self):
        with self._cursor() as first, self._cursor() as second:
            self.assertTrue(self._claim(first, "nonce:twice"))
            # while the first delivery's transaction runs, the second cannot pass: it waits on that key only
            second.execute("SET LOCAL lock_timeout = '200ms'")
            with self.assertRaises(psycopg2.errors.LockNotAvailable), self.assertLogs("odoo.sql_db", "ERROR"):
                self._claim(second, "nonce:twice")
            second.rollback()
            first.commit()
            self.assertFalse(self._claim(second, "nonce:twice"), "applied once: the second is refused")
            second.rollback()
            # a delivery whose transaction failed leaves its key free: the provider's retry applies it
            self.assertTrue(self._claim(first, "nonce:failed"))
            first.rollback()
            self.assertTrue(self._claim(second, "nonce:failed"))
            second.rollback()

    def test_delivery_overtaken_inside_its_snapshot_is_retried(self):
        """Odoo's transactions are REPEATABLE READ: a delivery that began before the other one committed
        gets a serialization failure, which Odoo's HTTP layer answers by running the request again."""
        with self._cursor() as first, self._cursor() as second:
            second.execute("SELECT 1")  # its snapshot is taken
            self.assertTrue(self._claim(first, "nonce:overtaken"))
            first.commit()
            with self.assertRaises(psycopg2.errors.SerializationFailure), self.assertLogs("odoo.sql_db", "ERROR"):
                self._claim(second, "nonce:overtaken")
            second.rollback()
            self.assertFalse(self._claim(second, "nonce:overtaken"), "the retry is refused")
            second.rollback()
