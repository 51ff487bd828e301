import inspect
import json

from odoo.exceptions import UserError
from odoo.tests import Form, TransactionCase, tagged

from ..providers import (
    ACCEPTED,
    FINAL_ERRORS,
    INSUFFICIENT_CREDIT,
    PROVIDERS,
    SERVER_ERROR,
    SmsGatewayError,
    SmsGatewayTransientError,
    SmsProvider,
    register_provider,
)
from ..providers.base import SignedJsonWebhooks
from ..providers.sandbox import SandboxProvider
from .common import SmsEngineCase, load_gateway_simulator

# The interface of providers/base.py: method -> its parameters after self.
INTERFACE = {
    "send": ["messages"],
    "fetch_balance": [],
    "fetch_prices": [],
    "verify_webhook": ["raw_body", "headers", "url"],
    "webhook_replay_key": ["raw_body", "headers", "url", "kind"],
    "parse_statuses": ["raw_body", "headers", "url"],
    "parse_inbound": ["raw_body", "headers", "url"],
    "webhook_response": ["kind", "answer"],
    "lookup": ["messages"],
}
PROTOCOL_STATES = {*ACCEPTED, *FINAL_ERRORS, INSUFFICIENT_CREDIT, SERVER_ERROR}
# Every field a provider may show on the gateway form.
CONNECTION_FIELDS = ("endpoint_url", "account_id", "api_key", "webhook_secret", "timeout")
SANDBOX_FIELDS = ("sandbox_delivery", "sandbox_failure_rate", "sandbox_undelivered_rate")


class _RegisteredFakeProvider:
    """A provider registered for one test and unregistered after, like a module adding one."""

    def __init__(self, case, cls):
        self.cls = register_provider(cls)
        case.addCleanup(PROVIDERS.pop, cls.key, None)


@tagged("post_install", "-at_install")
class TestProviderRegistry(TransactionCase):
    def test_every_selection_key_has_a_full_provider(self):
        keys = [
            key
            for key, _label in self.env["sms.marketing.gateway"]._fields["provider"]._description_selection(self.env)
        ]
        self.assertIn("sandbox", keys)
        self.assertIn("http", keys)
        self.assertEqual(keys, list(PROVIDERS))
        for key in keys:
            cls = PROVIDERS[key]
            with self.subTest(provider=key):
                self.assertTrue(issubclass(cls, SmsProvider))
                self.assertEqual(cls.key, key)
                self.assertTrue(str(cls.label))
                self.assertIsInstance(cls.idempotent, bool)
                self.assertTrue(cls.overrides("send"), "a provider must send")
                for name, params in INTERFACE.items():
                    method = getattr(cls, name)
                    self.assertTrue(callable(method), name)
                    self.assertEqual(list(inspect.signature(method).parameters)[1:], params, name)
                known = set(self.env["sms.marketing.gateway"]._fields)
                self.assertLessEqual(set(cls.gateway_fields), known, "gateway_fields are gateway fields")
                self.assertLessEqual(set(cls.required_fields), set(cls.gateway_fields))

    def test_engine_relies_on_idempotent_providers(self):
        self.assertTrue(PROVIDERS["sandbox"].idempotent)
        self.assertTrue(PROVIDERS["http"].idempotent)
        self.assertFalse(SmsProvider.idempotent, "a provider must say it deduplicates uuids")

    def test_a_key_is_registered_once(self):
        class Duplicate(SmsProvider):
            key = "sandbox"
            label = "Another sandbox"

        with self.assertRaises(TypeError):
            register_provider(Duplicate)
        self.assertIs(PROVIDERS["sandbox"], SandboxProvider)
        with self.assertRaises(TypeError):
            register_provider(type("Nameless", (SmsProvider,), {}))

    def test_new_provider_plugs_in_without_touching_the_gateway(self):
        class Acme(SignedJsonWebhooks, SmsProvider):
            key = "acme_test"
            label = "Acme (test)"
            default_endpoint = "https://api.acme.example"
            gateway_fields = ("account_id", "api_key")
            required_fields = ("account_id",)

            def send(self, messages):
                return [self.result(m["uuid"], "sent", 1, 0.5) for m in messages]

        _RegisteredFakeProvider(self, Acme)
        Gateway = self.env["sms.marketing.gateway"]
        self.assertIn(("acme_test", "Acme (test)"), Gateway._selection_provider())
        with self.assertRaises(UserError, msg="its required fields are enforced"), self.env.cr.savepoint():
            Gateway.create({"name": "Acme", "provider": "acme_test"})
        gateway = Gateway.create({"name": "Acme", "provider": "acme_test", "account_id": "AC1"})
        self.assertEqual(gateway.provider_fields, ",account_id,api_key,")
        self.assertFalse(gateway.provider_can_refresh)
        self.assertFalse(gateway.provider_simulated)
        provider = gateway._get_provider()
        self.assertEqual(provider.base_url(), "https://api.acme.example", "the public URL by default")
        gateway.endpoint_url = "http://127.0.0.1:9/acme/"
        self.assertEqual(provider.base_url(), "http://127.0.0.1:9/acme", "endpoint_url overrides it")
        self.assertEqual(
            gateway._send_batch([{"uuid": "c" * 32, "number": "+32470000001", "content": "Hi"}]),
            [{"uuid": "c" * 32, "state": "sent", "segments": 1, "credits": 0.5}],
        )
        self.assertEqual(gateway._refresh_balance(), gateway.balance, "no remote balance: the ledger is the truth")
        self.assertFalse(gateway.credit_move_ids)

    def test_unknown_provider_key(self):
        gateway = self.env["sms.marketing.gateway"].create({"name": "Gone", "provider": "sandbox"})
        # as if the addon of its provider had been removed
        self.env.cr.execute("UPDATE sms_marketing_gateway SET provider = 'gone' WHERE id = %s", [gateway.id])
        gateway.invalidate_recordset()
        with self.assertRaises(SmsGatewayError):
            gateway._send_batch([{"uuid": "d" * 32, "number": "+32470000001", "content": "Hi"}])
        self.assertIsNone(gateway._get_provider(raise_if_unknown=False))
        self.assertFalse(gateway._check_signature(b"{}", {"X-Signature": "00"}))

    def test_gateway_form_shows_each_providers_fields(self):
        admin_env = self.env(user=self.env.ref("base.user_admin"))
        every_field = CONNECTION_FIELDS + SANDBOX_FIELDS
        for key, cls in PROVIDERS.items():
            with self.subTest(provider=key):
                form = Form(admin_env["sms.marketing.gateway"])
                form.name = f"Form {key}"
                form.provider = key
                for name in every_field:
                    visible = not form._get_modifier(name, "invisible")
                    self.assertEqual(visible, name in cls.gateway_fields, f"{name} on the {key} form")
        self.assertIn("endpoint_url", PROVIDERS["http"].gateway_fields)
        self.assertNotIn("endpoint_url", PROVIDERS["sandbox"].gateway_fields)
        self.assertNotIn("account_id", PROVIDERS["http"].gateway_fields, "for the providers to come")


@tagged("post_install", "-at_install")
class TestSandboxProvider(SmsEngineCase):
    def _send(self, numbers, **values):
        self.sandbox.write(values)
        messages = [
            {"uuid": f"{i:032x}", "number": number, "content": "Hi", "country_code": "BE"}
            for i, number in enumerate(numbers)
        ]
        return [(r["state"], r.get("delivery")) for r in self.sandbox._send_batch(messages)]

    def test_test_numbers_are_deterministic(self):
        numbers = ["+32475550001", "+32475550002", "+32475550009", "+32475550008", "+32475550004", "+32475550003"]
        expected = [
            ("wrong_number_format", None),
            ("country_not_supported", None),
            ("rejected", None),
            ("server_error", None),
            ("sent", "undelivered"),
            ("sent", "delivered"),
        ]
        self.assertEqual(self._send(numbers), expected)
        # the rates do not change the fate of a test number
        self.assertEqual(self._send(numbers[:5], sandbox_failure_rate=100.0), expected[:5])
        self.assertEqual(
            self._send(numbers[4:], sandbox_failure_rate=0.0, sandbox_undelivered_rate=0.0),
            [("sent", "undelivered"), ("sent", "delivered")],
        )
        self.assertEqual(self._send(numbers[4:], sandbox_delivery=False), [("sent", None), ("sent", None)])

    def test_refused_test_numbers_cost_nothing(self):
        results = self.sandbox._send_batch(
            [
                {"uuid": "e" * 32, "number": "+32475550009", "content": "Hi"},
                {"uuid": "f" * 32, "number": "+32475550004", "content": "x" * 161},
            ]
        )
        self.assertEqual([(r["segments"], r["credits"]) for r in results], [(0, 0.0), (2, 2.0)])

    def test_rates_are_stable_per_uuid(self):
        numbers = [f"+3247{i:07d}" for i in range(40)]
        self.assertEqual(self._send(numbers, sandbox_failure_rate=100.0), [("rejected", None)] * 40)
        self.assertEqual(self._send(numbers, sandbox_failure_rate=0.0, sandbox_undelivered_rate=0.0)[0][0], "sent")
        half = self._send(numbers, sandbox_failure_rate=50.0, sandbox_undelivered_rate=0.0)
        self.assertEqual(half, self._send(numbers), "the same uuids get the same fate again")
        ratios = [SandboxProvider.ratio(f"{i:032x}", "reject") for i in range(40)]
        self.assertEqual([s == "rejected" for s, _d in half], [r < 50.0 for r in ratios])
        self.assertTrue(all(0 <= r < 100 for r in ratios))
        self.assertGreater(len(set(ratios)), 30, "uuids draw different ratios")
        self.assertNotEqual(ratios, [SandboxProvider.ratio(f"{i:032x}", "dlr") for i in range(40)])

    def test_sandbox_has_no_remote_account(self):
        before = self.sandbox.balance
        moves = len(self.sandbox.credit_move_ids)
        self.sandbox.action_refresh()
        self.assertEqual(self.sandbox.balance, before)
        self.assertEqual(len(self.sandbox.credit_move_ids), moves)
        self.assertTrue(self.sandbox.provider_simulated)
        self.assertFalse(self.sandbox.provider_can_refresh)
        self.assertTrue(self.http_gateway.provider_can_refresh)


@tagged("post_install", "-at_install")
class TestHttpProvider(SmsEngineCase):
    MESSAGES = (
        {"uuid": "1" * 32, "number": "+32470000001", "content": "Hi", "sender": ""},
        {"uuid": "2" * 32, "number": "+32470000002", "content": "Hi", "sender": ""},
    )

    def setUp(self):
        super().setUp()
        self.addCleanup(self.sim.configure, raw_answers={}, fail_next=[], api_key=self.sim.api_key)

    def _send(self):
        return self.http_gateway._send_batch([dict(m) for m in self.MESSAGES])

    def _garbage(self, path, body):
        self.sim.configure(raw_answers={path: body if isinstance(body, str) else json.dumps(body)})

    def test_send_and_duplicate(self):
        self.sim.configure(number_states={"+32470000002": "rejected"})
        first = self._send()
        self.assertEqual(
            [(r["state"], r["segments"], r["credits"]) for r in first], [("sent", 1, 1.0), ("rejected", 0, 0.0)]
        )
        self.assertEqual(self._send()[0]["state"], "duplicate", "a resent uuid is not sent twice")
        self.assertEqual(len(self.sim.state()["sent"]), 1)

    def test_transient_errors(self):
        for failure in (503, 500, 429):
            self.sim.configure(fail_next=[failure])
            with self.subTest(failure=failure), self.assertRaises(SmsGatewayTransientError):
                self._send()
        self.sim.configure(fail_next=["timeout"])  # the simulator answers 504 after 1 s
        with self.assertRaises(SmsGatewayTransientError) as caught:
            self._send()
        self.assertIn("ReadTimeout", str(caught.exception), "the gateway's timeout (0.5 s) cut the wait")
        self.assertEqual(self.sim.state()["sent"], [], "nothing was sent")

    def test_refused_key_is_not_transient(self):
        self.sim.configure(api_key="another-key")
        with self.assertRaises(SmsGatewayError) as caught:
            self._send()
        self.assertNotIsInstance(caught.exception, SmsGatewayTransientError)
        with self.assertRaises(UserError):
            self.http_gateway.action_refresh()

    def test_unreachable_endpoint(self):
        self.http_gateway.endpoint_url = "http://127.0.0.1:9"
        with self.assertRaises(SmsGatewayTransientError):
            self._send()

    def test_garbage_answers_raise_transient(self):
        for body in ("<html>Bad gateway</html>", "", [1, 2], "null", {"results": "sent"}, {"results": {"a": 1}}):
            self._garbage("/sms/v1/send", body)
            with self.subTest(body=body), self.assertRaises(SmsGatewayTransientError):
                self._send()

    def test_garbage_results_become_server_error(self):
        one, two = (m["uuid"] for m in self.MESSAGES)
        cases = [
            ({"results": []}, ["server_error", "server_error"]),
            ({"results": [{"state": "sent", "credits": 1}], "balance": 1}, ["server_error", "server_error"]),
            ({"results": ["sent", None, {"uuid": one, "state": "sent", "credits": "one"}]}, ["server_error"] * 2),
            (
                {"results": [{"uuid": one, "state": "sent", "credits": 1}, {"uuid": two, "state": "maybe"}]},
                ["sent", "server_error"],
            ),
            (
                {"results": [{"uuid": two, "state": "sent", "segments": {"n": 1}}, {"uuid": "x", "state": "sent"}]},
                ["server_error"] * 2,
            ),
            (
                {"results": [{"uuid": one, "state": "sent", "credits": -3}, {"uuid": [two], "state": "sent"}]},
                ["server_error"] * 2,
            ),
        ]
        for answer, states in cases:
            self._garbage("/sms/v1/send", answer)
            with self.subTest(answer=answer):
                results = self._send()
                self.assertEqual([r["uuid"] for r in results], [one, two], "one result per message")
                self.assertEqual([r["state"] for r in results], states)
                self.assertTrue(all(isinstance(r["credits"], float) for r in results))

    def test_balance_and_prices(self):
        self.sim.configure(prices={"BE": 0.5, "US": 0.25, "*": 2.0}, balance=321.0)
        provider = self.http_gateway._get_provider()
        self.assertEqual(provider.fetch_balance(), 321.0)
        self.assertEqual(sorted(provider.fetch_prices(), key=str), [("BE", 0.5), ("US", 0.25), (False, 2.0)])
        self.http_gateway.action_refresh()
        self.assertEqual(self.http_gateway.balance, 321.0)
        self.assertEqual(self.http_gateway._get_prices(), {"BE": 0.5, "US": 0.25, False: 2.0})
        self.assertAlmostEqual(self._ledger_balance(self.http_gateway), 321.0)

    def test_garbage_balance_and_prices_change_nothing(self):
        self.sim.configure(prices={"BE": 0.5, "*": 2.0}, balance=50.0)
        self.http_gateway.action_refresh()
        for path, body in (
            ("/sms/v1/balance", "not json"),
            ("/sms/v1/balance", {"balance": "lots"}),
            ("/sms/v1/balance", {}),
            ("/sms/v1/balance", [50]),
            ("/sms/v1/prices", {"prices": "cheap"}),
            ("/sms/v1/prices", {"prices": [{"country": "BE", "price": "free"}]}),
            ("/sms/v1/prices", {"prices": [{"country": "BE", "price": 0.1}, "US"]}),
        ):
            self._garbage(path, body)
            with self.subTest(path=path, body=body), self.assertRaises(UserError):
                self.http_gateway.action_refresh()
            self.assertEqual(self.http_gateway.balance, 50.0)
            self.assertEqual(self.http_gateway._get_prices(), {"BE": 0.5, False: 2.0})

    def test_endpoint_required(self):
        with self.assertRaises(UserError), self.env.cr.savepoint():
            self.env["sms.marketing.gateway"].create({"name": "No endpoint", "provider": "http"})
        with self.assertRaises(UserError), self.env.cr.savepoint():
            self.http_gateway.endpoint_url = False


@tagged("post_install", "-at_install")
class TestWebhookSignatures(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.signed = staticmethod(load_gateway_simulator().signed_headers)
        Gateway = cls.env["sms.marketing.gateway"]
        cls.gateway = Gateway.create(
            {"name": "Signed", "provider": "http", "endpoint_url": "http://127.0.0.1:9", "webhook_secret": "s3cret"}
        )
        cls.other = Gateway.create(
            {"name": "Other", "provider": "http", "endpoint_url": "http://127.0.0.1:9", "webhook_secret": "other"}
        )
        cls.no_secret = Gateway.create({"name": "No secret", "provider": "sandbox"})
        cls.body = json.dumps({"statuses": [{"uuid": "0" * 32, "state": "delivered"}]}).encode()

    def _route(self, gateway, body=None, headers=None, kind="statuses"):
        body = self.body if body is None else body
        if headers is None:
            headers = self.signed("s3cret", body)
        return self.env["sms.marketing.gateway"]._route_webhook(gateway.id, body, headers, "http://x/", kind)

    def test_good_signature(self):
        self.assertEqual(self._route(self.gateway), (200, {"updated": 0}))
        lower = {name.lower(): value for name, value in self.signed("s3cret", self.body).items()}
        self.assertEqual(self._route(self.gateway, headers=lower)[0], 200, "header names in any case")
        self.assertTrue(self.gateway._check_signature(self.body, self.signed("s3cret", self.body)))

    def test_bad_signatures(self):
        good = self.signed("s3cret", self.body)
        forged = good["X-Signature"][:-1] + ("0" if good["X-Signature"][-1] != "0" else "1")
        cases = {
            "forged": {**good, "X-Signature": forged},
            "missing": {},
            "empty": {**good, "X-Signature": ""},
            "other gateway's secret": self.signed("other", self.body),
            "body changed": self.signed("s3cret", self.body + b" "),
            "not text": {**good, "X-Signature": None},
        }
        for label, headers in cases.items():
            with self.subTest(label):
                self.assertEqual(self._route(self.gateway, headers=headers), (403, None))
        self.assertFalse(self.gateway._check_signature(self.body, {**good, "X-Signature": forged}))
        self.assertFalse(self.gateway._check_signature(self.body, None))
        self.assertTrue(self.other._check_signature(self.body, self.signed("other", self.body)))

    def test_no_secret_no_webhook(self):
        headers = self.signed("", self.body)
        self.assertEqual(self._route(self.no_secret, headers=headers), (403, None))
        self.assertFalse(self.no_secret._check_signature(self.body, headers))
        self.assertEqual(self._route(self.gateway.browse(self.other.id + 1000)), (403, None), "unknown gateway")

    def test_signed_garbage_is_400(self):
        for body in (b"not json", b"[1]", b'{"statuses": {"uuid": 1}}', b'{"statuses": [1]}', b"[" * 100000):
            headers = self.signed("s3cret", body)
            with self.subTest(body=body[:20]):
                self.assertEqual(self._route(self.gateway, body=body, headers=headers), (400, None))

    def test_inbound_is_read_by_the_provider(self):
        body = json.dumps({"messages": [{"from": "32470000042", "content": "STOP"}, {"number": "+1", "content": "x"}]})
        body = body.encode()
        status, answer = self._route(self.gateway, body, self.signed("s3cret", body), "messages")
        self.assertEqual(status, 200)
        self.assertEqual(
            answer["results"], [{"number": "+32470000042", "action": "optout"}, {"number": None, "action": "ignored"}]
        )
        blacklisted = self.env["sms.marketing.blacklist"].search([("number", "=", "+32470000042")])
        self.assertEqual(blacklisted.source, "keyword")


@tagged("post_install", "-at_install")
class TestGatewayPrices(TransactionCase):
    def test_prices_fall_back_to_default_price(self):
        gateway = self.env["sms.marketing.gateway"].create({"name": "Prices", "default_price": 1.5})
        self.assertEqual(gateway._get_prices(), {False: 1.5})
        be = self.env.ref("base.be")
        price = self.env["sms.marketing.gateway.price"].create(
            {"gateway_id": gateway.id, "country_id": be.id, "price": 0.7}
        )
        self.assertEqual(gateway._get_prices(), {"BE": 0.7, False: 1.5})
        gateway.default_price = 2.0
        self.assertEqual(gateway._get_prices()[False], 2.0)
        price.price = 0.8  # an ORM write not yet flushed is seen
        self.assertEqual(gateway._get_prices()["BE"], 0.8)
        self.env["sms.marketing.gateway.price"].create({"gateway_id": gateway.id, "country_id": False, "price": 3.0})
        self.assertEqual(gateway._get_prices(), {"BE": 0.8, False: 3.0}, "the line without country wins")
