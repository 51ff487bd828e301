"""The ``http`` provider: the IAP-like JSON protocol of docs/design.md ("Gateway protocol").

::

    POST {endpoint}/sms/v1/send      Authorization: Bearer {api_key}
      {"messages": [{"uuid", "number", "content", "sender"}], "webhook_url": ...}
      200 {"results": [{"uuid", "state", "segments", "credits"}], "balance": ...}
    GET  {endpoint}/sms/v1/balance   200 {"balance": 123.0}
    GET  {endpoint}/sms/v1/prices    200 {"prices": [{"country": "US", "price": 0.01}, ...]}

The gateway answers ``duplicate`` for a uuid it accepted before, so a batch
whose answer was lost can be sent again safely. Every call has explicit
time-outs (connect: at most 5 s; read: the gateway's ``timeout``).

Caveats: time-outs, connection errors, 429, 5xx and answers that cannot be
read raise ``SmsGatewayTransientError``; 401/403 and other 4xx raise
``SmsGatewayError``. Inside a readable answer, a result that makes no sense
(no uuid, unknown state, credits that are not a number) becomes
``server_error`` for its message, which the engine retries with the same uuid.
Delivery reports and inbound SMS are the signed JSON webhooks of ``base``.
"""

import logging
import math

import requests

from odoo import _
from odoo.tools.translate import _lt

from . import ACCEPTED, FINAL_ERRORS, INSUFFICIENT_CREDIT, SERVER_ERROR, SmsGatewayError, SmsGatewayTransientError
from .base import SignedJsonWebhooks, SmsProvider, register_provider

_logger = logging.getLogger(__name__)

KNOWN_STATES = frozenset((*ACCEPTED, *FINAL_ERRORS, INSUFFICIENT_CREDIT, SERVER_ERROR))
DEFAULT_PRICE_CODES = ("", "*", "DEFAULT")  # how the protocol names "every other country"


def _number(value):
    """``value`` as a finite float >= 0, or None."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


@register_provider
class HttpJsonProvider(SignedJsonWebhooks, SmsProvider):
    key = "http"
    label = _lt("HTTP (IAP-like)")
    idempotent = True
    gateway_fields = ("endpoint_url", "api_key", "webhook_secret", "timeout")
    required_fields = ("endpoint_url",)  # the protocol has no public endpoint

    # ------------------------------------------------------------------ transport
    def _request(self, method, path, payload=None):
        """The JSON object the gateway answers, or a gateway error."""
        gateway = self.gateway
        url = f"{self.base_url()}{path}"
        headers = {"Authorization": f"Bearer {self.secret('api_key')}"}
        timeout = gateway.timeout or 15.0
        try:
            response = self.http_request(
                method, url, json=payload, headers=headers, timeout=(min(timeout, 5.0), timeout)
            )
        except requests.exceptions.RequestException as e:
            # the request never reached the gateway (connect time-out, refused), or its answer was lost
            not_sent = isinstance(e, requests.exceptions.ConnectTimeout) or (
                isinstance(e, requests.exceptions.ConnectionError) and "Connection refused" in str(e)
            )
            raise SmsGatewayTransientError(
                _("The gateway did not answer in time (%(error)s).", error=type(e).__name__), not_taken=not_sent
            ) from e
        if response.status_code == 429 or response.status_code >= 500:  # refused as a whole
            raise SmsGatewayTransientError(
                _("The gateway is busy or failing (HTTP %(code)s).", code=response.status_code), not_taken=True
            )
        if response.status_code in (401, 403):
            raise SmsGatewayError(_("The gateway refused the API key of %(name)s.", name=gateway.name))
        if response.status_code != 200:
            # the body is whatever the endpoint's server says: for the administrators and the log only
            raise self.gateway_error(
                _("The gateway answered HTTP %(code)s.", code=response.status_code), detail=response.text[:500]
            )
        try:
            answer = response.json()
        except (ValueError, RecursionError) as e:
            raise SmsGatewayTransientError(_("The gateway sent an unreadable answer.")) from e
        if not isinstance(answer, dict):
            raise SmsGatewayTransientError(_("The gateway sent an unreadable answer."))
        return answer

    # ------------------------------------------------------------------ interface
    def send(self, messages):
        payload = {
            "messages": [
                {"uuid": m["uuid"], "number": m["number"], "content": m["content"], "sender": m.get("sender") or ""}
                for m in messages
            ],
            "webhook_url": self.gateway._get_webhook_url(),
        }
        answer = self._request("POST", "/sms/v1/send", payload)
        raw_results = answer.get("results")
        if raw_results is None:
            raw_results = []
        if not isinstance(raw_results, list):
            raise SmsGatewayTransientError(_("The gateway sent an unreadable answer."))
        wanted = {m["uuid"] for m in messages}
        by_uuid = {}
        for raw in raw_results:
            if not isinstance(raw, dict) or not isinstance(raw.get("uuid"), str) or raw["uuid"] not in wanted:
                continue  # nothing to tie it to: its message gets server_error below
            by_uuid[raw["uuid"]] = self._read_result(raw)
        # one result per message: what the gateway did not answer for is retried
        return [by_uuid.get(m["uuid"]) or self.result(m["uuid"], SERVER_ERROR) for m in messages]

    def _read_result(self, raw):
        uuid, state = raw["uuid"], raw.get("state") or SERVER_ERROR
        segments, credits = _number(raw.get("segments") or 0), _number(raw.get("credits") or 0.0)
        if state not in KNOWN_STATES or segments is None or credits is None:
            _logger.warning("gateway %s: unreadable result for %s: %.200r", self.gateway.id, uuid, raw)
            return self.result(uuid, SERVER_ERROR)
        return self.result(uuid, state, int(segments), credits)

    def fetch_balance(self):
        balance = _number(self._request("GET", "/sms/v1/balance").get("balance"))
        if balance is None:
            raise SmsGatewayTransientError(_("The gateway sent an unreadable balance."))
        return balance

    def fetch_prices(self):
        lines = self._request("GET", "/sms/v1/prices").get("prices") or []
        if not isinstance(lines, list):
            raise SmsGatewayTransientError(_("The gateway sent an unreadable price list."))
        prices = []
        for line in lines:
            price = _number(line.get("price")) if isinstance(line, dict) else None
            code = line.get("country") if isinstance(line, dict) else None
            if price is None or not isinstance(code or "", str):
                # half a price list would price some countries wrong: take none of it
                raise SmsGatewayTransientError(_("The gateway sent an unreadable price list."))
            code = (code or "").upper()
            prices.append((False if code in DEFAULT_PRICE_CODES else code, price))
        return prices
