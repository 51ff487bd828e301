"""Outbound calls cannot be abused: the gateway's endpoint is no way into the server's network.

A manager (not a Settings administrator) points a gateway at what only the
Odoo server can reach, or at a server that redirects elsewhere or answers
with what it read, and presses Refresh. Every refusal happens before any
connection: for the whole class, ``loopback_only`` makes any connection
beyond 127.0.0.1 / ::1 fail at once (and lists it in ``attempts``), so these
tests never send a packet off the machine, even against code that would try.
"""

import ipaddress
import socket
from contextlib import contextmanager
from unittest.mock import patch

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tests.common import _super_send

from ..providers import SmsGatewayError, SmsGatewayTransientError
from ..tools import outbound
from .common import RecordingServer, SmsMarketingCase

MARKER = "INTERNAL-ANSWER-7f3a9c"  # what the endpoint's server answers, never shown to non-administrators
PRIVATE = "local or private network address"


@contextmanager
def loopback_only():
    """Connections beyond the loopback fail before a packet leaves; the list of those tried."""
    attempts = []
    original = socket.socket.connect

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = str(address[0]).split("%")[0]
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                attempts.append(host)
                raise ConnectionRefusedError(f"the test allows no connection to {host}")
        return original(sock, address)

    with patch.object(socket.socket, "connect", connect):
        yield attempts


@tagged("post_install", "-at_install")
class TestOutboundCalls(SmsMarketingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        guard = loopback_only()
        cls.attempts = guard.__enter__()
        cls.addClassCleanup(guard.__exit__, None, None, None)
        cls.server = RecordingServer().start()
        cls.elsewhere = RecordingServer().start()  # the other host a redirect points to
        cls.addClassCleanup(cls.server.stop)
        cls.addClassCleanup(cls.elsewhere.stop)
        Gateway = cls.env["sms.marketing.gateway"]
        cls.gateway = Gateway.create(
            {"name": "HTTP", "provider": "http", "endpoint_url": cls.server.url, "api_key": "sk-bearer", "timeout": 2}
        )
        cls.twilio = Gateway.create(
            {
                "name": "Twilio",
                "provider": "twilio",
                "endpoint_url": cls.server.url,
                "account_id": "AC" + "7" * 32,
                "api_key": "twilio-token",
                "sender": "+15005550006",
                "timeout": 2,
            }
        )
        cls.vonage = Gateway.create(
            {
                "name": "Vonage",
                "provider": "vonage",
                "endpoint_url": cls.server.url,
                "account_id": "vonage-key",
                "api_key": "vonage-secret",
                "sender": "Shop",
                "timeout": 2,
            }
        )
        cls.message = {"uuid": "c" * 32, "number": "+32470000031", "content": "Hi", "sender": "Shop", "segments": 1}

    @classmethod
    def _request_handler(cls, session, request, /, **kwargs):
        # Odoo's tests stop requests to hosts other than 127.0.0.1 and localhost before they reach
        # the adapter, which must see them to refuse them; loopback_only keeps every connection local.
        return _super_send(session, request, **kwargs)

    def setUp(self):
        super().setUp()
        self.server.answer()
        self.elsewhere.answer()
        self.attempts.clear()

    def _refresh_refused(self, gateway, user=None):
        """The text of the UserError that Refresh raises for ``user`` (the manager by default)."""
        with self.assertRaises(UserError) as caught:
            gateway.with_user(user or self.user_manager).action_refresh()
        return str(caught.exception)

    # ------------------------------------------------------------------ addresses
    def test_private_addresses_refused_before_connecting(self):
        port = self.server.port
        endpoints = [
            self.server.url,
            f"https://127.0.0.1:{port}",
            f"http://localhost:{port}",  # a name resolving to 127.0.0.1
            f"http://2130706433:{port}",  # 127.0.0.1 as one decimal number
            f"http://0177.0.0.1:{port}",  # octal
            f"http://0x7f.1:{port}",  # hexadecimal, short form
            f"http://[::1]:{port}",
            f"http://[::ffff:127.0.0.1]:{port}",  # IPv4-mapped IPv6
            f"http://0.0.0.0:{port}",  # unspecified: Linux connects it to the host itself
            "http://169.254.169.254/latest/meta-data",  # the cloud's metadata service
            "http://10.0.0.1",
            "http://172.16.0.1",
            "http://192.168.1.1",
            "http://100.64.0.1",  # carrier-grade NAT
            "http://224.0.0.1",  # multicast
            "http://[fe80::1]",
            "http://[fd00::1]",
            "http://[::ffff:169.254.169.254]",
        ]
        for url in endpoints:
            self.gateway.endpoint_url = url
            with self.subTest(url=url):
                self.assertIn(PRIVATE, self._refresh_refused(self.gateway))
                self.assertEqual(self.attempts, [], "refused before connecting")
                self.assertEqual(self.server.requests, [])

    def test_private_addresses_refused_for_sending_and_every_provider(self):
        self.gateway.endpoint_url = f"http://localhost:{self.server.port}"
        for gateway in (self.gateway, self.twilio, self.vonage):
            with self.subTest(provider=gateway.provider):
                with self.assertRaises(SmsGatewayError) as caught:
                    gateway._send_batch([self.message])
                self.assertNotIsInstance(caught.exception, SmsGatewayTransientError, "retrying will not help")
                self.assertIn(PRIVATE, str(caught.exception))
                self.assertIn(PRIVATE, self._refresh_refused(gateway))
                self.assertEqual(self.attempts, [])
        self.assertEqual(self.server.requests, [])

    def test_resolved_address_shown_to_administrators_only(self):
        self.gateway.endpoint_url = f"http://localhost:{self.server.port}"
        self.assertNotIn("127.0.0.1", self._refresh_refused(self.gateway))
        self.assertIn("127.0.0.1", self._refresh_refused(self.gateway, self.user_admin))

    def test_administrator_allows_private_addresses(self):
        """The control: with the administrator's switch, the same server is reached."""
        self.gateway.allow_private_network = True
        self.gateway.with_user(self.user_manager).action_refresh()
        self.assertEqual(self.gateway.balance, 7.0)
        self.assertIn("Bearer sk-bearer", self.server.received_text())

    def test_connects_to_the_address_it_checked(self):
        """DNS rebinding: each connection resolves the name once and goes to the very address it
        checked (the Host header keeps the name); a later answer naming a private address is refused."""
        resolved = []
        real_getaddrinfo = socket.getaddrinfo

        def getaddrinfo(host, *args, **kwargs):
            if host == "sms.rebind.test":
                resolved.append(host)
                # the first answer is "public"; the next ones name another address, private
                host = "127.0.0.1" if len(resolved) == 1 else "127.0.0.2"
            return real_getaddrinfo(host, *args, **kwargs)

        self.gateway.endpoint_url = f"http://sms.rebind.test:{self.server.port}"
        provider = self.gateway._get_provider()
        with (
            patch.object(socket, "getaddrinfo", getaddrinfo),
            # this test's public address: 127.0.0.1, the only one it may use
            patch.object(outbound, "is_public_address", lambda address: address == "127.0.0.1"),
        ):
            self.assertEqual(provider.fetch_balance(), 7.0)
            self.assertEqual(resolved, ["sms.rebind.test"], "one lookup for the check and the connection")
            self.assertEqual(self.server.requests[0]["headers"].get("Host"), f"sms.rebind.test:{self.server.port}")
            with self.assertRaises(SmsGatewayError) as caught:  # the server closed the connection: a new one
                provider.fetch_balance()
        self.assertIn(PRIVATE, str(caught.exception))
        self.assertEqual(len(self.server.requests), 1)
        self.assertEqual(self.attempts, [])

    def test_public_addresses(self):
        public = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
        private = [
            "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.31.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1",
            "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "192.0.2.1", "::1", "::", "fe80::1%eth0",
            "fc00::1", "fec0::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::",
            "64:ff9b::a00:1", "::127.0.0.1", "2001:db8::1", "not an address",
        ]  # fmt: skip
        for address in public:
            self.assertTrue(outbound.is_public_address(address), address)
        for address in private:
            self.assertFalse(outbound.is_public_address(address), address)

    # ------------------------------------------------------------------ URLs
    def test_only_http_urls_saved(self):
        Gateway = self.env["sms.marketing.gateway"].with_user(self.user_manager)
        count = Gateway.search_count([])
        for url in (
            "file:///etc/passwd",
            f"ftp://127.0.0.1:{self.server.port}/",
            f"gopher://127.0.0.1:{self.server.port}/_GET",
            "javascript:alert(1)",
            f"http://user:password@127.0.0.1:{self.server.port}",  # credentials in the URL
            f"http://127.0.0.1:{self.server.port}/?token=abc",  # providers append their paths
            "http://sms.example.com\\@127.0.0.1/",  # parsers disagree on backslashes
            "http://",
        ):
            # savepoint: as the request's transaction would be, rolled back after the error
            with self.subTest(url=url), self.assertRaises(ValidationError), self.env.cr.savepoint():
                Gateway.create({"name": "Bad", "provider": "http", "endpoint_url": url})
            with self.subTest(url=url), self.assertRaises(ValidationError), self.env.cr.savepoint():
                self.gateway.with_user(self.user_admin).endpoint_url = url
        self.assertEqual(Gateway.search_count([]), count)
        self.assertEqual(self.gateway.endpoint_url, self.server.url)
        self.assertEqual(self.server.requests, [])

    def test_other_schemes_stored_before_refused_at_call(self):
        """An endpoint saved before these checks (straight in the database) is still refused."""
        self.gateway.allow_private_network = True
        for url in ("file:///etc/passwd", f"gopher://127.0.0.1:{self.server.port}/_GET"):
            self.env.flush_all()
            self.env.cr.execute(
                "UPDATE sms_marketing_gateway SET endpoint_url = %s WHERE id = %s", [url, self.gateway.id]
            )
            self.env.invalidate_all()
            with self.subTest(url=url):
                self.assertIn("http:// or https://", self._refresh_refused(self.gateway))
        self.assertEqual(self.server.requests, [])

    # ------------------------------------------------------------------ redirects
    def test_redirects_never_followed(self):
        (self.gateway | self.twilio | self.vonage).write({"allow_private_network": True})
        for status in (301, 302, 303, 307, 308):
            self.server.answer(status, {}, {"Location": f"{self.elsewhere.url}/collect"})
            with self.subTest(status=status):
                self.assertIn("redirection", self._refresh_refused(self.gateway))
                self._refresh_refused(self.twilio)
                # a 307 would resend the POST and its form: Vonage's api_key and api_secret
                with self.assertRaises(SmsGatewayError):
                    self.vonage._send_batch([self.message])
                with self.assertRaises(SmsGatewayError):
                    self.twilio._send_batch([self.message])
            self.assertTrue(self.server.requests)
        self.assertEqual(self.elsewhere.requests, [], "the other host received nothing")

    # ------------------------------------------------------------------ answers
    def test_provider_answer_shown_to_administrators_only(self):
        self.gateway.allow_private_network = True
        self.server.answer(400, {"error": f"{MARKER}: what the server behind the endpoint said"})
        with self.assertLogs("odoo.addons.sms_marketing_custom.providers.base", "WARNING") as logs:
            manager_text = self._refresh_refused(self.gateway)
        self.assertIn(MARKER, "\n".join(logs.output), "the detail is in the server log")
        self.assertNotIn(MARKER, manager_text)
        self.assertIn("HTTP 400", manager_text)
        self.assertIn(MARKER, self._refresh_refused(self.gateway, self.user_admin))
        # a marketer's Send refreshes the gateway through sudo: still the generic text
        Mailing = self.env["sms.marketing.mailing"].with_user(self.user_marketing)
        with self.assertRaises(UserError) as caught:
            Mailing._refresh_gateway_account(self.gateway.with_user(self.user_marketing))
        self.assertNotIn(MARKER, str(caught.exception))
        # what a paused mailing or a failed trace shows: the error's text
        with self.assertRaises(SmsGatewayError) as caught:
            self.gateway._send_batch([self.message])
        self.assertNotIn(MARKER, str(caught.exception))
        self.assertIn(MARKER, caught.exception.detail)

    def test_per_message_providers_keep_their_answer_out_of_errors(self):
        (self.twilio | self.vonage).write({"allow_private_network": True})
        answers = {
            self.twilio: (400, {"code": 21212, "message": MARKER, "status": 400}),  # a configuration error
            self.vonage: (200, {"message-count": "1", "messages": [{"status": "4", "error-text": MARKER}]}),
        }
        for gateway, answer in answers.items():
            self.server.answer(*answer)
            with self.subTest(provider=gateway.provider), self.assertRaises(SmsGatewayError) as caught:
                gateway._send_batch([self.message])
            self.assertNotIn(MARKER, str(caught.exception))
            self.assertIn(MARKER, caught.exception.detail)
        self.server.answer(429, {"code": MARKER, "message": MARKER})
        with self.assertRaises(SmsGatewayTransientError) as caught:
            self.twilio._send_batch([self.message])
        self.assertNotIn(MARKER, str(caught.exception))
