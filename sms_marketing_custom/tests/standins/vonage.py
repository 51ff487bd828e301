"""A local stand-in for the Vonage (Nexmo) SMS API, standard library only.

It speaks what Vonage documents, for the calls the ``vonage`` provider makes:

* ``POST /sms/json`` (form or JSON): ``api_key``, ``api_secret``, ``from``,
  ``to`` (international digits), ``text``, ``type`` ("text" or "unicode"),
  ``client-ref``, ``callback``. Always HTTP 200 with ``{"message-count",
  "messages": [...]}``, one entry per SMS part: ``status`` "0" with
  ``message-id``, ``message-price``, ``remaining-balance``, ``network``,
  ``client-ref``; or a status with ``error-text``: "2" missing parameter,
  "3" invalid ``to``, "4" bad credentials, "9" quota exceeded (no balance),
  any status forced per number (``number_statuses``).
* ``GET /account/get-balance?api_key=&api_secret=``: ``{"value", "autoReload"}``.
* Delivery receipts and inbound messages, posted when asked (``post_dlr``,
  ``post_inbound``) as form POSTs signed with ``sig`` (``signature_method``:
  "md5hash" or an HMAC method, with the signature secret), with ``timestamp``
  and ``nonce``. Every call posted is kept in ``posted`` (url, body, headers):
  ``replay`` posts one again as is, as someone who captured it would.

Failure injection: ``fail_next`` = ["timeout_after_accept", "drop_after_accept"
(sent, then the connection closes without an answer), 500, 429...], one
per send request. By hand: ``scripts/dev/standin.py vonage --port 8072``.
"""

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from urllib.parse import parse_qs, parse_qsl, urlsplit

from . import server

DIGITS_RE = re.compile(r"^[1-9]\d{6,14}$")


def signature(secret, method, params):
    """Vonage's ``sig`` as its "Signing requests" documentation gives it: the parameters sorted by
    name, each appended as ``&name=value`` with any ``&`` or ``=`` of the value replaced by ``_``;
    for "md5hash" the signature secret is appended and the MD5 of it all is the signature, for an
    HMAC method ("md5", "sha1", "sha256", "sha512") it is the HMAC of the string keyed with the
    secret; hex digest. ``params``: a dict without ``sig``."""
    signed = "".join(f"&{name}={str(params[name]).replace('&', '_').replace('=', '_')}" for name in sorted(params))
    if method == "md5hash":
        return hashlib.md5((signed + secret).encode()).hexdigest()
    return hmac.new(secret.encode(), signed.encode(), getattr(hashlib, method)).hexdigest()


def gateway_values(standin, **overrides):
    """The ``sms.marketing.gateway`` values of a ``vonage`` gateway sending through ``standin``."""
    credentials = {
        "account_id": standin.api_key,
        "api_key": standin.api_secret,
        "webhook_secret": standin.signature_secret,
        "sender": "AcmeShop",
    }
    return server.gateway_values(standin, {"name": "Vonage", "provider": "vonage", **credentials}, overrides)


class Handler(server.Handler):
    def do_GET(self):
        standin = self.standin
        parts = urlsplit(self.path)
        if parts.path != "/account/get-balance":
            return self.send_json(404, {"error-code": "404", "error-code-label": "not found"})
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if query.get("api_key") != standin.api_key or query.get("api_secret") != standin.api_secret:
            return self.send_json(401, {"error-code": "401", "error-code-label": "authentication failed"})
        return self.send_json(200, {"value": standin.balance, "autoReload": False})

    def do_POST(self):
        standin = self.standin
        raw = self.read_body()
        if urlsplit(self.path).path != "/sms/json":
            return self.send_json(404, {"error-code": "404"})
        if "json" in (self.headers.get("Content-Type") or ""):
            form = {k: str(v) for k, v in json.loads(raw or b"{}").items()}
        else:
            form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        return self.answer_send(lambda: (200, standin.send(form)), lambda status: {"error": "injected"})


class VonageStandin(server.ProviderStandin):
    handler = Handler
    name = "vonage-standin"

    def __init__(
        self,
        host="127.0.0.1",
        port=0,
        api_key="vonage-key",
        api_secret="vonage-secret",
        signature_secret="vonage-signature",
        signature_method="md5hash",
        balance=20.0,
        price=0.05,
    ):
        super().__init__(host, port)
        self.api_key = api_key
        self.api_secret = api_secret
        self.signature_secret = signature_secret
        self.signature_method = signature_method
        self.balance = balance
        self.price = price  # EUR per part
        # messages: every accepted request: {message-ids, to, from, text, type, client-ref, callback}
        self.number_statuses = {}  # digits -> forced status

    def reset(self):
        with self.lock:
            self.number_statuses.clear()
            return super().reset()

    # ------------------------------------------------------------------ webhooks (signed)
    def _post(self, url, params, secret=None, timestamp=None):
        timestamp = int(time.time()) if timestamp is None else timestamp
        params = {**params, "timestamp": str(timestamp), "nonce": secrets.token_hex(8)}
        params["sig"] = signature(secret or self.signature_secret, self.signature_method, params)
        return self.post_form(url, params)

    def post_dlr(self, client_ref, status, err_code="0", secret=None, timestamp=None):
        """Post the delivery receipt of the message sent with ``client_ref`` to its callback."""
        message = next(m for m in self.messages if m["client-ref"] == client_ref)
        return self._post(
            message["callback"],
            {
                "msisdn": message["to"],
                "to": message["from"],
                "network-code": "20810",
                "messageId": message["message-ids"][0],
                "price": f"{self.price:.8f}",
                "status": status,
                "scts": time.strftime("%y%m%d%H%M", time.gmtime()),
                "err-code": err_code,
                "api-key": self.api_key,
                "client-ref": client_ref,
                "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            },
            secret,
            timestamp,
        )

    def post_inbound(self, url, msisdn, text, to="447700900000", secret=None, timestamp=None):
        """Post an inbound message from ``msisdn`` (digits) to ``url``."""
        return self._post(
            url,
            {
                "msisdn": msisdn,
                "to": to,
                "messageId": uuid.uuid4().hex[:16].upper(),
                "text": text,
                "type": "text",
                "keyword": (text.split() or [""])[0].upper(),
                "api-key": self.api_key,
                "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            },
            secret,
            timestamp,
        )

    # ------------------------------------------------------------------ API
    def send(self, form):
        def refused(status, text):
            return {"message-count": "1", "messages": [{"status": status, "error-text": text}]}

        if form.get("api_key") != self.api_key or not hmac.compare_digest(form.get("api_secret", ""), self.api_secret):
            return refused("4", "Bad Credentials")
        for name in ("from", "to", "text"):
            if not form.get(name):
                return refused("2", f"Missing {name} param")
        to = form["to"]
        if to in self.number_statuses:
            return refused(self.number_statuses[to], f"Forced status {self.number_statuses[to]}")
        if not DIGITS_RE.match(to):
            return refused("3", "Invalid to address")
        count = server.count_segments(form["text"], unicode=form.get("type") == "unicode")
        if self.balance + 1e-9 < count * self.price:
            return refused("9", "Quota Exceeded - rejected")
        ids, parts = [], []
        for _part in range(count):
            self.balance = round(self.balance - self.price, 8)
            ids.append(uuid.uuid4().hex[:16].upper())
            parts.append(
                {
                    "to": to,
                    "message-id": ids[-1],
                    "status": "0",
                    "remaining-balance": f"{self.balance:.8f}",
                    "message-price": f"{self.price:.8f}",
                    "network": "20810",
                    "client-ref": form.get("client-ref", ""),
                }
            )
        self.messages.append(
            {
                "message-ids": ids,
                "to": to,
                "from": form["from"],
                "text": form["text"],
                "type": form.get("type") or "text",
                "client-ref": form.get("client-ref", ""),
                "callback": form.get("callback", ""),
            }
        )
        return {"message-count": str(count), "messages": parts}


def from_command_line(argv=None):
    """The stand-in the command line describes (``scripts/dev/standin.py vonage --help``), and its banner."""
    parser = server.command_line(__doc__.split("\n\n")[0], 8072)
    parser.add_argument("--api-key", default="demo-key")
    parser.add_argument("--api-secret", default="demo-secret")
    parser.add_argument("--signature-secret", default="demo-signature")
    args = parser.parse_args(argv)
    standin = VonageStandin(args.host, args.port, args.api_key, args.api_secret, args.signature_secret)
    return standin, f"Vonage stand-in on {standin.url}; Ctrl+C stops it"
