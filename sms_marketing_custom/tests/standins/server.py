"""The server skeleton every stand-in shares: a threaded HTTP server on 127.0.0.1 that runs in a
daemon thread, JSON answers, the failures a send request can be given, the calls a provider posts
back to Odoo (kept, to replay them), a gateway's values and the segment count of a text."""

import argparse
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXT = set("^{}\\[~]|€\f")
GSM7_ALL = GSM7 | GSM7_EXT


def count_segments(text, unicode=None):
    """SMS parts of ``text``: GSM-7 (an extension character takes two septets: 160, then 153 per
    part) unless it needs UCS-2 (70, then 67 UTF-16 units); ``unicode`` forces the encoding."""
    if unicode is None:
        unicode = not GSM7_ALL.issuperset(text)
    if not unicode:
        # set operations, not a loop over the characters: the simulator counts every message of a bench
        units = len(text) + sum(map(text.count, GSM7_EXT.intersection(text)))
        return 1 if units <= 160 else -(-units // 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


def post(url, body, headers, timeout=30):
    """POST ``body`` to ``url``; returns (HTTP status, answer body), an HTTP error included."""
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class RequestHold:
    """A send request held by the stand-in (``ProviderStandin.hold_request``)."""

    def __init__(self):
        self.arrived = threading.Event()
        self.release = threading.Event()

    def wait_arrived(self, timeout=60):
        return self.arrived.wait(timeout)


class Handler(BaseHTTPRequestHandler):
    """The request handler of a stand-in: ``self.standin`` is the server's stand-in."""

    protocol_version = "HTTP/1.1"

    @property
    def standin(self):
        return self.server.standin

    def log_message(self, format, *args):
        pass

    def send_body(self, code, body, content_type="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, code, payload):
        self.send_body(code, json.dumps(payload).encode())

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer_send(self, accept, refusal):
        """Answer a send request with ``accept()`` -> (HTTP status, payload), run under the stand-in's lock,
        unless the next injected failure (``fail_next``) refuses it (429, 500, 503: ``refusal(status)`` is
        the payload) or loses the answer of what was accepted ("drop_after_accept", "timeout_after_accept")."""
        standin = self.standin
        with standin.lock:
            standin.requests += 1
            number = standin.requests
        standin.wait_if_held(number)
        with standin.lock:
            failure = standin.fail_next.pop(0) if standin.fail_next else None
            if failure in (429, 500, 503):
                return self.send_json(failure, refusal(failure))
            status, payload = accept()
        if failure == "drop_after_accept":
            self.close_connection = True  # accepted, but the connection breaks before the answer
            return None
        if failure == "timeout_after_accept":
            time.sleep(standin.timeout_sleep)  # accepted, but the client has given up
        return self.send_json(status, payload)


def gateway_values(standin, values, overrides):
    """The ``sms.marketing.gateway`` values of a gateway sending through ``standin``: the provider's
    ``values``, then the test's ``overrides``."""
    return {
        "endpoint_url": standin.url,
        "allow_private_network": True,  # the stand-in listens on 127.0.0.1
        **values,
        **overrides,
    }


class Standin:
    """A stand-in: ``handler`` answers its requests; ``start`` serves in a daemon thread."""

    handler = Handler
    name = "standin"

    def __init__(self, host="127.0.0.1", port=0):
        self.lock = threading.RLock()
        self.holds = {}  # send request number -> RequestHold
        self.server = ThreadingHTTPServer((host, port), self.handler)
        self.server.daemon_threads = True
        self.server.standin = self

    def hold_request(self, number):
        """Hold the ``number``-th send request (counted from the last reset) before the stand-in takes its
        message, until the test calls ``release()`` on the ``RequestHold`` returned: a provider that is
        slow exactly when the test wants it, with no sleep. ``arrived`` is set once the request is held."""
        hold = RequestHold()
        with self.lock:
            self.holds[number] = hold
        return hold

    def wait_if_held(self, number):
        """In the handler of the ``number``-th send request: wait while the test holds it (``hold_request``)."""
        with self.lock:
            hold = self.holds.pop(number, None)
        if hold:
            hold.arrived.set()
            hold.release.wait(timeout=120)

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        threading.Thread(target=self.server.serve_forever, name=self.name, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def command_line(description, default_port):
    """The argument parser every stand-in's command line starts from (``--host``, ``--port``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    return parser


class ProviderStandin(Standin):
    """A provider's API: the messages it accepted (``messages``), the failures to inject in its send
    requests (``fail_next``, see ``Handler.answer_send``) and every call it posted to Odoo
    (``posted``), which ``replay`` posts again as someone who captured it would."""

    def __init__(self, host="127.0.0.1", port=0):
        super().__init__(host, port)
        self.timeout_sleep = 2.0
        self.messages = []
        self.fail_next = []
        self.requests = 0
        self.posted = []  # (url, body, headers) of every call posted

    def reset(self):
        with self.lock:
            self.messages.clear()
            self.fail_next.clear()
            self.requests = 0
            self.holds.clear()
            self.posted.clear()

    def post_form(self, url, params, headers=None):
        """Post the form ``params`` to ``url`` with ``headers`` and keep it in ``posted``; returns (status, body)."""
        posted = (
            url,
            urlencode(params).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        )
        with self.lock:
            self.posted.append(posted)
        return self.replay(posted)

    def replay(self, posted):
        """Post a captured call (an item of ``posted``) again, byte for byte."""
        return post(*posted)
