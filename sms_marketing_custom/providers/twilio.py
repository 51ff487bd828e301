"""The ``twilio`` provider: Twilio Programmable Messaging (REST API 2010-04-01).

::

    POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json   basic auth (AccountSid, AuthToken)
      form: To, Body, From | MessagingServiceSid, StatusCallback
      201 {"sid": "SM...", "status": "queued", "num_segments": "1", ...}
      400 {"code": 21211, "message": "...", "more_info": "...", "status": 400}
    GET  {base}/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json      one message
    GET  {base}/2010-04-01/Accounts/{AccountSid}/Messages.json?To=...&PageSize=100   newest first
    GET  {base}/2010-04-01/Accounts/{AccountSid}/Balance.json   {"balance": "12.34", "currency": "USD"}

Gateway fields: ``account_id`` (Account SID), ``api_key`` (Auth Token),
``sender`` (a From number, an alphanumeric sender, or a Messaging Service SID
``MG...``), ``endpoint_url`` (default https://api.twilio.com).

Webhooks: status callbacks and inbound messages are form-encoded POSTs signed
with ``X-Twilio-Signature``: base64 HMAC-SHA1, keyed with the Auth Token, of
the full URL followed by every POST parameter name and value, sorted by name.
Each message's ``StatusCallback`` is the gateway's status URL with the trace
uuid as ``?ref=`` (signed with the rest), so a callback finds its trace even
when it overtakes the sender's commit. Twilio signs no time: a call is applied
once per MessageSid (a status callback: per MessageSid and MessageStatus), a
replay or a retry of it is answered 200 with no effect (``webhook_replay_key``).

Twilio has no idempotency key: see ``per_message`` for how a batch is sent,
and ``lookup`` for how a message whose answer was lost is found again.
"""

import base64
import hashlib
import hmac
import time
from datetime import timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from odoo import _
from odoo.tools.translate import _lt

from . import SERVER_ERROR, SmsGatewayError, SmsGatewayTransientError
from .base import is_ascii_text, register_provider
from .per_message import AnswerLost, PerMessageProvider, RequestNotSent

# Twilio error code -> our result state (https://www.twilio.com/docs/api/errors).
ERROR_STATES = {
    21211: "wrong_number_format",  # invalid 'To' phone number
    21614: "wrong_number_format",  # 'To' is not a valid mobile number
    21401: "wrong_number_format",  # invalid phone number
    21408: "country_not_supported",  # permission to send to this region not enabled
    21612: "country_not_supported",  # 'To' not reachable from this 'From'
    21610: "rejected",  # the recipient replied STOP: Twilio blocks it (and we blacklist it)
    21602: "rejected",  # body required
    21617: "rejected",  # body too long
}
OPTED_OUT_CODES = {21610}
# The sender is wrong: every message would be refused, the mailing pauses.
CONFIGURATION_CODES = {21212, 21603, 21606, 21659, 21660, 21661, 21701, 21703, 21704, 20404}
THROTTLED_CODES = {20429, 14107}
CLOCK_SKEW = timedelta(minutes=5)
# How long a webhook's MessageSid is refused again (Twilio signs no time). A replayed status
# changes nothing anyway (statuses never go backwards): a day covers Twilio's retries. A replayed
# inbound STOP/START/YES/HELP would act again: refused for a year.
STATUS_REPLAY_RETENTION = timedelta(days=1)
INBOUND_REPLAY_RETENTION = timedelta(days=365)
# MessageStatus of a callback -> delivery report state; the others are intermediate.
STATUS_STATES = {"delivered": "delivered", "undelivered": "undelivered", "failed": "failed", "read": "delivered"}


def compute_signature(auth_token, url, params):
    """Twilio's ``X-Twilio-Signature`` of a form POST to ``url`` with ``params`` [(name, value)]."""
    data = url
    by_name = {}
    for name, value in params:
        by_name.setdefault(name, []).append(value)
    for name in sorted(by_name):
        for value in sorted(set(by_name[name])):
            data += name + value
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_variants(url):
    """``url`` as called, and with its default port added or removed: Twilio signs the URL it was
    given, which a proxy may rewrite one way or the other."""
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    host = parts.hostname or ""
    variants = [url]
    if parts.port:
        if parts.port == default_port:
            variants.append(urlunsplit(parts._replace(netloc=host)))
    else:
        variants.append(urlunsplit(parts._replace(netloc=f"{host}:{default_port}")))
    return variants


@register_provider
class TwilioProvider(PerMessageProvider):
    key = "twilio"
    label = _lt("Twilio")
    default_endpoint = "https://api.twilio.com"
    gateway_fields = ("endpoint_url", "account_id", "api_key", "sender", "timeout")
    required_fields = ("account_id", "api_key")

    # ------------------------------------------------------------------ transport
    def _account_url(self, path):
        return f"{self.base_url()}/2010-04-01/Accounts/{self.secret('account_id')}{path}"

    def _auth(self):
        return (self.secret("account_id"), self.secret("api_key"))

    def _status_callback(self, uuid):
        return f"{self.gateway._get_webhook_url()}?{urlencode({'ref': uuid})}"

    # ------------------------------------------------------------------ interface
    def _send_one(self, message):
        data = {
            "To": message["number"],
            "Body": message["content"],
            "StatusCallback": self._status_callback(message["uuid"]),
        }
        sender = message.get("sender") or ""
        if sender.startswith("MG"):
            data["MessagingServiceSid"] = sender
        elif sender:
            data["From"] = sender
        else:
            raise SmsGatewayError(
                _(
                    "The gateway %(name)s needs a sender: a Twilio number or a Messaging Service SID.",
                    name=self.gateway.name,
                )
            )
        answer = self._http("POST", self._account_url("/Messages.json"), data=data, auth=self._auth())
        return self._read_answer(message, answer)

    def _read_answer(self, message, answer):
        payload = answer.payload or {}
        code = payload.get("code")
        if answer.status in (200, 201):
            if not isinstance(payload.get("sid"), str):
                raise AnswerLost(f"HTTP {answer.status} without a message sid")
            return self._accepted(message, payload)
        if answer.status == 401 or code == 20003:
            raise SmsGatewayError(
                _("Twilio refused the Account SID or Auth Token of %(name)s.", name=self.gateway.name)
            )
        if answer.status == 429 or code in THROTTLED_CODES:
            raise SmsGatewayTransientError(
                _("Twilio is throttling the account (error %(code)s).", code=code if code in THROTTLED_CODES else 429)
            )
        if answer.status >= 500:
            raise SmsGatewayTransientError(_("Twilio is failing (HTTP %(code)s).", code=answer.status))
        if not isinstance(code, int) or isinstance(code, bool):
            # not Twilio's error (a proxy's 403, a wrong endpoint's 404 page): no message was refused,
            # the gateway is; its mailing pauses with the reason instead of failing every recipient
            raise self.gateway_error(
                _(
                    "The gateway %(name)s answered HTTP %(code)s without a Twilio error: check its endpoint URL.",
                    name=self.gateway.name,
                    code=answer.status,
                ),
                detail=f"HTTP {answer.status}",
            )
        if code in CONFIGURATION_CODES:
            raise self.gateway_error(
                _("Twilio refused the gateway %(name)s (error %(code)s).", name=self.gateway.name, code=code),
                detail=str(payload.get("message") or "")[:500],
            )
        state = ERROR_STATES.get(code, "rejected")
        return self.result(message["uuid"], state, provider_code=code, opt_out=code in OPTED_OUT_CODES)

    def _accepted(self, message, payload):
        try:
            segments = int(payload.get("num_segments") or 0) or message.get("segments") or 1
        except (TypeError, ValueError):
            segments = message.get("segments") or 1
        return self.result(
            message["uuid"],
            "sent",
            segments,
            self._estimate({**message, "segments": segments}),  # Twilio prices the message later
            provider_id=payload["sid"],
        )

    def lookup(self, messages):
        """{uuid: result} of messages whose answer was lost: ``sent`` when Twilio has them, else
        ``server_error`` (Twilio never created them: safe to send again). A message Twilio cannot be
        asked about now stays out of the answer."""
        found = {}
        for message in messages:
            try:
                if message.get("provider_id"):
                    answer = self._http(
                        "GET", self._account_url(f"/Messages/{message['provider_id']}.json"), auth=self._auth()
                    )
                    if answer.status == 200 and answer.payload:
                        found[message["uuid"]] = self._accepted(message, answer.payload)
                    continue
                # no DateSent filter: a message still queued at Twilio has no date_sent yet
                answer = self._http(
                    "GET",
                    self._account_url("/Messages.json"),
                    params={"To": message["number"], "PageSize": 100},
                    auth=self._auth(),
                )
            except (RequestNotSent, AnswerLost):
                continue
            if answer.status != 200 or not answer.payload or not isinstance(answer.payload.get("messages"), list):
                continue
            callback = self._status_callback(message["uuid"])
            match = next(
                (
                    item
                    for item in answer.payload["messages"]
                    if isinstance(item, dict)
                    and item.get("body") == message["content"]
                    and item.get("sid")
                    and item.get("status_callback", callback) == callback
                    and self._created_since(item, message.get("since"))
                ),
                None,
            )
            found[message["uuid"]] = (
                self._accepted(message, match) if match else self.result(message["uuid"], SERVER_ERROR)
            )
        return found

    @staticmethod
    def _created_since(item, since):
        """True when Twilio created ``item`` after ``since`` (minus clock skew): the same text sent to
        the same number by an earlier mailing is not this message."""
        if not since:
            return True
        try:
            created = parsedate_to_datetime(item.get("date_created") or "")
        except (TypeError, ValueError):
            return False
        if created.tzinfo:
            created = created.astimezone(timezone.utc).replace(tzinfo=None)
        return created >= since - CLOCK_SKEW

    def fetch_balance(self):
        payload = self._request_or_raise("GET", self._account_url("/Balance.json"), auth=self._auth())
        try:
            return max(float(payload.get("balance")), 0.0)
        except (TypeError, ValueError) as e:
            raise SmsGatewayTransientError(_("Twilio sent an unreadable balance.")) from e

    # ------------------------------------------------------------------ webhooks
    @staticmethod
    def _form(raw_body):
        try:
            return parse_qsl((raw_body or b"").decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as e:
            raise ValueError("the body is not UTF-8") from e

    def verify_webhook(self, raw_body, headers, url):
        token = self.secret("api_key")
        signature = (headers or {}).get("x-twilio-signature")
        if not token or not is_ascii_text(signature):
            return False
        try:
            params = self._form(raw_body)
        except ValueError:
            return False
        candidates = url_variants(url)
        # behind a proxy without proxy mode, Odoo sees its own address: Twilio signed the public one
        public = self.gateway._get_webhook_url().split("/sms_marketing/")[0]
        parts = urlsplit(url)
        candidates += url_variants(f"{public}{parts.path}" + (f"?{parts.query}" if parts.query else ""))
        matches = [
            hmac.compare_digest(compute_signature(token, candidate, params), signature) for candidate in candidates
        ]
        return any(matches)

    def webhook_replay_key(self, raw_body, headers, url, kind):
        """Twilio signs no time: a call is known by its MessageSid (and, for a status callback, its
        status), remembered long enough to outlast a captured inbound message's use."""
        form = dict(self._form(raw_body))
        sid = form.get("MessageSid") or form.get("SmsSid")
        if kind == "statuses":
            status = form.get("MessageStatus") or form.get("SmsStatus") or ""
            key = f"status:{sid}:{status}" if sid else f"sig:{headers['x-twilio-signature']}"
            return key, time.time() + STATUS_REPLAY_RETENTION.total_seconds()
        key = f"in:{sid}" if sid else f"sig:{headers['x-twilio-signature']}"
        return key, time.time() + INBOUND_REPLAY_RETENTION.total_seconds()

    def parse_statuses(self, raw_body, headers, url=None):
        form = dict(self._form(raw_body))
        if "MessageStatus" not in form and "SmsStatus" not in form:
            raise ValueError("not a Twilio status callback")
        state = STATUS_STATES.get(form.get("MessageStatus") or form.get("SmsStatus"))
        uuid = (parse_qs(urlsplit(url or "").query).get("ref") or [""])[0]
        if not state or not uuid:
            return []  # queued, sent, ... : not a final state yet
        return [{"uuid": uuid, "state": state, "provider_id": form.get("MessageSid") or ""}]

    def parse_inbound(self, raw_body, headers, url=None):
        form = dict(self._form(raw_body))
        if "From" not in form:
            raise ValueError("not a Twilio inbound message")
        opt_out = (form.get("OptOutType") or "").lower()  # Twilio's Advanced Opt-Out already acted
        try:
            media_count = min(int(form.get("NumMedia") or 0), 10)
        except ValueError:
            media_count = 0
        media = [form[f"MediaUrl{i}"] for i in range(media_count) if form.get(f"MediaUrl{i}")]
        return [
            {
                "number": form["From"],
                "content": form.get("Body") or "",
                "opt_out": opt_out,
                "id": form.get("MessageSid") or form.get("SmsSid") or "",
                "media": media,
            }
        ]

    def webhook_response(self, kind, answer):
        """Twilio reads the answer to an inbound message as TwiML: an empty one replies nothing."""
        if kind == "messages":
            return '<?xml version="1.0" encoding="UTF-8"?><Response></Response>', "text/xml"
        return None
