"""Credentials stay bound to where an administrator sent them.

The attacker is an SMS Marketing / Manager who is not a Settings
administrator: they cannot read a gateway's credentials, and must not be able
to have them sent to a server of theirs by changing the gateway's provider,
endpoint or account and pressing Refresh Balance and Prices. The "attacker's
server" and the provider's are HTTP servers of the test on 127.0.0.1 that
record what reaches them.
"""

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from .common import RecordingServer, SmsMarketingCase

HTTP_KEY = "sk-http-bearer-secret"
TWILIO_SID = "AC" + "5" * 32
TWILIO_TOKEN = "twilio-auth-token-secret"
VONAGE_KEY = "vonage-api-key-secret"
VONAGE_SECRET = "vonage-api-secret-secret"
WEBHOOK_SECRET = "whsec-webhook-secret"
SECRETS = (HTTP_KEY, TWILIO_SID, TWILIO_TOKEN, VONAGE_KEY, VONAGE_SECRET, WEBHOOK_SECRET)


@tagged("post_install", "-at_install")
class TestGatewaySecretsStayBound(SmsMarketingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider_server = RecordingServer().start()  # where the administrator sent the credentials
        cls.attacker_server = RecordingServer().start()  # where the manager wants them
        cls.addClassCleanup(cls.provider_server.stop)
        cls.addClassCleanup(cls.attacker_server.stop)
        Gateway = cls.env["sms.marketing.gateway"].with_user(cls.user_admin)
        connection = {"endpoint_url": cls.provider_server.url, "allow_private_network": True, "timeout": 2}
        cls.http_gateway = Gateway.create(
            {
                "name": "HTTP provider",
                "provider": "http",
                "api_key": HTTP_KEY,
                "webhook_secret": WEBHOOK_SECRET,
                **connection,
            }
        )
        cls.twilio_gateway = Gateway.create(
            {"name": "Twilio", "provider": "twilio", "account_id": TWILIO_SID, "api_key": TWILIO_TOKEN, **connection}
        )
        cls.vonage_gateway = Gateway.create(
            {
                "name": "Vonage",
                "provider": "vonage",
                "account_id": VONAGE_KEY,
                "api_key": VONAGE_SECRET,
                "webhook_secret": WEBHOOK_SECRET,
                **connection,
            }
        )

    def setUp(self):
        super().setUp()
        self.provider_server.answer()
        self.attacker_server.answer()

    def _assert_no_secret_reached_attacker(self):
        received = self.attacker_server.received_text()
        for secret in SECRETS:
            self.assertNotIn(secret, received, "a credential reached the server the manager chose")

    def _assert_secrets_kept(self, gateway, **expected):
        gateway = gateway.with_user(self.user_admin)
        for name, value in expected.items():
            self.assertEqual(gateway[name], value, f"{name} of {gateway.name}")

    # ------------------------------------------------------------------ manager
    def test_manager_cannot_send_http_bearer_key_elsewhere(self):
        gateway = self.http_gateway.with_user(self.user_manager)
        with self.assertRaises(UserError) as caught:
            gateway.write({"name": "Renamed", "endpoint_url": self.attacker_server.url})
        self.assertIn("Only a Settings administrator", str(caught.exception))
        self.env.invalidate_all()
        # nothing half-saved: the name written with the endpoint did not change either
        self.assertEqual((gateway.name, gateway.endpoint_url), ("HTTP provider", self.provider_server.url))
        gateway.action_refresh()
        self.assertEqual(self.attacker_server.requests, [])
        self._assert_no_secret_reached_attacker()
        # Refresh still works, and still goes to the provider the administrator chose
        self.assertIn(f"Bearer {HTTP_KEY}", self.provider_server.received_text())
        self._assert_secrets_kept(self.http_gateway, api_key=HTTP_KEY, webhook_secret=WEBHOOK_SECRET)

    def test_manager_cannot_send_twilio_basic_auth_elsewhere(self):
        gateway = self.twilio_gateway.with_user(self.user_manager)
        with self.assertRaises(UserError):
            gateway.write({"endpoint_url": self.attacker_server.url})
        gateway.action_refresh()
        self.assertEqual(self.attacker_server.requests, [])
        self._assert_no_secret_reached_attacker()
        self.assertIn(f"{TWILIO_SID}:{TWILIO_TOKEN}", self.provider_server.received_text())

    def test_manager_cannot_change_provider_or_account(self):
        """From Vonage to http, the Vonage API secret would become the Bearer key sent to the endpoint."""
        gateway = self.vonage_gateway.with_user(self.user_manager)
        with self.assertRaises(UserError):
            gateway.write({"provider": "http"})
        with self.assertRaises(UserError):
            gateway.write({"provider": "http", "endpoint_url": self.attacker_server.url})
        with self.assertRaises(UserError):  # AccessError or the refusal: the account is an administrator's field
            gateway.write({"account_id": "attacker-account"})
        self.env.invalidate_all()
        self.assertEqual((gateway.provider, gateway.endpoint_url), ("vonage", self.provider_server.url))
        self._assert_secrets_kept(
            self.vonage_gateway, account_id=VONAGE_KEY, api_key=VONAGE_SECRET, webhook_secret=WEBHOOK_SECRET
        )
        gateway.action_refresh()
        self._assert_no_secret_reached_attacker()

    def test_manager_cannot_allow_private_addresses(self):
        gateway = (
            self.env["sms.marketing.gateway"]
            .with_user(self.user_manager)
            .create({"name": "Manager's", "provider": "http", "endpoint_url": self.attacker_server.url})
        )
        with self.assertRaises(AccessError):
            gateway.write({"allow_private_network": True})
        # a gateway an administrator allowed to call private addresses keeps its endpoint too
        self.http_gateway.write({"api_key": False, "webhook_secret": False})
        with self.assertRaises(UserError):
            self.http_gateway.with_user(self.user_manager).write({"endpoint_url": self.attacker_server.url})

    def test_manager_keeps_the_rest_of_the_gateway(self):
        """Only the connection is bound: the manager still runs the gateway, and may set up one without credentials."""
        gateway = self.twilio_gateway.with_user(self.user_manager)
        gateway.write(
            {"name": "Twilio US", "sender": "+15005550006", "timeout": 3, "endpoint_url": self.provider_server.url}
        )
        self.assertEqual(gateway.sender, "+15005550006")
        self.assertTrue(gateway.connection_locked)
        self.assertFalse(self.twilio_gateway.with_user(self.user_admin).connection_locked)
        form = Form(gateway)
        form.name = "Twilio United States"
        with self.assertRaises(AssertionError):  # the form shows the endpoint read-only
            form.endpoint_url = self.attacker_server.url
        form.save()
        own = (
            self.env["sms.marketing.gateway"]
            .with_user(self.user_manager)
            .create({"name": "To be configured", "provider": "http", "endpoint_url": "https://sms.example.com"})
        )
        self.assertFalse(own.connection_locked)
        own.write({"endpoint_url": "https://api.example.com"})

    # ------------------------------------------------------------------ administrator
    def test_administrator_moves_gateway_with_its_credentials(self):
        gateway = self.http_gateway.with_user(self.user_admin)
        gateway.write({"endpoint_url": self.attacker_server.url})
        self._assert_secrets_kept(gateway, api_key=HTTP_KEY, webhook_secret=WEBHOOK_SECRET, allow_private_network=True)
        gateway.action_refresh()
        self.assertIn(f"Bearer {HTTP_KEY}", self.attacker_server.received_text(), "the administrator sent it there")
        twilio = self.twilio_gateway.with_user(self.user_admin)
        twilio.write({"provider": "vonage", "account_id": "new-account"})
        self._assert_secrets_kept(twilio, account_id="new-account", api_key=TWILIO_TOKEN)

    def test_iap_endpoint_is_for_administrators_only(self):
        """The IAP bridge (sms_marketing_custom_iap) calls the system parameters sms.endpoint and
        iap.endpoint with the database's IAP token: a manager cannot redirect them."""
        Param = self.env["ir.config_parameter"].with_user(self.user_manager)
        for key in ("sms.endpoint", "iap.endpoint"):
            with self.subTest(key=key), self.assertRaises(AccessError):
                Param.set_param(key, self.attacker_server.url)
