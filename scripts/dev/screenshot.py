#!/usr/bin/env python3
"""Screenshot of an Odoo page in headless Chromium, for README.md.

Starts an Odoo server on a free port against DATABASE (which must have
sms_marketing_custom installed, e.g. the one of `make run`), logs in as
admin/admin, opens the page in Chromium through the DevTools protocol, waits
until the web client is idle, and writes a PNG.

    python scripts/dev/screenshot.py --database sms_marketing --output docs/mailing_form.png \
        --path "/web#model=sms.marketing.mailing&view_type=form&id=1"

Environment: ODOO_PATH and ODOO_RC (set by scripts/dev/odoo_env.sh), chromium on PATH.
"""

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import requests
import websocket


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.5)
    raise SystemExit(f"server at {url} did not answer within {timeout}s")


class DevTools:
    """The few Chrome DevTools Protocol calls a screenshot needs."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--path", default="/web#action=sms_marketing_custom.sms_marketing_mailing_action")
    parser.add_argument("--ready", default=".o_form_view .o_form_sheet", help="CSS selector to wait for")
    parser.add_argument("--setup-js", default="", help="JavaScript run once the page is ready (e.g. a click)")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=1100)
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    args = parser.parse_args()

    odoo_path, odoo_rc = os.environ["ODOO_PATH"], os.environ["ODOO_RC"]
    http_port, debug_port = free_port(), free_port()
    base = f"http://127.0.0.1:{http_port}"
    server = subprocess.Popen(
        [sys.executable, os.path.join(odoo_path, "odoo-bin"), "-c", odoo_rc, "-d", args.database,
         f"--db-filter=^{args.database}$", "--http-interface=127.0.0.1", f"--http-port={http_port}",
         "--max-cron-threads=0", "--log-level=warn"],
    )  # fmt: skip
    profile = tempfile.mkdtemp(prefix="smc-chromium-")
    browser = None
    try:
        wait_http(f"{base}/web/login")
        session = requests.Session()
        response = session.post(
            f"{base}/web/session/authenticate",
            json={"jsonrpc": "2.0", "params": {"db": args.database, "login": args.login, "password": args.password}},
            timeout=60,
        )
        response.raise_for_status()
        if response.json().get("error"):
            raise SystemExit(f"login failed: {response.json()['error']}")
        chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        browser = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--remote-debugging-port={debug_port}", f"--user-data-dir={profile}",
             f"--window-size={args.width},{args.height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_http(f"http://127.0.0.1:{debug_port}/json/version", timeout=30)
        targets = requests.get(f"http://127.0.0.1:{debug_port}/json", timeout=10).json()
        page = next(target for target in targets if target["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        tools.call("Network.enable")
        tools.call(
            "Network.setCookie",
            name="session_id",
            value=session.cookies["session_id"],
            url=base,
        )
        tools.call("Emulation.setDeviceMetricsOverride", width=args.width, height=args.height, deviceScaleFactor=1,
                   mobile=False)  # fmt: skip
        tools.call("Page.enable")
        tools.call("Page.navigate", url=base + args.path)
        deadline = time.time() + 90
        selector = json.dumps(args.ready)
        while not tools.evaluate(f"!!document.querySelector({selector})"):
            if time.time() > deadline:
                raise SystemExit(f"{args.ready} did not appear")
            time.sleep(0.5)
        if args.setup_js:
            tools.evaluate(args.setup_js)
        time.sleep(2)  # let the last RPCs (counts, chatter) and fonts settle
        shot = tools.call("Page.captureScreenshot", format="png")
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "wb") as output:
            output.write(base64.b64decode(shot["data"]))
        print(f"screenshot written to {args.output}")
    finally:
        for process in (browser, server):
            if process:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
