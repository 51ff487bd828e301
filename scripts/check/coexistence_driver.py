#!/usr/bin/env python3
"""Driver of scripts/check/check_coexistence.sh: our module beside Odoo's SMS Marketing, Surveys, CRM and Website.

    prepare --state FILE   (ORM, server stopped) creates what the HTTP checks need: a mailing of ours
                           with a tracked link, a trace and its tokens, a gateway with a webhook secret,
                           a live survey session "4242", an Odoo link tracker, an Odoo SMS mailing trace;
                           checks that the two SMS apps have different names; writes FILE (JSON).
    probe --state FILE --port N   (HTTP, server running) checks every route of FILE.

Each check prints "coexistence: ok <what>"; the first failure prints "coexistence failed: <reason>"
and exits 1.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import re
import secrets
import sys
import time

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
TARGET = "https://shop.example.com/coexistence?utm_source=sms"
ODOO_TARGET = "https://www.example.com/odoo-link-tracker"
SESSION_CODE = "4242"
WEBHOOK_SECRET = "coexistence-secret"


class CheckFailed(Exception):
    pass


def ok(what):
    print(f"coexistence: ok {what}", flush=True)


def expect(condition, reason):
    if not condition:
        raise CheckFailed(reason)


# ------------------------------------------------------------------ prepare (ORM)
def prepare(args):
    import odoo  # imported here: probe runs without Odoo

    odoo.tools.config.parse_config(["-c", args.config, "-d", args.database, "--log-level=warn"])
    registry = odoo.registry(args.database)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        state = {}
        check_names(env)
        state.update(prepare_ours(env))
        state.update(prepare_odoo(env))
        cr.commit()
    with open(args.state, "w", encoding="utf-8") as handle:
        json.dump(state, handle)


def check_names(env):
    """Someone with both apps installed can tell them apart: app names, menus and breadcrumbs differ."""
    modules = env["ir.module.module"].search([("name", "in", ("sms_marketing_custom", "mass_mailing_sms"))])
    names = {module.name: module.shortdesc for module in modules}
    expect(len(names) == 2, f"both SMS apps should be known, found {sorted(names)}")
    expect(
        names["sms_marketing_custom"] != names["mass_mailing_sms"],
        f"both apps are named {names['mass_mailing_sms']!r}",
    )
    ok(f"app names differ: {names['sms_marketing_custom']!r} / Odoo's {names['mass_mailing_sms']!r}")
    for what, ours, theirs in (
        ("root menus", "sms_marketing_custom.sms_marketing_menu_root", "mass_mailing_sms.mass_mailing_sms_menu_root"),
        (
            "mailing actions (breadcrumbs)",
            "sms_marketing_custom.sms_marketing_mailing_action",
            "mass_mailing_sms.mailing_mailing_action_sms",
        ),
    ):
        our_name, their_name = env.ref(ours).name, env.ref(theirs).name
        expect(our_name != their_name, f"{what}: both are named {their_name!r}")
        ok(f"{what} differ: {our_name!r} / Odoo's {their_name!r}")
    ours = env.ref("sms_marketing_custom.sms_marketing_menu_root")
    theirs = env.ref("mass_mailing_sms.mass_mailing_sms_menu_root")
    our_entries = set(env["ir.ui.menu"].search([("parent_id", "=", ours.id)]).mapped("name"))
    expect(ours.name not in our_entries, f"a menu of ours is named like our app, {ours.name!r}")
    expect(theirs.name not in our_entries, f"a menu of ours is named {theirs.name!r}, Odoo's app name")
    ok("no first-level menu of ours is named like either app")


def prepare_ours(env):
    from odoo.addons.sms_marketing_custom.tools import links  # importable once the registry is loaded

    gateway = env["sms.marketing.gateway"].create(
        {"name": "Coexistence gateway", "provider": "sandbox", "webhook_secret": WEBHOOK_SECRET}
    )
    sms_list = env["sms.marketing.list"].create({"name": "Coexistence"})
    contact = env["sms.marketing.contact"].create(
        {"name": "Coexistence", "phone": "+32470123456", "subscription_ids": [(0, 0, {"list_id": sms_list.id})]}
    )
    mailing = env["sms.marketing.mailing"].create(
        {
            "subject": "Coexistence",
            "body": f"Sale: {TARGET}",
            "list_ids": [(6, 0, sms_list.ids)],
            "include_optout": True,
            "gateway_id": gateway.id,
        }
    )
    trace = env["sms.marketing.trace"].create(
        {
            "mailing_id": mailing.id,
            "res_model": "sms.marketing.contact",
            "res_id": contact.id,
            "number": "+32470123456",
            "uuid": "coexistence-trace",
            "state": "sent",
        }
    )
    mailing._prepare_tracking()
    body = mailing._apply_tracking(trace, {trace.id: mailing.body})[trace.id]
    paths = [re.sub(r"^https?://[^/]+", "", url) for url in re.findall(r"https?://\S+", body)]
    click = next((path for path in paths if path.startswith(links.CLICK_PATH)), None)
    optout = next((path for path in paths if path.startswith(links.OPTOUT_PATH)), None)
    expect(click and optout, f"the SMS of ours has no tracked link or opt-out link: {body!r}")
    code, token = click[len(links.CLICK_PATH) :].split("/")[:2]
    return {
        "click": click,
        "legacy_click": f"{links.LEGACY_CLICK_PATH}{code}/{token}",
        "legacy_short": f"{links.LEGACY_CLICK_PATH}{code}",
        "optout": optout,
        "target": TARGET,
        "gateway_id": gateway.id,
        "trace_uuid": trace.uuid,
    }


def prepare_odoo(env):
    survey = env["survey.survey"].create(
        {"title": "Coexistence live session", "access_mode": "public", "certification": False}
    )
    survey.write({"session_code": SESSION_CODE, "session_state": "in_progress"})
    tracker = env["link.tracker"].create({"url": ODOO_TARGET, "title": "Coexistence"})
    partner = env["res.partner"].create({"name": "Coexistence", "mobile": "+32470654321"})
    mailing = env["mailing.mailing"].create(
        {
            "subject": "Odoo SMS coexistence",
            "mailing_type": "sms",
            "body_plaintext": "Hello",
            "mailing_model_id": env["ir.model"]._get_id("res.partner"),
        }
    )
    trace = env["mailing.trace"].create(
        {
            "trace_type": "sms",
            "mass_mailing_id": mailing.id,
            "model": "res.partner",
            "res_id": partner.id,
            "sms_number": partner.mobile,
        }
    )
    expect(trace.sms_code, "Odoo's SMS trace got no code")
    return {
        "survey_session": f"/s/{SESSION_CODE}",
        "survey_start": survey.get_start_url(),
        "odoo_link": f"/r/{tracker.code}",
        "odoo_target": ODOO_TARGET,
        "odoo_sms_optout": f"/sms/{mailing.id}/{trace.sms_code}",
    }


# ------------------------------------------------------------------ probe (HTTP)
def request(port, method, path, body=None, headers=None):
    """(status, headers, text) of one request, redirects not followed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(method, path, body=body, headers={"User-Agent": BROWSER, **(headers or {})})
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        return response.status, response.headers, text
    finally:
        connection.close()


def location_path(headers):
    return re.sub(r"^https?://[^/]+", "", headers.get("Location", ""))


def probe(args):
    with open(args.state, encoding="utf-8") as handle:
        state = json.load(handle)
    port = args.port

    for what, path in (("tracked link", state["click"]), ("tracked link of SMS sent before", state["legacy_click"])):
        status, headers, _text = request(port, "GET", path)
        expect(status == 302, f"{what} {path} answered {status}, expected 302")
        expect(headers.get("Location") == state["target"], f"{what} {path} redirects to {headers.get('Location')!r}")
        ok(f"{what} {path} redirects (302) to the tracked URL")

    status, _headers, text = request(port, "GET", state["optout"])
    expect(status == 200, f"opt-out page {state['optout']} answered {status}")
    expect("o_sms_optout_confirm" in text, f"opt-out page {state['optout']} shows no confirmation")
    # the page's script posts the confirmation (a GET never records): post it as the browser does
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _headers, text = request(port, "POST", state["optout"], body="", headers=form)
    expect(status == 200, f"opt-out page {state['optout']} answered {status} to its confirmation")
    expect("unsubscribed" in text.lower(), f"opt-out page {state['optout']} does not confirm the opt-out")
    ok(f"opt-out page {state['optout']} answers 200 and records the opt-out on its confirmation")

    path = f"/sms_marketing/status/{state['gateway_id']}"
    body = json.dumps({"statuses": [{"uuid": state["trace_uuid"], "state": "delivered"}]}).encode()
    status, _headers, _text = request(
        port, "POST", path, body, {"Content-Type": "application/json", "X-Signature": "0" * 64}
    )
    expect(status == 403, f"webhook {path} answered {status} to a bad signature, expected 403")
    ok(f"webhook {path} answers 403 to a bad signature")
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    signed = f"{timestamp}.{nonce}.".encode() + body  # docs/design.md, "Gateway protocol"
    signature = hmac.new(WEBHOOK_SECRET.encode(), signed, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Timestamp": timestamp, "X-Nonce": nonce}
    status, _headers, text = request(port, "POST", path, body, {**headers, "X-Signature": signature})
    expect(status == 200, f"webhook {path} answered {status} to a good signature, expected 200")
    expect(json.loads(text).get("updated") == 1, f"webhook {path} did not apply the delivery report: {text[:200]}")
    ok(f"webhook {path} answers 200 to a good signature")

    path = state["survey_session"]
    status, headers, _text = request(port, "GET", path)
    expect(status != 404, f"Surveys' {path} answered 404: a route of ours took it")
    expect(
        status in (301, 302, 303) and location_path(headers).startswith(state["survey_start"]),
        f"Surveys' {path} answered {status} -> {headers.get('Location')!r}, expected Survey's start page "
        f"{state['survey_start']}",
    )
    ok(f"Surveys' live session {path} redirects ({status}) to {state['survey_start']}")
    path = state["legacy_short"]
    status, headers, text = request(port, "GET", path)
    expect(
        status == 200 and "survey" in text.lower() and headers.get("Location") != state["target"],
        f"{path} (no token) answered {status} {headers.get('Location')!r}, expected Survey's session-code page",
    )
    ok(f"{path} (one segment, no token) is Survey's session-code page, not a click of ours")

    path = state["odoo_link"]
    status, headers, _text = request(port, "GET", path)
    expect(
        status in (301, 302) and headers.get("Location") == state["odoo_target"],
        f"Odoo's link tracker {path} answered {status} -> {headers.get('Location')!r}",
    )
    ok(f"Odoo's link tracker {path} redirects ({status}) to its URL")
    path = state["odoo_sms_optout"]
    status, headers, _text = request(port, "GET", path)
    expect(status == 200, f"Odoo's SMS opt-out page {path} answered {status} {headers.get('Location')!r}")
    ok(f"Odoo's SMS opt-out page {path} answers 200")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    prepare_parser = commands.add_parser("prepare")
    prepare_parser.add_argument("--config", required=True)
    prepare_parser.add_argument("--database", required=True)
    prepare_parser.add_argument("--state", required=True)
    probe_parser = commands.add_parser("probe")
    probe_parser.add_argument("--state", required=True)
    probe_parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        (prepare if args.command == "prepare" else probe)(args)
    except CheckFailed as failure:
        print(f"coexistence failed: {failure}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
