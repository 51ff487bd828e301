"""A local stand-in for Odoo's SMS service (IAP), standard library only.

It answers the JSON-RPC calls Odoo's ``sms`` and ``iap`` modules make, on the
endpoints the system parameters ``sms.endpoint`` and ``iap.endpoint`` point to:

* ``POST /api/sms/3/send`` (``SmsApi._send_sms_batch``): params ``messages``
  ([{"content", "numbers": [{"uuid", "number"}]}]), ``webhook_url``,
  ``dbuuid``, ``account_token``; result: one {"uuid", "state", "credit"} per
  number, ``state`` "success", "wrong_number_format" (not E.164),
  "insufficient_credit" (no credits left) or the state forced per number.
* ``POST /iap/1/balance`` (``iap.account.get_credits``): result the credits left.
* Delivery reports, posted when asked (``post_report``): JSON-RPC
  ``{"params": {"message_statuses": [{"sms_status", "uuids"}]}}`` to the
  ``webhook_url`` of the batch (IAP signs nothing: the URL is the secret).

``--latency-ms`` (``latency`` in seconds from Python) delays every send
request by that much before it is answered, as IAP across the network would
(the balance call is answered at once); ``--credits`` is the starting balance.

By hand: ``scripts/dev/standin.py iap --port 8073 [--latency-ms 100]
[--credits 1e9]``, then the system parameters ``sms.endpoint`` and
``iap.endpoint`` = ``http://127.0.0.1:8073`` and an ``iap.account`` for the
``sms`` service (any token: the stand-in records it and checks nothing).
"""

import json
import re
import time
import uuid

from . import server

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")


class Handler(server.Handler):
    def do_POST(self):
        standin = self.standin
        try:
            request = json.loads(self.read_body() or b"{}")
        except ValueError:
            return self.send_json(400, {"error": "bad json"})
        params = request.get("params") or {}
        if self.path == "/api/sms/3/send" and standin.latency:
            time.sleep(standin.latency)  # outside the lock: concurrent requests overlap their waits
        with standin.lock:
            if self.path == "/api/sms/3/send":
                result = standin.send(params)
            elif self.path == "/iap/1/balance":
                result = standin.credits
            else:
                return self.send_json(404, {"error": "not found"})
        return self.send_json(200, {"jsonrpc": "2.0", "id": request.get("id"), "result": result})


class IapStandin(server.Standin):
    handler = Handler
    name = "iap-standin"

    def __init__(self, host="127.0.0.1", port=0, credits=100.0, price=1.0, latency=0.0):
        super().__init__(host, port)
        self.credits = credits
        self.price = price
        self.latency = latency  # seconds before a send request is answered: IAP across the network
        self.sent = []  # {"uuid", "number", "content", "webhook_url", "account_token"}
        self.number_states = {}

    def reset(self, credits=100.0):
        with self.lock:
            self.credits = credits
            self.sent.clear()
            self.number_states.clear()

    def send(self, params):
        results = []
        for message in params.get("messages") or []:
            content = message.get("content") or ""
            for target in message.get("numbers") or []:
                msg_uuid, number = target.get("uuid"), target.get("number") or ""
                forced = self.number_states.get(number)
                if forced:
                    results.append({"uuid": msg_uuid, "state": forced})
                    continue
                if not E164_RE.match(number):
                    results.append({"uuid": msg_uuid, "state": "wrong_number_format"})
                    continue
                cost = server.count_segments(content) * self.price
                if cost > self.credits + 1e-9:
                    results.append({"uuid": msg_uuid, "state": "insufficient_credit"})
                    continue
                self.credits -= cost
                self.sent.append(
                    {
                        "uuid": msg_uuid,
                        "number": number,
                        "content": content,
                        "webhook_url": params.get("webhook_url"),
                        "account_token": params.get("account_token"),
                    }
                )
                results.append({"uuid": msg_uuid, "state": "success", "credit": cost})
        return results

    def post_report(self, webhook_url, status, uuids):
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"message_statuses": [{"sms_status": status, "uuids": list(uuids)}]},
                "id": uuid.uuid4().hex,
            }
        ).encode()
        return server.post(webhook_url, body, {"Content-Type": "application/json"})


def from_command_line(argv=None):
    """The stand-in the command line describes (``scripts/dev/standin.py iap --help``), and its banner."""
    parser = server.command_line(__doc__.split("\n\n")[0], 8073)
    parser.add_argument("--credits", type=float, default=100.0)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every send request (e.g. 0, 100, 300)")
    args = parser.parse_args(argv)
    standin = IapStandin(args.host, args.port, args.credits, latency=args.latency_ms / 1000.0)
    return standin, f"Odoo IAP SMS stand-in on {standin.url} ({args.latency_ms:g} ms per send); Ctrl+C stops it"
