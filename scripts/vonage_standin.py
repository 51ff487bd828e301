#!/usr/bin/env python3
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
per send request. By hand: ``python3 scripts/vonage_standin.py --port 8072``.
"""

import argparse
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

DIGITS_RE = re.compile(r"^[1-9]\d{6,14}$")
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)
HASHES = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def signature(secret, method, params):
    """Vonage's ``sig``: sorted ``&key=value`` ("&", "=" in values -> "_"), md5hash or HMAC, hex."""
    digestmod = HASHES.get(method)
    hasher = hmac.new(secret.encode(), digestmod=digestmod) if digestmod else hashlib.md5()
    for key in sorted(params):
        value = str(params[key]).replace("&", "_").replace("=", "_")
        hasher.update(f"&{key}={value}".encode())
    if not digestmod:
        hasher.update(secret.encode())
    return hasher.hexdigest()


def parts_of(text, unicode):
    if not unicode:
        return 1 if len(text) <= 160 else -(-len(text) // 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


class VonageStandin:
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
        self.api_key = api_key
        self.api_secret = api_secret
        self.signature_secret = signature_secret
        self.signature_method = signature_method
        self.balance = balance
        self.price = price  # EUR per part
        self.timeout_sleep = 2.0
        self.lock = threading.RLock()
        self.messages = []  # every accepted request: {message-ids, to, from, text, type, client-ref, callback}
        self.number_statuses = {}  # digits -> forced status
        self.fail_next = []
        self.requests = 0
        self.posted = []  # (url, body, headers) of every webhook call posted
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        threading.Thread(target=self.server.serve_forever, name="vonage-standin", daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reset(self):
        with self.lock:
            self.messages.clear()
            self.number_statuses.clear()
            self.fail_next.clear()
            self.requests = 0
            self.posted.clear()

    # ------------------------------------------------------------------ webhooks (signed)
    def _post(self, url, params, secret=None, timestamp=None):
        timestamp = int(time.time()) if timestamp is None else timestamp
        params = {**params, "timestamp": str(timestamp), "nonce": secrets.token_hex(8)}
        params["sig"] = signature(secret or self.signature_secret, self.signature_method, params)
        posted = (url, urlencode(params).encode(), {"Content-Type": "application/x-www-form-urlencoded"})
        with self.lock:
            self.posted.append(posted)
        return self.replay(posted)

    def replay(self, posted):
        """Post a call (an item of ``posted``) again, byte for byte."""
        url, body, headers = posted
        request = urllib.request.Request(url, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

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
        count = parts_of(form["text"], form.get("type") == "unicode")
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

            def do_GET(self):
                parts = urlsplit(self.path)
                if parts.path != "/account/get-balance":
                    return self._json(404, {"error-code": "404", "error-code-label": "not found"})
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if query.get("api_key") != standin.api_key or query.get("api_secret") != standin.api_secret:
                    return self._json(401, {"error-code": "401", "error-code-label": "authentication failed"})
                return self._json(200, {"value": standin.balance, "autoReload": False})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if urlsplit(self.path).path != "/sms/json":
                    return self._json(404, {"error-code": "404"})
                if "json" in (self.headers.get("Content-Type") or ""):
                    form = {k: str(v) for k, v in json.loads(raw or b"{}").items()}
                else:
                    form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
                with standin.lock:
                    standin.requests += 1
                    failure = standin.fail_next.pop(0) if standin.fail_next else None
                    if failure in (429, 500, 503):
                        return self._json(failure, {"error": "injected"})
                    answer = standin.send(form)
                if failure == "drop_after_accept":
                    self.close_connection = True  # sent, but the connection breaks before the answer
                    return None
                if failure == "timeout_after_accept":
                    time.sleep(standin.timeout_sleep)
                return self._json(200, answer)

        return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8072)
    parser.add_argument("--api-key", default="demo-key")
    parser.add_argument("--api-secret", default="demo-secret")
    parser.add_argument("--signature-secret", default="demo-signature")
    args = parser.parse_args()
    standin = VonageStandin(args.host, args.port, args.api_key, args.api_secret, args.signature_secret)
    print(f"Vonage stand-in on {standin.url}; Ctrl+C stops it", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        standin.server.serve_forever()


if __name__ == "__main__":
    main()
