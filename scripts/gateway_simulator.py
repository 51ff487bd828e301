#!/usr/bin/env python3
"""A stand-alone SMS gateway speaking the IAP-like protocol of docs/design.md.

Standard library only. It keeps an account (credits, prices per country),
answers per message (sent, duplicate, insufficient_credit,
wrong_number_format, country_not_supported, rejected), remembers every uuid
it accepted (a uuid sent again is answered ``duplicate`` and not sent or
charged twice), posts delivery reports to the webhook signed as the protocol
says (``X-Timestamp``, ``X-Nonce`` and ``X-Signature``: hex HMAC-SHA256 of
``{timestamp}.{nonce}.{raw body}`` with the webhook secret: ``signed_headers``),
and injects failures on demand: time-outs, 5xx, 429.

By hand::

    python3 scripts/gateway_simulator.py --port 8070 --api-key demo --webhook-secret s3cret \
        --balance 1000 --price US=0.5 --price '*=1'

then, in Odoo, a gateway with provider "HTTP", endpoint http://127.0.0.1:8070,
the same key and secret. Control (tests, or curl)::

    POST /_sim/config  {"balance": 10, "fail_next": ["timeout", 503, 429],
                        "number_states": {"+15550100": "rejected"}, "delivery": "delivered",
                        "raw_answers": {"/sms/v1/send": "<html>not JSON</html>"}}
    GET  /_sim/state   {"balance": ..., "sent": [{"uuid", "number", "content"}...], "requests": n}

From Python (tests): ``sim = Simulator(); sim.start(); ...; sim.stop()``.
"""

import argparse
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXT = set("^{}\\[~]|€\f")
# Enough calling codes to price the usual test numbers; others count as "*".
CALLING_CODES = {
    "1": "US",
    "7": "RU",
    "31": "NL",
    "32": "BE",
    "33": "FR",
    "34": "ES",
    "39": "IT",
    "41": "CH",
    "44": "GB",
    "49": "DE",
    "52": "MX",
    "55": "BR",
    "61": "AU",
    "81": "JP",
    "86": "CN",
    "91": "IN",
    "212": "MA",
    "234": "NG",
    "352": "LU",
}


def count_segments(text):
    if all(c in GSM7 or c in GSM7_EXT for c in text):
        units = len(text) + sum(c in GSM7_EXT for c in text)
        return 1 if units <= 160 else -(-units // 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


def country_of(number):
    digits = number[1:]
    for size in (3, 2, 1):
        if digits[:size] in CALLING_CODES:
            return CALLING_CODES[digits[:size]]
    return None


def sign(secret, body, timestamp, nonce):
    """The X-Signature of a webhook body sent at ``timestamp`` (unix seconds) with ``nonce``."""
    return hmac.new(secret.encode(), f"{timestamp}.{nonce}.".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(secret, body, timestamp=None, nonce=None):
    """The headers of a webhook call of ``body``: JSON, signed now (or at ``timestamp``) with a new nonce."""
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    return {
        "Content-Type": "application/json",
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": sign(secret, body, timestamp, nonce),
    }


class Simulator:
    def __init__(
        self,
        host="127.0.0.1",
        port=0,
        api_key="test-key",
        webhook_secret="test-secret",
        balance=1000.0,
        prices=None,
        delivery="delivered",
        delivery_delay=0.2,
        timeout_sleep=2.0,
        latency=0.0,
    ):
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.balance = float(balance)
        self.prices = dict(prices or {"*": 1.0})
        self.delivery = delivery  # "delivered", "undelivered", "expired" or None
        self.delivery_delay = delivery_delay
        self.timeout_sleep = timeout_sleep
        self.latency = latency  # seconds added to every send request: a gateway across the network
        self.fail_next = []  # "timeout", 500, 503, 429 ... consumed one per send request
        self.number_states = {}  # number -> forced result state
        self.accepted = {}  # uuid -> result dict, remembered across requests
        self.sent = []  # every message actually sent (never twice per uuid)
        self.requests = 0
        self.reports = []  # (url, status code) of the webhook posts
        self.raw_answers = {}  # path -> body answered as is (HTTP 200), to try clients on garbage
        self.lock = threading.RLock()
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True
        self.thread = None

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, name="sms-gateway-simulator", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ protocol
    def configure(self, **config):
        with self.lock:
            for key in ("balance", "prices", "delivery", "delivery_delay", "timeout_sleep", "api_key", "latency"):
                if key in config:
                    setattr(self, key, config[key])
            if "webhook_secret" in config:
                self.webhook_secret = config["webhook_secret"]
            if "fail_next" in config:
                self.fail_next = list(config["fail_next"])
            if "number_states" in config:
                self.number_states = dict(config["number_states"])
            if "raw_answers" in config:
                self.raw_answers = dict(config["raw_answers"])
            if config.get("reset"):
                self.accepted.clear()
                self.sent.clear()
                self.reports.clear()
                self.requests = 0
                if "raw_answers" not in config:
                    self.raw_answers.clear()

    def state(self):
        with self.lock:
            return {
                "balance": self.balance,
                "sent": list(self.sent),
                "accepted": len(self.accepted),
                "requests": self.requests,
                "reports": list(self.reports),
            }

    def price_of(self, number):
        country = country_of(number)
        if country in self.prices:
            return self.prices[country]
        return self.prices.get("*")

    def send(self, messages):
        results = []
        with self.lock:
            for message in messages:
                uuid = str(message.get("uuid") or "")
                number = str(message.get("number") or "")
                content = str(message.get("content") or "")
                if uuid in self.accepted:
                    results.append(dict(self.accepted[uuid], state="duplicate"))
                    continue
                forced = self.number_states.get(number)
                if forced:
                    results.append({"uuid": uuid, "state": forced, "segments": 0, "credits": 0.0})
                    continue
                if not E164_RE.match(number):
                    results.append({"uuid": uuid, "state": "wrong_number_format", "segments": 0, "credits": 0.0})
                    continue
                price = self.price_of(number)
                if price is None:
                    results.append({"uuid": uuid, "state": "country_not_supported", "segments": 0, "credits": 0.0})
                    continue
                segments = count_segments(content)
                credits = round(segments * price, 4)
                if credits > self.balance + 1e-9:
                    results.append({"uuid": uuid, "state": "insufficient_credit", "segments": 0, "credits": 0.0})
                    continue
                self.balance = round(self.balance - credits, 4)
                result = {"uuid": uuid, "state": "sent", "segments": segments, "credits": credits}
                self.accepted[uuid] = result
                self.sent.append({"uuid": uuid, "number": number, "content": content, "at": time.time()})
                results.append(result)
        return results

    def report_later(self, webhook_url, uuids):
        if not (webhook_url and uuids and self.delivery):
            return
        statuses = [{"uuid": u, "state": self.delivery} for u in uuids]

        def post():
            time.sleep(self.delivery_delay)
            body = json.dumps({"statuses": statuses}).encode()
            request = urllib.request.Request(
                webhook_url,
                data=body,
                headers=signed_headers(self.webhook_secret, body),
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    code = response.status
            except urllib.error.HTTPError as e:
                code = e.code
            except OSError:
                code = None
            with self.lock:
                self.reports.append((webhook_url, code))

        threading.Thread(target=post, daemon=True).start()

    # ------------------------------------------------------------------ HTTP
    def _handler_class(self):
        sim = self

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

            def _body(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    return json.loads(raw or b"{}")
                except ValueError:
                    return None

            def _raw(self):
                """Answer the configured raw body of this path, if any (nothing is sent or charged)."""
                with sim.lock:
                    raw = sim.raw_answers.get(self.path)
                if raw is None:
                    return False
                body = raw.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return True

            def _authorized(self):
                return hmac.compare_digest(self.headers.get("Authorization", ""), f"Bearer {sim.api_key}")

            def do_GET(self):
                if self.path == "/_sim/state":
                    return self._json(200, sim.state())
                if not self._authorized():
                    return self._json(401, {"error": "bad api key"})
                if self._raw():
                    return None
                if self.path == "/sms/v1/balance":
                    return self._json(200, {"balance": sim.balance})
                if self.path == "/sms/v1/prices":
                    prices = [{"country": c, "price": p} for c, p in sorted(sim.prices.items())]
                    return self._json(200, {"prices": prices})
                return self._json(404, {"error": "not found"})

            def do_POST(self):
                payload = self._body()
                if self.path == "/_sim/config":
                    sim.configure(**(payload or {}))
                    return self._json(200, sim.state())
                if self.path != "/sms/v1/send":
                    return self._json(404, {"error": "not found"})
                if not self._authorized():
                    return self._json(401, {"error": "bad api key"})
                if self._raw():
                    return None
                if not isinstance(payload, dict) or not isinstance(payload.get("messages"), list):
                    return self._json(400, {"error": "bad request"})
                with sim.lock:
                    sim.requests += 1
                    failure = sim.fail_next.pop(0) if sim.fail_next else None
                if failure == "timeout":
                    time.sleep(sim.timeout_sleep)  # the client gives up first; nothing is sent
                    return self._json(504, {"error": "timeout"})
                if failure:
                    return self._json(int(failure), {"error": "injected failure"})
                if sim.latency:
                    time.sleep(sim.latency)  # the network and the provider's own work, per request
                results = sim.send(payload["messages"])
                sent = [r["uuid"] for r in results if r["state"] == "sent"]
                sim.report_later(payload.get("webhook_url"), sent)
                return self._json(200, {"results": results, "balance": sim.balance})

        return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8070)
    parser.add_argument("--api-key", default="demo")
    parser.add_argument("--webhook-secret", default="demo-secret")
    parser.add_argument("--balance", type=float, default=1000.0)
    parser.add_argument("--price", action="append", default=[], help="COUNTRY=credits per segment, '*' for others")
    parser.add_argument("--delivery", default="delivered", choices=["delivered", "undelivered", "expired", "none"])
    parser.add_argument("--delivery-delay", type=float, default=1.0)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every send request (e.g. 0, 100, 300)")
    args = parser.parse_args()
    prices = dict(p.split("=", 1) for p in args.price) or {"*": "1"}
    sim = Simulator(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        webhook_secret=args.webhook_secret,
        balance=args.balance,
        prices={c.upper() if c != "*" else c: float(v) for c, v in prices.items()},
        delivery=None if args.delivery == "none" else args.delivery,
        delivery_delay=args.delivery_delay,
        latency=args.latency_ms / 1000.0,
    )
    print(f"SMS gateway simulator on {sim.url} (api key {args.api_key!r}); Ctrl+C stops it", flush=True)
    try:
        sim.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sim.server.server_close()


if __name__ == "__main__":
    main()
