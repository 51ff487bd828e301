"""A stand-in of an SMS gateway speaking our own ``http`` protocol (docs/design.md,
"Gateway protocol"): the simulator of ``make simulator``, the soak and the benchmark.

It keeps an account (credits, prices per country), answers per message (sent, duplicate,
insufficient_credit, wrong_number_format, country_not_supported, rejected), remembers every
uuid it accepted (a uuid sent again is answered ``duplicate`` and not sent or charged twice),
posts delivery reports to the webhook signed as the protocol says (``signed_headers``), and
injects failures on demand: time-outs, 5xx, 429.

By hand: ``make simulator`` (``scripts/dev/standin.py gateway --port 8070 --api-key demo
--webhook-secret s3cret --balance 1000 --price US=0.5 --price '*=1'``), then, in Odoo, a
gateway with provider "HTTP", endpoint http://127.0.0.1:8070, the same key and secret.
Control (tests, or curl)::

    POST /_sim/config  {"balance": 10, "fail_next": ["timeout", 503, 429],
                        "number_states": {"+15550100": "rejected"}, "delivery": "delivered",
                        "raw_answers": {"/sms/v1/send": "<html>not JSON</html>"}}
    GET  /_sim/state   {"balance": ..., "sent": [{"uuid", "number", "content"}...], "requests": n}

From Python (tests): ``sim = Simulator().start(); ...; sim.stop()``.
"""

import hashlib
import hmac
import json
import re
import secrets
import threading
import time

from . import server

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
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


def country_of(number):
    digits = number[1:]
    for size in (3, 2, 1):
        if digits[:size] in CALLING_CODES:
            return CALLING_CODES[digits[:size]]
    return None


def sign(secret, body, timestamp, nonce):
    """The protocol's ``X-Signature`` (docs/design.md): hex HMAC-SHA256 with the webhook secret
    of ``"{X-Timestamp}.{X-Nonce}."`` followed by the raw body."""
    message = f"{timestamp}.{nonce}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


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


def gateway_values(sim, **overrides):
    """The ``sms.marketing.gateway`` values of an ``http`` gateway sending through ``sim``."""
    credentials = {"api_key": sim.api_key, "webhook_secret": sim.webhook_secret}
    return server.gateway_values(sim, {"name": "Simulator", "provider": "http", **credentials}, overrides)


class Handler(server.Handler):
    def _payload(self):
        try:
            return json.loads(self.read_body() or b"{}")
        except ValueError:
            return None

    def _raw(self):
        """Answer the configured raw body of this path, if any (nothing is sent or charged)."""
        with self.standin.lock:
            raw = self.standin.raw_answers.get(self.path)
        if raw is None:
            return False
        self.send_body(200, raw.encode())
        return True

    def _authorized(self):
        return hmac.compare_digest(self.headers.get("Authorization", ""), f"Bearer {self.standin.api_key}")

    def do_GET(self):
        sim = self.standin
        if self.path == "/_sim/state":
            return self.send_json(200, sim.state())
        if not self._authorized():
            return self.send_json(401, {"error": "bad api key"})
        if self._raw():
            return None
        if self.path == "/sms/v1/balance":
            return self.send_json(200, {"balance": sim.balance})
        if self.path == "/sms/v1/prices":
            prices = [{"country": c, "price": p} for c, p in sorted(sim.prices.items())]
            return self.send_json(200, {"prices": prices})
        return self.send_json(404, {"error": "not found"})

    def do_POST(self):
        sim = self.standin
        payload = self._payload()
        if self.path == "/_sim/config":
            sim.configure(**(payload or {}))
            return self.send_json(200, sim.state())
        if self.path != "/sms/v1/send":
            return self.send_json(404, {"error": "not found"})
        if not self._authorized():
            return self.send_json(401, {"error": "bad api key"})
        if self._raw():
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("messages"), list):
            return self.send_json(400, {"error": "bad request"})
        with sim.lock:
            sim.requests += 1
            number = sim.requests
        sim.wait_if_held(number)
        with sim.lock:
            failure = sim.fail_next.pop(0) if sim.fail_next else None
        if failure == "timeout":
            time.sleep(sim.timeout_sleep)  # the client gives up first; nothing is sent
            return self.send_json(504, {"error": "timeout"})
        if failure:
            return self.send_json(int(failure), {"error": "injected failure"})
        if sim.latency:
            time.sleep(sim.latency)  # the network and the provider's own work, per request
        results = sim.send(payload["messages"])
        sent = [r["uuid"] for r in results if r["state"] == "sent"]
        sim.report_later(payload.get("webhook_url"), sent)
        return self.send_json(200, {"results": results, "balance": sim.balance})


class Simulator(server.Standin):
    handler = Handler
    name = "sms-gateway-simulator"

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
        super().__init__(host, port)
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
                refused = self._refusal(number)
                if refused:
                    results.append({"uuid": uuid, "state": refused, "segments": 0, "credits": 0.0})
                    continue
                segments = server.count_segments(content)
                credits = round(segments * self.price_of(number), 4)
                if credits > self.balance + 1e-9:
                    results.append({"uuid": uuid, "state": "insufficient_credit", "segments": 0, "credits": 0.0})
                    continue
                self.balance = round(self.balance - credits, 4)
                result = {"uuid": uuid, "state": "sent", "segments": segments, "credits": credits}
                self.accepted[uuid] = result
                self.sent.append({"uuid": uuid, "number": number, "content": content, "at": time.time()})
                results.append(result)
        return results

    def _refusal(self, number):
        """The state of a message to ``number`` refused before any charge, or None."""
        if self.number_states.get(number):
            return self.number_states[number]
        if not E164_RE.match(number):
            return "wrong_number_format"
        if self.price_of(number) is None:
            return "country_not_supported"
        return None

    def report_later(self, webhook_url, uuids):
        if not (webhook_url and uuids and self.delivery):
            return
        statuses = [{"uuid": u, "state": self.delivery} for u in uuids]

        def report():
            time.sleep(self.delivery_delay)
            body = json.dumps({"statuses": statuses}).encode()
            try:
                code = server.post(webhook_url, body, signed_headers(self.webhook_secret, body), timeout=10)[0]
            except OSError:
                code = None
            with self.lock:
                self.reports.append((webhook_url, code))

        threading.Thread(target=report, daemon=True).start()


def from_command_line(argv=None):
    """The simulator the command line describes (``scripts/dev/standin.py gateway --help``), and its banner."""
    parser = server.command_line(__doc__.split("\n\n")[0], 8070)
    parser.add_argument("--api-key", default="demo")
    parser.add_argument("--webhook-secret", default="demo-secret")
    parser.add_argument("--balance", type=float, default=1000.0)
    parser.add_argument("--price", action="append", default=[], help="COUNTRY=credits per segment, '*' for others")
    parser.add_argument("--delivery", default="delivered", choices=["delivered", "undelivered", "expired", "none"])
    parser.add_argument("--delivery-delay", type=float, default=1.0)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every send request (e.g. 0, 100, 300)")
    args = parser.parse_args(argv)
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
    return sim, f"SMS gateway simulator on {sim.url} (api key {args.api_key!r}); Ctrl+C stops it"
