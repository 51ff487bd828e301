"""The ``odoo_iap`` provider: Odoo's own SMS service, paid with the database's IAP credits.

It sends through the ``sms`` module's API code (``odoo.addons.sms.tools.sms_api.SmsApi``):
JSON-RPC to ``{sms.endpoint}/api/sms/3/send`` (system parameter ``sms.endpoint``,
default https://sms.api.odoo.com) with the database's IAP account token::

    params: {"messages": [{"content", "numbers": [{"uuid", "number"}]}], "webhook_url", "dbuuid", "account_token"}
    result: [{"uuid", "state": "success" | "processing" | "server_error" | "unregistered" | "insufficient_credit"
              | "wrong_number_format" | "duplicate_message" | "country_not_supported" | "registration_needed"
              | "incompatible_content", "credit"}]

and reads the balance with ``iap.account.get_credits("sms")`` (``{iap.endpoint}/iap/1/balance``).
Nothing to configure: the IAP account is the database's.

Delivery reports: IAP posts JSON-RPC ``{"params": {"message_statuses": [{"sms_status", "uuids"}]}}``
to the ``webhook_url`` it was given, unsigned. So the URL given carries a token,
an HMAC of the gateway with the database secret (``?token=``): a report to the
URL without the right token is refused. Odoo SMS has no inbound messages.
IAP gives no time and no id of a report: a replay cannot be told apart, and
changes nothing (statuses never go backwards).

Not idempotent as far as we know: a time-out, a connection reset after the
request left or an unreadable answer leaves the batch ``unknown`` (never sent
again blindly); IAP cannot be asked about a message (no ``lookup``). Only a
request that never reached IAP is retried (``access_error_outcome``).
"""

import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
import urllib3

from odoo import _, exceptions
from odoo.addons.iap.tools.iap_tools import InsufficientCreditError
from odoo.addons.sms.tools.sms_api import SmsApi
from odoo.addons.sms_marketing_custom.providers import (
    INSUFFICIENT_CREDIT,
    SERVER_ERROR,
    UNKNOWN,
    SmsGatewayError,
    SmsGatewayTransientError,
)
from odoo.addons.sms_marketing_custom.providers.base import SmsProvider, is_ascii_text, register_provider
from odoo.addons.sms_marketing_custom.tools import pricing
from odoo.tools.translate import _lt

# IAP answer -> our result state
SEND_STATES = {
    "success": "sent",
    "processing": "sent",
    "server_error": SERVER_ERROR,
    "insufficient_credit": INSUFFICIENT_CREDIT,
    "wrong_number_format": "wrong_number_format",
    "country_not_supported": "country_not_supported",
    "registration_needed": "country_not_supported",
    "duplicate_message": "rejected",
    "incompatible_content": "rejected",
}
# delivery report status -> delivery state; the others (sent, processing, success) are not final
REPORT_STATES = {
    "delivered": "delivered",
    "expired": "expired",
    "not_delivered": "undelivered",
    "invalid_destination": "undelivered",
    "not_allowed": "undelivered",
    "rejected": "undelivered",
}


def access_error_outcome(error):
    """What the ``AccessError`` of Odoo's ``iap_jsonrpc`` says of the batch, from the exception it
    was raised for (``__context__``): "not_sent" (no connection was made, or a proxy refused it
    busy: 429, 502, 503), "refused" (IAP answered an access error, the address is wrong: another
    4xx, no URL scheme), else "unknown" (reset after the request left, 500, 504, unreadable answer).
    """
    cause = error.__context__
    if cause is None:  # IAP's own JSON-RPC error named AccessError: it refused the request
        return "refused"
    if isinstance(cause, requests.exceptions.MissingSchema):
        return "refused"
    if isinstance(cause, requests.exceptions.HTTPError):
        status = cause.response.status_code if cause.response is not None else 0
        if status in (429, 502, 503):
            return "not_sent"
        return "refused" if 400 <= status < 500 else "unknown"
    if isinstance(cause, requests.exceptions.ConnectionError):
        reason = cause.args[0] if cause.args else None
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError carries the connection's error
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            return "not_sent"
    return "unknown"


@register_provider
class OdooIapProvider(SmsProvider):
    key = "odoo_iap"
    label = _lt("Odoo SMS (IAP credits)")
    idempotent = False
    gateway_fields = ("timeout",)

    def _token(self):
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret", "")
        return hmac.new(secret.encode(), f"sms_marketing_iap:{self.gateway.id}".encode(), hashlib.sha256).hexdigest()

    def _webhook_url(self):
        return f"{self.gateway._get_webhook_url()}?{urlencode({'token': self._token()})}"

    def send(self, messages):
        by_content = {}
        for message in messages:
            by_content.setdefault(message["content"], []).append({"uuid": message["uuid"], "number": message["number"]})
        payload = [{"content": content, "numbers": numbers} for content, numbers in by_content.items()]
        try:
            answer = SmsApi(self.env)._send_sms_batch(payload, delivery_reports_url=self._webhook_url())
        except InsufficientCreditError:
            return [self.result(m["uuid"], INSUFFICIENT_CREDIT) for m in messages]
        except exceptions.ValidationError:  # iap_jsonrpc's time-out: IAP may have taken the batch
            return [self.result(m["uuid"], UNKNOWN) for m in messages]
        except exceptions.AccessError as e:  # no connection, HTTP error, unreadable answer, refused access
            outcome = access_error_outcome(e)
            if outcome == "not_sent":  # never reached IAP, or refused before it read the batch: safe to retry
                raise SmsGatewayTransientError(
                    _("Odoo's SMS service could not be reached (%(error)s).", error=e)
                ) from e
            if outcome == "refused":  # IAP or the address refused the request: the mailing pauses with it
                raise SmsGatewayError(_("Odoo's SMS service refused the request: %(error)s", error=e)) from e
            # the batch may have been taken (a reset after it left, an unreadable answer): IAP has no
            # idempotency key nor look-up, so it is never sent again blindly
            return [self.result(m["uuid"], UNKNOWN) for m in messages]
        except exceptions.UserError as e:
            raise SmsGatewayError(_("Odoo's SMS service refused the request: %(error)s", error=e)) from e
        if not isinstance(answer, list):
            return [self.result(m["uuid"], UNKNOWN) for m in messages]
        prices = self.env.context.get("sms_marketing_prices") or self.gateway._get_prices()
        by_uuid = {item.get("uuid"): item for item in answer if isinstance(item, dict)}
        if any(item.get("state") == "unregistered" for item in by_uuid.values()):
            raise SmsGatewayError(_("This database has no eligible IAP account for Odoo SMS."))
        results = []
        for message in messages:
            item = by_uuid.get(message["uuid"]) or {}
            state = SEND_STATES.get(item.get("state"), SERVER_ERROR)
            if state != "sent":
                results.append(self.result(message["uuid"], state))
                continue
            segments = message.get("segments") or 1
            credit = item.get("credit")
            if not isinstance(credit, int | float) or isinstance(credit, bool) or credit < 0:
                credit = pricing.message_cost(segments, pricing.price_for(prices, message.get("country_code")))
            results.append(self.result(message["uuid"], "sent", segments, float(credit)))
        return results

    def fetch_balance(self):
        Account = self.env["iap.account"].sudo()  # sudo: the database's IAP account, as Odoo's sms module uses it
        Account.get("sms")  # created as on the first SMS, so that the balance is the account's
        credit = Account.get_credits("sms")
        if not isinstance(credit, int | float) or credit < 0:
            raise SmsGatewayTransientError(_("Odoo's IAP service did not give the balance."))
        return float(credit)

    # ------------------------------------------------------------------ webhooks
    def verify_webhook(self, raw_body, headers, url):
        token = (parse_qs(urlsplit(url or "").query).get("token") or [""])[0]
        return is_ascii_text(token) and hmac.compare_digest(token, self._token())

    def parse_statuses(self, raw_body, headers, url=None):
        try:
            payload = json.loads(raw_body or b"{}")
        except (ValueError, RecursionError) as e:
            raise ValueError("unreadable JSON") from e
        params = payload.get("params") if isinstance(payload, dict) else None
        statuses = params.get("message_statuses") if isinstance(params, dict) else None
        if not isinstance(statuses, list):
            raise ValueError("not an IAP delivery report")
        reports = []
        for status in statuses:
            if not isinstance(status, dict) or not isinstance(status.get("uuids"), list):
                continue
            state = REPORT_STATES.get(status.get("sms_status"))
            reports += [{"uuid": str(uuid), "state": state} for uuid in status["uuids"] if state]
        return reports

    def webhook_response(self, kind, answer):
        """IAP calls a JSON-RPC route: answer like one."""
        return json.dumps({"jsonrpc": "2.0", "id": None, "result": "OK"}), "application/json"
