from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .common import SmsEngineCase


@tagged("post_install", "-at_install")
class TestGateway(SmsEngineCase):
    def test_sandbox_ready_at_install(self):
        gateway = self.env["sms.marketing.gateway"]._get_default()
        self.assertTrue(gateway)
        self.assertEqual(self.sandbox.provider, "sandbox")
        self.assertGreater(self.sandbox.balance, 0)
        self.assertAlmostEqual(self._ledger_balance(self.sandbox), self.sandbox.balance)

    def test_balance_never_negative(self):
        balance = self.sandbox.balance
        self.assertFalse(self.sandbox._reserve(balance + 1))
        self.assertEqual(self.sandbox.balance, balance)
        self.assertTrue(self.sandbox._reserve(balance))
        self.assertEqual(self.sandbox.balance, 0.0)
        self.sandbox._settle(balance, balance - 2)
        self.assertEqual(self.sandbox.balance, 2.0)
        self.sandbox._settle(0.0, 5.0)  # charged more than reserved: only what is there
        self.assertEqual(self.sandbox.balance, 0.0)
        self.assertAlmostEqual(self._ledger_balance(self.sandbox), 0.0)

    def test_secrets_for_administrators_only(self):
        gateway = self.http_gateway.with_user(self.user_manager)
        self.assertEqual(gateway.name, "Simulator")
        with self.assertRaises(AccessError):
            gateway.read(["api_key"])
        with self.assertRaises(AccessError):
            self.http_gateway.with_user(self.user_marketing).read(["webhook_secret"])
        self.http_gateway.account_id = "AC-123"
        with self.assertRaises(AccessError):
            gateway.read(["account_id"])
        self.assertNotIn("account_id", gateway.fields_get())
        self.assertEqual(self.http_gateway.with_user(self.env.ref("base.user_admin")).account_id, "AC-123")
        self.assertEqual(self.http_gateway.with_user(self.env.ref("base.user_admin")).api_key, self.sim.api_key)

    def test_demo_credits_only_for_sandbox(self):
        with self.assertRaises(UserError):
            self.http_gateway.action_add_demo_credits()
        before = self.sandbox.balance
        self.sandbox.action_add_demo_credits()
        self.assertEqual(self.sandbox.balance, before + 1000)

    def test_http_send_batch(self):
        results = self.http_gateway._send_batch(
            [
                {"uuid": "a" * 32, "number": "+32470000001", "content": "Hi", "sender": ""},
                {"uuid": "b" * 32, "number": "12", "content": "Hi", "sender": ""},
            ]
        )
        self.assertEqual([r["state"] for r in results], ["sent", "wrong_number_format"])
        again = self.http_gateway._send_batch([{"uuid": "a" * 32, "number": "+32470000001", "content": "Hi"}])
        self.assertEqual(again[0]["state"], "duplicate")
        self.assertEqual(len(self.sim.state()["sent"]), 1)

    def test_simulator_signature(self):
        body = b'{"statuses": []}'
        headers = self.simulator_module.signed_headers(self.sim.webhook_secret, body)
        self.assertTrue(self.http_gateway._check_signature(body, headers))
        self.assertFalse(self.http_gateway._check_signature(body + b" ", headers))
        self.assertFalse(self.http_gateway._check_signature(body, dict(headers, **{"X-Signature": ""})))

    def test_segment_fast_path_matches_count_segments(self):
        from ..tools.sms_encoding import count_segments, segment_count

        samples = ["", "Hello", "a" * 160, "a" * 161, "b" * 306, "b" * 307, "Price: 5$ @shop_1\nBye\r"]
        samples += [c * 80 for c in "^{}\\[~]|`€é\x07\t\f"] + ["x" * 159 + "{", "Réduction 20%", "😀" * 35]
        for text in samples:
            self.assertEqual(segment_count(text), count_segments(text).segments, repr(text))

    def test_gateway_created_from_the_form_reads_its_account(self):
        """A new HTTP gateway shows the provider's balance and prices at once, not 0 credits;
        an unreachable provider does not stop the creation."""
        self.sim.configure(balance=321.0, prices={"BE": 0.5, "*": 2.0})
        action = self.env["ir.actions.act_window"]._for_xml_id("sms_marketing_custom.sms_marketing_gateway_action")
        Gateway = self.env["sms.marketing.gateway"].with_context(**safe_eval(action["context"]))
        values = {
            "provider": "http",
            "api_key": self.sim.api_key,
            "webhook_secret": self.sim.webhook_secret,
            "allow_private_network": True,  # the simulator listens on 127.0.0.1
        }
        gateway = Gateway.create({"name": "New provider", "endpoint_url": self.sim.url, **values})
        self.assertEqual(gateway.balance, 321.0)
        self.assertEqual(gateway._get_prices(), {"BE": 0.5, False: 2.0})
        self.assertAlmostEqual(self._ledger_balance(gateway), 321.0)
        down = Gateway.create({"name": "Down provider", "endpoint_url": "http://127.0.0.1:9", **values})
        self.assertEqual(down.balance, 0.0)
        # created without the form's context (imports, code): nothing is read
        quiet = self.env["sms.marketing.gateway"].create({"name": "Quiet", "endpoint_url": self.sim.url, **values})
        self.assertEqual(quiet.balance, 0.0)
