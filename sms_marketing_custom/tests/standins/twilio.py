"""A local stand-in for Twilio Programmable Messaging (REST API 2010-04-01), standard library only.

It speaks what Twilio documents, for the calls the ``twilio`` provider makes:

* ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``: form-encoded
  ``To``, ``Body``, ``From`` or ``MessagingServiceSid``, ``StatusCallback``;
  HTTP basic auth (Account SID, Auth Token). 201 with the Message resource
  (``sid`` "SM" + 32 hex, ``status`` "queued", ``num_segments``...), or an
  error ``{"code", "message", "more_info", "status"}``: 401/20003 bad
  credentials, 400/21211 invalid To, 21602 no body, 21603/21604 no From or To,
  429/20429 throttled; any code forced per number (``number_errors``).
* ``GET .../Messages/{Sid}.json``, ``GET .../Messages.json?To=&DateSent>=``
  (``{"messages": [...], "next_page_uri": null, ...}``), ``GET .../Balance.json``.
* Callbacks, posted when asked (``post_status``, ``post_inbound``): form-encoded
  POSTs (``MessageSid``, ``MessageStatus``, ``ErrorCode``... / ``From``,
  ``Body``, ``OptOutType``...) signed with ``X-Twilio-Signature``. Every
  callback posted is kept in ``posted`` (url, body, headers): ``replay`` posts
  one again as is, as someone who captured it would.

Failure injection: ``fail_next`` = ["timeout_after_accept" (the message is
created, the answer comes too late), "drop_after_accept" (created, then the
connection closes without an answer), 429, 500, 503...], one per send request.

By hand: ``scripts/dev/standin.py twilio --port 8071``; from Python: ``TwilioStandin().start()``.
"""

import base64
import hashlib
import hmac
import re
import time
import uuid
from email.utils import formatdate
from urllib.parse import parse_qs, parse_qsl, urlsplit

from . import server

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
MESSAGES_RE = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages(?:/(?P<msg>SM\w+))?\.json$")
BALANCE_RE = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Balance\.json$")


def signature(auth_token, url, params):
    """``X-Twilio-Signature`` as Twilio documents it ("Webhooks security", validating requests):
    the full URL, then each POST parameter's name and value with no separator, sorted by name;
    HMAC-SHA1 of that with the Auth Token, base64-encoded. ``params``: (name, value) pairs."""
    signed = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def gateway_values(standin, **overrides):
    """The ``sms.marketing.gateway`` values of a ``twilio`` gateway sending through ``standin``."""
    credentials = {"account_id": standin.account_sid, "api_key": standin.auth_token, "sender": "+15005550006"}
    return server.gateway_values(standin, {"name": "Twilio", "provider": "twilio", **credentials}, overrides)


class Handler(server.Handler):
    def _authorized(self, sid):
        standin = self.standin
        expected = base64.b64encode(f"{standin.account_sid}:{standin.auth_token}".encode()).decode()
        return sid == standin.account_sid and hmac.compare_digest(
            self.headers.get("Authorization", ""), f"Basic {expected}"
        )

    def _route(self):
        path = urlsplit(self.path).path
        match = MESSAGES_RE.match(path) or BALANCE_RE.match(path)
        if not match:
            self.send_json(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
            return None
        if not self._authorized(match["sid"]):
            self.send_json(
                401,
                {
                    "code": 20003,
                    "message": "Authenticate",
                    "status": 401,
                    "more_info": "https://www.twilio.com/docs/errors/20003",
                },
            )
            return None
        return match

    def do_GET(self):
        standin = self.standin
        match = self._route()
        if not match:
            return None
        with standin.lock:
            if "msg" not in match.groupdict():
                return self.send_json(
                    200, {"account_sid": standin.account_sid, "balance": standin.balance, "currency": "USD"}
                )
            if match["msg"]:
                message = next((m for m in standin.messages if m["sid"] == match["msg"]), None)
                if not message:
                    return self.send_json(404, {"code": 20404, "message": "Not found", "status": 404})
                return self.send_json(200, standin.public(message))
            return self.send_json(*standin.list_messages(parse_qs(urlsplit(self.path).query)))

    def do_POST(self):
        standin = self.standin
        raw = self.read_body()
        match = self._route()
        if not match or "msg" not in match.groupdict() or match["msg"]:
            return None if not match else self.send_json(405, {"code": 20004, "message": "Method not allowed"})
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        return self.answer_send(
            lambda: standin.create_message(form),
            lambda status: {"code": 20429 if status == 429 else 20500, "message": "injected", "status": status},
        )


class TwilioStandin(server.ProviderStandin):
    handler = Handler
    name = "twilio-standin"

    def __init__(self, host="127.0.0.1", port=0, account_sid=None, auth_token="twilio-token", balance="20.00"):
        super().__init__(host, port)
        self.account_sid = account_sid or "AC" + uuid.uuid4().hex
        self.auth_token = auth_token
        self.balance = balance
        # messages: every Message resource created, in order; posted: every callback
        self.callbacks = {}  # sid -> StatusCallback
        self.number_errors = {}  # number -> Twilio error code

    def reset(self):
        with self.lock:
            self.callbacks.clear()
            self.number_errors.clear()
            return super().reset()

    # ------------------------------------------------------------------ callbacks (signed)
    def post_status(self, sid, status, error_code=None, auth_token=None):
        """Post the status callback of message ``sid``; returns (HTTP status, body)."""
        message = next(m for m in self.messages if m["sid"] == sid)
        url = self.callbacks[sid]
        params = [
            ("AccountSid", self.account_sid),
            ("ApiVersion", "2010-04-01"),
            ("From", message["from"] or ""),
            ("MessageSid", sid),
            ("MessageStatus", status),
            ("SmsSid", sid),
            ("SmsStatus", status),
            ("To", message["to"]),
        ]
        if error_code:
            params.append(("ErrorCode", str(error_code)))
        return self._post_signed(url, params, auth_token)

    def post_inbound(
        self, url, from_number, body, to_number="+15005550006", opt_out_type=None, auth_token=None, sid=None
    ):
        """Post an incoming message to ``url`` (the number's messaging webhook); returns (HTTP status, body)."""
        sid = sid or "SM" + uuid.uuid4().hex
        params = [
            ("AccountSid", self.account_sid),
            ("ApiVersion", "2010-04-01"),
            ("Body", body),
            ("From", from_number),
            ("MessageSid", sid),
            ("NumMedia", "0"),
            ("NumSegments", "1"),
            ("SmsMessageSid", sid),
            ("SmsSid", sid),
            ("SmsStatus", "received"),
            ("To", to_number),
        ]
        if opt_out_type:
            params.append(("OptOutType", opt_out_type))
        return self._post_signed(url, params, auth_token)

    def _post_signed(self, url, params, auth_token=None):
        signed = signature(auth_token or self.auth_token, url, params)
        return self.post_form(url, params, {"X-Twilio-Signature": signed})

    # ------------------------------------------------------------------ API
    def _error(self, status, code, message):
        return status, {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def create_message(self, form):
        to, body = form.get("To", ""), form.get("Body", "")
        sender, service = form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            return self._error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return self._error(400, 21602, "Message body is required.")
        if to in self.number_errors:
            code = self.number_errors[to]
            return self._error(429 if code == 20429 else 400, code, f"Error {code}")
        if not E164_RE.match(to):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        now = formatdate(usegmt=True)
        message = {
            "sid": "SM" + uuid.uuid4().hex,
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(server.count_segments(body)),
            "price": None,
            "price_unit": "USD",
            "status": "accepted" if service else "queued",
            "to": to,
            "_sent_on": time.strftime("%Y-%m-%d", time.gmtime()),
        }
        message["uri"] = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message['sid']}.json"
        self.messages.append(message)
        if form.get("StatusCallback"):
            self.callbacks[message["sid"]] = form["StatusCallback"]
        return 201, self.public(message)

    @staticmethod
    def public(message):
        return {k: v for k, v in message.items() if not k.startswith("_")}

    def list_messages(self, query):
        to = (query.get("To") or [None])[0]
        since = (query.get("DateSent>") or [None])[0]
        found = [
            self.public(m)
            for m in reversed(self.messages)
            if (not to or m["to"] == to) and (not since or m["_sent_on"] >= since)
        ]
        return 200, {"messages": found, "page": 0, "page_size": 50, "next_page_uri": None, "first_page_uri": None}


def from_command_line(argv=None):
    """The stand-in the command line describes (``scripts/dev/standin.py twilio --help``), and its banner."""
    parser = server.command_line(__doc__.split("\n\n")[0], 8071)
    parser.add_argument("--account-sid", default="AC" + "0" * 32)
    parser.add_argument("--auth-token", default="demo-token")
    args = parser.parse_args(argv)
    standin = TwilioStandin(args.host, args.port, args.account_sid, args.auth_token)
    return standin, f"Twilio stand-in on {standin.url} (SID {standin.account_sid}); Ctrl+C stops it"
