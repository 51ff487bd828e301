#!/usr/bin/env python3
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

By hand: ``python3 scripts/twilio_standin.py --port 8071``; from Python:
``TwilioStandin().start()``.
"""

import argparse
import base64
import contextlib
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
MESSAGES_RE = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages(?:/(?P<msg>SM\w+))?\.json$")
BALANCE_RE = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Balance\.json$")
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def signature(auth_token, url, params):
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL + sorted POST params."""
    data = url
    by_name = {}
    for name, value in params:
        by_name.setdefault(name, []).append(value)
    for name in sorted(by_name):
        for value in sorted(set(by_name[name])):
            data += name + value
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def segments_of(text):
    if all(c in GSM7 for c in text):
        return 1 if len(text) <= 160 else -(-len(text) // 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


def post_raw(url, body, headers):
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class TwilioStandin:
    def __init__(self, host="127.0.0.1", port=0, account_sid=None, auth_token="twilio-token", balance="20.00"):
        self.account_sid = account_sid or "AC" + uuid.uuid4().hex
        self.auth_token = auth_token
        self.balance = balance
        self.timeout_sleep = 2.0
        self.lock = threading.RLock()
        self.messages = []  # every Message resource created, in order
        self.callbacks = {}  # sid -> StatusCallback
        self.number_errors = {}  # number -> Twilio error code
        self.fail_next = []
        self.requests = 0
        self.posted = []  # (url, body, headers) of every callback posted
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        threading.Thread(target=self.server.serve_forever, name="twilio-standin", daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reset(self):
        with self.lock:
            self.messages.clear()
            self.callbacks.clear()
            self.number_errors.clear()
            self.fail_next.clear()
            self.requests = 0
            self.posted.clear()

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
        body = urlencode(params).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature(auth_token or self.auth_token, url, params),
        }
        with self.lock:
            self.posted.append((url, body, headers))
        return post_raw(url, body, headers)

    def replay(self, posted):
        """Post a captured callback (an item of ``posted``) again, byte for byte."""
        return post_raw(*posted)

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
            "num_segments": str(segments_of(body)),
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

    def _handler_class(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def _json(self, code, payload):
                body = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorized(self, sid):
                expected = base64.b64encode(f"{standin.account_sid}:{standin.auth_token}".encode()).decode()
                return sid == standin.account_sid and hmac.compare_digest(
                    self.headers.get("Authorization", ""), f"Basic {expected}"
                )

            def _route(self):
                path = urlsplit(self.path).path
                match = MESSAGES_RE.match(path) or BALANCE_RE.match(path)
                if not match:
                    self._json(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
                    return None
                if not self._authorized(match["sid"]):
                    self._json(
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
                match = self._route()
                if not match:
                    return None
                with standin.lock:
                    if "msg" not in match.groupdict():
                        return self._json(
                            200, {"account_sid": standin.account_sid, "balance": standin.balance, "currency": "USD"}
                        )
                    if match["msg"]:
                        message = next((m for m in standin.messages if m["sid"] == match["msg"]), None)
                        if not message:
                            return self._json(404, {"code": 20404, "message": "Not found", "status": 404})
                        return self._json(200, standin.public(message))
                    return self._json(*standin.list_messages(parse_qs(urlsplit(self.path).query)))

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                match = self._route()
                if not match or "msg" not in match.groupdict() or match["msg"]:
                    return None if not match else self._json(405, {"code": 20004, "message": "Method not allowed"})
                form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
                with standin.lock:
                    standin.requests += 1
                    failure = standin.fail_next.pop(0) if standin.fail_next else None
                    if failure in (429, 500, 503):
                        code = 20429 if failure == 429 else 20500
                        return self._json(failure, {"code": code, "message": "injected", "status": failure})
                    status, payload = standin.create_message(form)
                if failure == "drop_after_accept":
                    self.close_connection = True  # created, but the connection breaks before the answer
                    return None
                if failure == "timeout_after_accept":
                    time.sleep(standin.timeout_sleep)  # created, but the client has given up
                return self._json(status, payload)

        return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8071)
    parser.add_argument("--account-sid", default="AC" + "0" * 32)
    parser.add_argument("--auth-token", default="demo-token")
    args = parser.parse_args()
    standin = TwilioStandin(args.host, args.port, args.account_sid, args.auth_token)
    print(f"Twilio stand-in on {standin.url} (SID {standin.account_sid}); Ctrl+C stops it", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        standin.server.serve_forever()


if __name__ == "__main__":
    main()
