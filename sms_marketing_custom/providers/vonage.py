"""The ``vonage`` provider: the Vonage (Nexmo) SMS API.

::

    POST {base}/sms/json     form: api_key, api_secret, from, to (digits, no "+"), text,
                             type=unicode (text not GSM-7), client-ref (our uuid), callback
      200 {"message-count": "1", "messages": [{"to", "message-id", "status": "0",
           "remaining-balance", "message-price", "network", "client-ref"}]}
          one entry per SMS part; ``status`` != "0" with ``error-text`` when refused
    GET  {base}/account/get-balance?api_key=&api_secret=   {"value": 10.28, "autoReload": false}

Gateway fields: ``account_id`` (API key), ``api_key`` (API secret), ``sender``
(``from``: a number or an alphanumeric sender), ``webhook_secret`` (the
signature secret), ``vonage_signature_method`` (as set in the dashboard),
``endpoint_url`` (default https://rest.nexmo.com).

Webhooks (set the HTTP method to POST or POST-JSON in the dashboard):
delivery receipts (``status``, ``err-code``, ``client-ref``, ``messageId``...)
and inbound messages (``msisdn``, ``text``...), signed with ``sig``: over
every other parameter sorted by name, ``&name=value`` ("&" and "=" in values
replaced by "_"), either MD5 of that string followed by the secret ("md5hash")
or its HMAC keyed with the secret (md5, sha1, sha256, sha512), lower-case hex.
Calls whose ``timestamp`` is more than five minutes away are refused; a call
is applied once per ``messageId`` (a receipt: per messageId and status), a
replay or retry of it is answered 200 with no effect (``webhook_replay_key``).

Vonage has no idempotency key and no look-up of a sent message: a message
whose answer was lost stays ``unknown`` with its reason (``per_message``).
"""

import hashlib
import hmac
import json
import time
from datetime import timedelta
from urllib.parse import parse_qsl

from odoo import _
from odoo.tools.translate import _lt

from ..tools.sms_encoding import count_segments
from . import INSUFFICIENT_CREDIT, SmsGatewayError, SmsGatewayTransientError
from .base import WEBHOOK_TOLERANCE, is_ascii_text, register_provider, within_tolerance
from .per_message import AnswerLost, PerMessageProvider

# Vonage SMS API status -> our result state; the codes that are the account's
# or the configuration's problem, or a passing one, are listed apart.
STATUS_STATES = {
    "2": "rejected",  # missing parameters
    "3": "wrong_number_format",  # invalid parameters (the number, usually)
    "6": "country_not_supported",  # unroutable
    "7": "rejected",  # number barred: the recipient is on Vonage's block list
    "9": INSUFFICIENT_CREDIT,  # partner quota exceeded
    "12": "rejected",  # message too long
    "22": "country_not_supported",  # invalid network code
    "29": "rejected",  # non-whitelisted destination (trial account)
    "33": "wrong_number_format",  # number de-activated
}
OPTED_OUT_STATUSES = {"7"}
TRANSIENT_STATUSES = {"1", "5", "10"}  # throttled, internal error, too many binds
CONFIGURATION_STATUSES = {"4", "8", "11", "14", "15", "23", "32"}  # credentials, account, sender, callback
# Delivery receipt status -> delivery report state; accepted/buffered are not final.
DLR_STATES = {"delivered": "delivered", "expired": "expired", "failed": "failed", "rejected": "undelivered"}
SIGNATURE_METHODS = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
# A call's messageId is refused again for a day: Vonage retries a call until it gets a 200.
ID_REPLAY_RETENTION = timedelta(days=1)


def compute_signature(secret, method, params):
    """Vonage's ``sig`` of ``params`` (a dict without ``sig``) with the signature secret."""
    digestmod = SIGNATURE_METHODS.get(method)
    hasher = hmac.new(secret.encode(), digestmod=digestmod) if digestmod else hashlib.md5()
    for key in sorted(params):
        value = params[key]
        if isinstance(value, str):
            value = value.replace("&", "_").replace("=", "_")
        hasher.update(f"&{key}={value}".encode())
    if not digestmod:
        hasher.update(secret.encode())
    return hasher.hexdigest()


@register_provider
class VonageProvider(PerMessageProvider):
    key = "vonage"
    label = _lt("Vonage")
    default_endpoint = "https://rest.nexmo.com"
    gateway_fields = (
        "endpoint_url",
        "account_id",
        "api_key",
        "sender",
        "webhook_secret",
        "vonage_signature_method",
        "timeout",
    )
    required_fields = ("account_id", "api_key")

    def _credentials(self):
        return {"api_key": self.secret("account_id"), "api_secret": self.secret("api_key")}

    # ------------------------------------------------------------------ interface
    def _send_one(self, message):
        sender = message.get("sender") or ""
        if not sender:
            raise SmsGatewayError(
                _("The gateway %(name)s needs a sender (the 'from' of Vonage).", name=self.gateway.name)
            )
        content = message["content"]
        data = {
            **self._credentials(),
            "from": sender,
            "to": message["number"].lstrip("+"),
            "text": content,
            "client-ref": message["uuid"],
            "callback": self.gateway._get_webhook_url(),
        }
        if count_segments(content).encoding != "GSM-7":
            data["type"] = "unicode"
        answer = self._http("POST", f"{self.base_url()}/sms/json", data=data)
        if answer.status == 401:
            raise SmsGatewayError(_("Vonage refused the API key or secret of %(name)s.", name=self.gateway.name))
        if answer.status == 429 or answer.status >= 500:
            raise SmsGatewayTransientError(_("Vonage is busy or failing (HTTP %(code)s).", code=answer.status))
        if answer.status >= 400:
            # Vonage answers every message's error with 200: a 4xx is the request refused as a
            # whole (a proxy, a wrong endpoint), nothing was sent; its mailing pauses with the reason
            raise self.gateway_error(
                _(
                    "The gateway %(name)s answered HTTP %(code)s: check its endpoint URL.",
                    name=self.gateway.name,
                    code=answer.status,
                ),
                detail=f"HTTP {answer.status}",
            )
        parts = (answer.payload or {}).get("messages")
        if (
            answer.status != 200
            or not isinstance(parts, list)
            or not parts
            or not all(isinstance(p, dict) for p in parts)
        ):
            raise AnswerLost(f"HTTP {answer.status}: unreadable answer")
        return self._read_parts(message, parts)

    def _read_parts(self, message, parts):
        accepted = [part for part in parts if str(part.get("status")) == "0"]
        if accepted:  # some part left: the message was sent (never again)
            credits = 0.0
            for part in accepted:
                try:
                    credits += float(part.get("message-price") or 0.0)
                except (TypeError, ValueError):
                    credits = None
                    break
            return self.result(
                message["uuid"],
                "sent",
                len(parts),
                self._estimate(message) if not credits else round(credits, 4),
                provider_id=str(accepted[0].get("message-id") or ""),
            )
        status = str(parts[0].get("status"))
        text = str(parts[0].get("error-text") or "")[:500]
        if status in TRANSIENT_STATUSES:
            raise SmsGatewayTransientError(_("Vonage is throttling or failing (status %(code)s).", code=status))
        if status in CONFIGURATION_STATUSES:
            raise self.gateway_error(
                _("Vonage refused the gateway %(name)s (status %(code)s).", name=self.gateway.name, code=status),
                detail=text,
            )
        return self.result(
            message["uuid"],
            STATUS_STATES.get(status, "rejected"),
            provider_code=status,
            opt_out=status in OPTED_OUT_STATUSES,
        )

    def fetch_balance(self):
        payload = self._request_or_raise("GET", f"{self.base_url()}/account/get-balance", params=self._credentials())
        try:
            return max(float(payload.get("value")), 0.0)
        except (TypeError, ValueError) as e:
            raise SmsGatewayTransientError(_("Vonage sent an unreadable balance.")) from e

    # ------------------------------------------------------------------ webhooks
    @staticmethod
    def _params(raw_body, headers):
        """The webhook's parameters: a form (POST) or a JSON object (POST-JSON)."""
        raw_body = raw_body or b""
        if "json" in ((headers or {}).get("content-type") or ""):
            try:
                payload = json.loads(raw_body)
            except (ValueError, RecursionError) as e:
                raise ValueError("unreadable JSON") from e
            if not isinstance(payload, dict):
                raise ValueError("the body must be a JSON object")
            return payload
        try:
            return dict(parse_qsl(raw_body.decode(), keep_blank_values=True))
        except UnicodeDecodeError as e:
            raise ValueError("the body is not UTF-8") from e

    def verify_webhook(self, raw_body, headers, url):
        secret = self.secret("webhook_secret")
        if not secret:
            return False
        # Vonage puts the signature among the parameters it signs: the body is split into its
        # parameters to check it, and read (parse_*) only once it is verified
        try:
            params = self._params(raw_body, headers)
        except ValueError:
            return False
        signature = params.pop("sig", None)
        if not is_ascii_text(signature) or not within_tolerance(params.get("timestamp")):
            return False
        method = self.gateway.sudo().vonage_signature_method or "md5hash"
        return hmac.compare_digest(compute_signature(secret, method, params), signature.lower())

    def webhook_replay_key(self, raw_body, headers, url, kind):
        """A call is known by its messageId (a receipt: with its status), kept a day to outlast Vonage's
        retries of a call already applied; without one, by its signed nonce (or signature) until its
        timestamp is out of the tolerance."""
        params = self._params(raw_body, headers)
        message_id = params.get("messageId") or params.get("message-id")
        if message_id:
            key = f"dlr:{message_id}:{params.get('status')}" if kind == "statuses" else f"in:{message_id}"
            return key, time.time() + ID_REPLAY_RETENTION.total_seconds()
        key = f"nonce:{params['nonce']}" if params.get("nonce") else f"sig:{str(params.get('sig')).lower()}"
        return key, int(params["timestamp"]) + WEBHOOK_TOLERANCE

    def parse_statuses(self, raw_body, headers, url=None):
        params = self._params(raw_body, headers)
        if "status" not in params:
            raise ValueError("not a Vonage delivery receipt")
        state, uuid = DLR_STATES.get(str(params["status"])), str(params.get("client-ref") or "")
        if not state or not uuid:
            return []
        return [{"uuid": uuid, "state": state, "provider_id": str(params.get("messageId") or "")}]

    def parse_inbound(self, raw_body, headers, url=None):
        params = self._params(raw_body, headers)
        if "msisdn" not in params:
            raise ValueError("not a Vonage inbound message")
        number = str(params["msisdn"])
        return [
            {
                "number": number if number.startswith("+") else f"+{number}",
                "content": str(params.get("text") or ""),
                "id": str(params.get("messageId") or params.get("message-id") or ""),
            }
        ]
