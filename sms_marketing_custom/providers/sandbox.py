"""The sandbox provider: a gateway inside Odoo, no network, no account, no real SMS.

It prices and counts segments like a real gateway (with the gateway's prices),
so the credit ledger moves as it would, and it can simulate what real
gateways do:

* **Test numbers** (deterministic, like Twilio's magic test numbers
  +15005550001, +15005550009...): the fate of a message is set by the last
  seven digits of its number, whatever the rates below (the gateway's
  "Only Priced Countries" still applies to the sent ones):

  =========== ==========================================================
  ends in     answer
  =========== ==========================================================
  5550001     ``wrong_number_format`` (the provider deems it invalid)
  5550002     ``country_not_supported`` (no route to that number)
  5550009     ``rejected`` (the number cannot receive SMS)
  5550008     ``server_error`` (every time: the engine retries, then fails it)
  5550004     sent, then reported ``undelivered`` (with delivery reports on)
  =========== ==========================================================

  For instance +32475550009 is always refused, +32475550004 always
  undelivered. Any other number is a normal one.
* **Rates** (``sandbox_failure_rate``, ``sandbox_undelivered_rate``, in %):
  each message draws its fate from its uuid (``ratio``), so a message keeps
  the same fate when it is sent again, but which messages of a mailing are
  hit is a matter of their random uuids: tests that need a given outcome use
  the test numbers.
* **Delivery reports** (``sandbox_delivery``): sent messages come back
  delivered (or undelivered) in the answer itself, with no webhook.

Webhooks use the project's signed JSON format, so a sandbox gateway with a
webhook secret also takes inbound STOP/START messages (handy to try opt-out).
"""

import hashlib
import re

from odoo.tools.translate import _lt

from ..tools import pricing
from ..tools.sms_encoding import segment_count
from . import SERVER_ERROR
from .base import SignedJsonWebhooks, SmsProvider, register_provider

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")

# Last seven digits of a number -> (result state, delivery report); see the module docstring.
TEST_NUMBER_SUFFIXES = {
    "5550001": ("wrong_number_format", None),
    "5550002": ("country_not_supported", None),
    "5550009": ("rejected", None),
    "5550008": (SERVER_ERROR, None),
    "5550004": ("sent", "undelivered"),
}


@register_provider
class SandboxProvider(SignedJsonWebhooks, SmsProvider):
    key = "sandbox"
    label = _lt("Sandbox (no real SMS)")
    idempotent = True  # nothing is really sent: a resend costs no second SMS
    simulated = True
    gateway_fields = ("webhook_secret", "sandbox_delivery", "sandbox_failure_rate", "sandbox_undelivered_rate")

    @staticmethod
    def ratio(uuid, salt):
        """A stable pseudo-random number in [0, 100) from the uuid: the same message
        always gets the same simulated fate, even when it is sent again."""
        digest = hashlib.blake2b(f"{salt}:{uuid}".encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") % 10000 / 100.0

    @staticmethod
    def test_number_fate(number):
        """(state, delivery) forced by a sandbox test number, or None for a normal number."""
        return TEST_NUMBER_SUFFIXES.get(number[-7:]) if number else None

    def send(self, messages):
        gateway = self.gateway
        # the engine passes the prices it already read for this run
        prices = self.env.context.get("sms_marketing_prices") or gateway._get_prices()
        restricted = gateway.restrict_countries
        failure_rate = gateway.sandbox_failure_rate
        undelivered_rate = gateway.sandbox_undelivered_rate
        delivery = gateway.sandbox_delivery
        segments_cache = {}
        results = []
        for message in messages:
            msg_uuid, number, content = message["uuid"], message.get("number"), message.get("content") or ""
            country = message.get("country_code") or False
            if not number or not E164_RE.match(number):
                results.append(self.result(msg_uuid, "wrong_number_format"))
                continue
            fate = self.test_number_fate(number)
            state, report = fate or ("sent", None)
            if state != "sent":
                results.append(self.result(msg_uuid, state))
                continue
            if restricted and country not in prices:
                results.append(self.result(msg_uuid, "country_not_supported"))
                continue
            if not fate and failure_rate and self.ratio(msg_uuid, "reject") < failure_rate:
                results.append(self.result(msg_uuid, "rejected"))
                continue
            segments = message.get("segments") or segments_cache.get(content)
            if segments is None:
                segments = segments_cache[content] = segment_count(content)
            result = self.result(
                msg_uuid, "sent", segments, pricing.message_cost(segments, pricing.price_for(prices, country))
            )
            if delivery:
                if not report:
                    undelivered = undelivered_rate and self.ratio(msg_uuid, "dlr") < undelivered_rate
                    report = "undelivered" if undelivered else "delivered"
                result["delivery"] = report
            results.append(result)
        return results
