"""The provider interface and the registry of providers.

A provider is a plain Python class (not an Odoo model) that knows how one
SMS service speaks: how to send, read the balance and the prices, and how its
delivery reports and inbound messages are signed and shaped. The gateway model
(``sms.marketing.gateway``) keeps everything that is Odoo's business (the
credit ledger, prices, traces, consent) and asks its provider through
``gateway._get_provider()``, an instance bound to the gateway record.

Adding a provider: one module in this package (imported by
``providers/__init__.py``, or by another addon) with a subclass of
``SmsProvider`` decorated with ``@register_provider``. The gateway's
``provider`` selection, its form (which fields show) and the webhook routes
follow from the class; neither the gateway model nor the sending engine
changes.

Contract
--------

``send(messages) -> results``
    ``messages``: a list of dicts, in the order the engine sends them:

    - ``uuid``: 32 hex characters, unique per message and reused as is when
      the engine retries (the idempotency key);
    - ``number``: the recipient in E.164 (``+`` and digits);
    - ``content``: the final text (placeholders rendered, links shortened);
    - ``sender``: the gateway's sender ("" for the provider's default);
    - ``country_code``: ISO 3166 code of the number, or False;
    - ``segments``: the engine's count of SMS parts (may be missing).

    ``results``: one dict per message (any order), with ``uuid``, ``state``
    (one of the protocol states of ``providers/__init__.py``: ``ACCEPTED``,
    ``FINAL_ERRORS``, ``INSUFFICIENT_CREDIT``, ``SERVER_ERROR``),
    ``segments`` (int) and ``credits`` (float, what the provider charged: 0
    when refused), plus ``delivery`` ("delivered" or "undelivered") for a
    provider that knows the outcome at once. A message the provider could not
    answer for gets ``server_error`` (the engine retries it); a message with
    no result at all is treated the same way.

    Errors: ``SmsGatewayTransientError`` for what may pass (time-out,
    connection error, 429, 5xx, an answer that cannot be read): the engine
    retries the whole batch later with the same uuids. ``SmsGatewayError``
    for what will not (refused credentials, bad configuration): the mailing
    pauses with the message. Nothing else may escape.

``idempotent``
    True when the provider answers ``duplicate`` (and charges nothing) for a
    uuid it accepted before. The engine relies on it to resend a batch whose
    answer was lost without sending any SMS twice; a provider without it
    (Twilio, Vonage) needs the engine's care.

``fetch_balance() -> float | None``
    The credits left on the provider's account; None when the provider keeps
    no balance for us (the local ledger is the truth).

``fetch_prices() -> [(country code or False, credits per segment)] | None``
    The provider's price list (False: every other country); None when the
    provider publishes none (prices are typed in by hand).

``verify_webhook(raw_body, headers, url) -> bool``
    Whether a webhook call really comes from the provider. ``headers`` is a
    dict with lower-case names; ``url`` is the full URL that was called (some
    providers sign it). Must be constant-time, refuse when no secret is
    configured, refuse a signed time outside ``WEBHOOK_TOLERANCE``, and
    answer False (never raise) for anything malformed: it reads the body only
    as far as the signature needs, before anything interprets it.

``webhook_replay_key(raw_body, headers, url, kind) -> (key, until) | None``
    The identity of a verified call (a nonce, the provider's message id...)
    and the unix time up to which the same key must be refused: a second
    call with it is a replay or the provider's retry of a call already
    applied, answered 200 with no effect. None: the provider gives no
    identity (nothing to refuse).

``parse_statuses(raw_body, headers, url) -> [{"uuid", "state"}]``
    Delivery reports, ``state`` being "delivered", "undelivered", "expired"
    or "failed". Raises ValueError when the body cannot be read. ``url`` is
    the signed URL that was called (a provider may carry the uuid in it).

``parse_inbound(raw_body, headers, url) -> [{"number", "content", "opt_out", "id", "media"}]``
    Inbound SMS (the sender's number as the provider gives it, the text, the
    provider's id of the message when it gives one, the https links of an
    MMS's pictures). A message is stored once per id: a provider's retry of
    it is not a second message.
    ``opt_out`` ("stop", "start" or empty): the provider itself already
    recorded the sender's opt-out or opt-in (the number is blacklisted with
    the source "provider"). Raises ValueError when the body cannot be read.

``webhook_response(kind, answer) -> (body, content type) | None``
    What to answer a webhook call (None: the JSON ``answer``).

``lookup(messages) -> {uuid: result} | None``
    For a provider that is not idempotent: what became of messages whose
    answer was lost (``UNKNOWN``). Each message is a ``send`` message plus
    ``provider_id`` (when known) and ``since`` (when it was sent). A result
    ``sent`` means the provider has it; ``server_error`` that it never
    took it (safe to send again); a message left out could not be checked
    now. None: the provider cannot look messages up (they stay unknown).

A result of ``send`` may also carry ``provider_id`` (the provider's id of
the message, kept on the trace for ``lookup``) and ``opt_out`` (True: the
provider refused the number because the recipient opted out with it; the
number is blacklisted with the source "provider").
"""

import hashlib
import hmac
import json
import logging
import re
import time

from odoo import _

from ..tools import outbound
from . import SmsGatewayError

_logger = logging.getLogger(__name__)

PROVIDERS = {}  # key -> provider class, filled by @register_provider

# How far a webhook's signed time may be from ours (clock skew and transit); a nonce is
# remembered that long after it, so a captured call cannot be played again.
WEBHOOK_TOLERANCE = 300  # seconds
HEX_SHA256_RE = re.compile(r"[0-9a-f]{64}", re.ASCII | re.IGNORECASE)
UNIX_TIME_RE = re.compile(r"[0-9]{1,12}", re.ASCII)
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}", re.ASCII)


def is_ascii_text(value):
    """True for a non-empty ASCII str: what ``hmac.compare_digest`` can compare (it raises
    TypeError on other str) and what every signature scheme uses."""
    return isinstance(value, str) and bool(value) and value.isascii()


def within_tolerance(timestamp):
    """True when ``timestamp`` (unix seconds, int or digits) is within ``WEBHOOK_TOLERANCE`` of now."""
    try:
        return abs(time.time() - int(timestamp)) <= WEBHOOK_TOLERANCE
    except (TypeError, ValueError, OverflowError):
        return False


def register_provider(cls):
    """Class decorator: make ``cls`` available under ``cls.key`` to every gateway."""
    if not cls.key or not cls.label:
        raise TypeError(f"{cls.__name__} needs a key and a label")
    existing = PROVIDERS.get(cls.key)
    if existing and (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
        # two classes for one key is a mistake; the same class imported again is not
        raise TypeError(f"provider key {cls.key!r} is already taken by {existing.__module__}.{existing.__name__}")
    PROVIDERS[cls.key] = cls
    return cls


def get_provider_class(key):
    """The class registered under ``key``, or None."""
    return PROVIDERS.get(key)


class SmsProvider:
    """What a provider is; subclasses override what their service supports.

    Class attributes describe the provider to the gateway model:

    - ``key`` (stored in ``sms.marketing.gateway.provider``) and ``label``;
    - ``idempotent``: see the module docstring;
    - ``per_message``: one request per message, so a batch lasts as long as its
      messages one after the other (the engine sizes such batches by their
      measured time and keeps their lease while they are sent);
    - ``simulated``: no real SMS leave (the gateway may get free demo credits);
    - ``default_endpoint``: the provider's public API base URL, which the
      gateway's ``endpoint_url`` overrides (None: the gateway must give one);
    - ``gateway_fields``: the gateway fields this provider reads, shown on the
      gateway form for this provider only;
    - ``required_fields``: those of them a gateway must fill in.
    """

    key = None
    label = None
    idempotent = False
    per_message = False
    simulated = False
    default_endpoint = None
    gateway_fields = ()
    required_fields = ()

    def __init__(self, gateway):
        gateway.ensure_one()
        self.gateway = gateway
        self.env = gateway.env

    # ------------------------------------------------------------------ interface
    def send(self, messages):
        """One result dict per message (see the module docstring)."""
        raise NotImplementedError

    def fetch_balance(self):
        """Credits left on the provider's account, or None (the local ledger is the truth)."""
        return None

    def fetch_prices(self):
        """[(country code or False, credits per segment)], or None (prices are set by hand)."""
        return None

    def verify_webhook(self, raw_body, headers, url):
        """True when the call comes from the provider; a provider without webhooks accepts none."""
        return False

    def webhook_replay_key(self, raw_body, headers, url, kind):
        """(key, unix time until which it is refused) of a verified call, or None."""
        return None

    def parse_statuses(self, raw_body, headers, url=None):
        """[{uuid, state}] of a delivery-report call; ValueError when unreadable."""
        return []

    def parse_inbound(self, raw_body, headers, url=None):
        """[{number, content, opt_out}] of an inbound-SMS call; ValueError when unreadable."""
        return []

    def webhook_response(self, kind, answer):
        """(body, content type) to answer a webhook call, or None for the JSON ``answer``."""
        return None

    def lookup(self, messages):
        """{uuid: result} of messages whose answer was lost, or None when the provider cannot tell."""
        return None

    # ------------------------------------------------------------------ helpers
    @classmethod
    def overrides(cls, method_name):
        """True when the class implements ``method_name`` itself rather than the base's default."""
        return getattr(cls, method_name) is not getattr(SmsProvider, method_name)

    def base_url(self):
        """The API base URL: the gateway's ``endpoint_url``, else the provider's public one."""
        url = self.gateway.endpoint_url or self.default_endpoint
        if not url:
            raise SmsGatewayError(_("The gateway %(name)s has no endpoint URL.", name=self.gateway.name))
        return url.rstrip("/")

    def http_request(self, method, url, **kwargs):
        """requests' response to one call of the provider (``kwargs`` as ``requests.request``).

        The one way out for the providers that call out: an http(s) URL only,
        never a redirect (a 3xx is refused: the credentials it carries would
        follow it), and public addresses only unless a Settings administrator
        allowed private ones on the gateway (``tools/outbound.py``). Raises
        SmsGatewayError for what is refused, requests' exceptions otherwise.
        """
        try:
            outbound.check_url(url)
            session = outbound.outbound_session(bool(self.gateway.sudo().allow_private_network))
            response = session.request(method, url, allow_redirects=False, **kwargs)
        except outbound.OutboundRefused as e:
            raise self.gateway_error(self.gateway._outbound_refusal_message(e), detail=e.detail or e.reason) from e
        if 300 <= response.status_code < 400:
            raise self.gateway_error(
                _(
                    "The gateway %(name)s answered with a redirection (HTTP %(code)s), which is never followed: "
                    "its endpoint URL must be the provider's own address.",
                    name=self.gateway.name,
                    code=response.status_code,
                ),
                detail=response.headers.get("Location") or "",
            )
        return response

    def gateway_error(self, message, detail=None):
        """An SmsGatewayError to raise: ``message`` for everyone, ``detail`` (what the provider
        answered, the address refused) logged here and shown to administrators only."""
        if detail:
            _logger.warning("gateway %s: %s (%.500r)", self.gateway.id, message, detail)
        return SmsGatewayError(message, detail=detail)

    def secret(self, field_name):
        """The value of a credential field of the gateway (readable by administrators only)."""
        return self.gateway.sudo()[field_name] or ""  # sudo: the provider needs the secret, the caller may not see it

    @staticmethod
    def result(uuid, state, segments=0, credits=0.0, **extra):
        """One result dict of ``send``."""
        return {"uuid": uuid, "state": state, "segments": segments, "credits": credits, **extra}


class SignedJsonWebhooks:
    """The project's own webhook format (docs/design.md, "Gateway protocol"), for providers that use it.

    Bodies are JSON: ``{"statuses": [{"uuid", "state"}]}`` for delivery
    reports, ``{"messages": [{"number", "content", "id", "media"}]}`` for inbound SMS (``id``
    and ``media``, the links of an MMS's pictures, optional). Each
    call carries ``X-Timestamp`` (unix seconds), ``X-Nonce`` (16 to 64 of
    ``A-Z a-z 0-9 _ -``, new for every call) and ``X-Signature``: the hex
    HMAC-SHA256, keyed with the gateway's ``webhook_secret``, of
    ``"{timestamp}.{nonce}."`` followed by the raw body. A call more than
    ``WEBHOOK_TOLERANCE`` away from our clock, or whose nonce was seen, is
    refused; the gateway retries a call by sending the very same request.
    """

    @staticmethod
    def webhook_signature(secret, timestamp, nonce, raw_body):
        """The ``X-Signature`` of a call: hex HMAC-SHA256 of ``{timestamp}.{nonce}.{raw body}``."""
        message = f"{timestamp}.{nonce}.".encode() + (raw_body or b"")
        return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()

    def verify_webhook(self, raw_body, headers, url):
        secret = self.secret("webhook_secret")
        headers = headers or {}
        signature, timestamp, nonce = (headers.get(name) for name in ("x-signature", "x-timestamp", "x-nonce"))
        if not (
            secret
            and is_ascii_text(signature)
            and HEX_SHA256_RE.fullmatch(signature)
            and is_ascii_text(timestamp)
            and UNIX_TIME_RE.fullmatch(timestamp)
            and is_ascii_text(nonce)
            and NONCE_RE.fullmatch(nonce)
            and within_tolerance(timestamp)
        ):
            return False
        expected = self.webhook_signature(secret, timestamp, nonce, raw_body)
        return hmac.compare_digest(expected, signature.lower())

    def webhook_replay_key(self, raw_body, headers, url, kind):
        # the nonce is only valid with a timestamp within the tolerance: remember it that long
        return f"nonce:{headers['x-nonce']}", int(headers["x-timestamp"]) + WEBHOOK_TOLERANCE

    @staticmethod
    def _json_items(raw_body, key):
        try:
            payload = json.loads(raw_body or b"{}")
        except RecursionError as e:  # absurdly nested JSON
            raise ValueError("body too deeply nested") from e
        if not isinstance(payload, dict):
            raise ValueError("the body must be a JSON object")
        items = payload.get(key) or []
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ValueError(f"{key!r} must be a list of objects")
        return items

    def parse_statuses(self, raw_body, headers, url=None):
        return [
            {"uuid": str(item["uuid"]), "state": str(item["state"])}
            for item in self._json_items(raw_body, "statuses")
            if item.get("uuid") and item.get("state")
        ]

    def parse_inbound(self, raw_body, headers, url=None):
        return [
            {
                # some gateways name the sender "from"
                "number": str(item.get("number") or item.get("from") or ""),
                "content": str(item.get("content") or ""),
                "id": str(item.get("id") or ""),
                "media": [str(url) for url in item.get("media") or [] if isinstance(url, str)]
                if isinstance(item.get("media"), list)
                else [],
            }
            for item in self._json_items(raw_body, "messages")
        ]
