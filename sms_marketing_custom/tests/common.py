import importlib.util
import json
import re
import threading
import uuid
from contextlib import contextmanager
from unittest.mock import patch

import psycopg2

from odoo import SUPERUSER_ID, api, http, sql_db
from odoo.tests import HttpCase, TransactionCase, new_test_user
from odoo.tools import file_path

from ..tools import links
from .standins import gateway, iap, twilio, vonage

# The web server reads every addon's manifest on its first request for a static file
# (``http.root.statics``, computed once). A browser test's first page asks several at once,
# and the Python of this project's machines (3.11.7, 3.12.1) can fail to compile in two
# threads at once ("AST constructor recursion depth mismatch", CPython gh-106905): a 500 on
# the menus, and a web client that never starts. Read here, when the tests are loaded.
ADDONS_WITH_STATIC_FILES = http.root.statics


class SmsMarketingCase(TransactionCase):
    """The one fixture root: two companies and the users of every role, created here only.

    Company A is the test environment's company; every user works in A only,
    except ``marketer_b`` (B only) and ``marketer_ab`` (both).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "SMS company B"})
        in_a = {"company_id": cls.company_a.id, "company_ids": [(6, 0, cls.company_a.ids)]}
        marketer_groups = "base.group_user,sms_marketing_custom.group_sms_marketing_user"
        cls.user_marketing = new_test_user(cls.env, login="sms_marketer", groups=marketer_groups, **in_a)
        cls.user_manager = new_test_user(
            cls.env,
            login="sms_manager",
            groups="base.group_user,sms_marketing_custom.group_sms_marketing_manager,base.group_allow_export",
            **in_a,
        )
        cls.user_employee = new_test_user(cls.env, login="sms_employee", groups="base.group_user", **in_a)
        cls.user_portal = new_test_user(cls.env, login="sms_portal", groups="base.group_portal", **in_a)
        cls.user_public = cls.env.ref("base.public_user")
        cls.user_admin = new_test_user(
            cls.env,
            login="sms_admin",
            groups="base.group_user,base.group_system,sms_marketing_custom.group_sms_marketing_manager",
            **in_a,
        )
        cls.marketer_b = new_test_user(
            cls.env,
            login="sms_marketer_b",
            groups=marketer_groups,
            company_id=cls.company_b.id,
            company_ids=[(6, 0, cls.company_b.ids)],
        )
        cls.marketer_ab = new_test_user(
            cls.env,
            login="sms_marketer_ab",
            groups=marketer_groups,
            company_id=cls.company_a.id,
            company_ids=[(6, 0, (cls.company_a | cls.company_b).ids)],
        )


class SmsMarketingAudienceCase(SmsMarketingCase):
    """Audience fixtures: a company in the United States, a French and a Belgian contact helper."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.country_us = cls.env.ref("base.us")
        cls.country_fr = cls.env.ref("base.fr")
        cls.country_be = cls.env.ref("base.be")
        cls.env.company.country_id = cls.country_us

    @classmethod
    def _create_contacts(cls, values_list, lists=None):
        """Contacts from (name, phone, country or None) tuples, subscribed to ``lists``."""
        return cls.env["sms.marketing.contact"].create(
            [
                {
                    "name": name,
                    "phone": phone,
                    "country_id": country.id if country else False,
                    "list_ids": [(6, 0, lists.ids)] if lists else [],
                }
                for name, phone, country in values_list
            ]
        )

    def _mailing_stats(self, **values):
        mailing = self.env["sms.marketing.mailing"].create({"subject": "Audience test", "body": "Hello", **values})
        return mailing, mailing.env["sms.marketing.audience"]._get_statistics(mailing)


class SmsMarketingMailingCase(SmsMarketingCase):
    """A list of three contacts (US, US, BE), a gateway with prices, and a draft mailing to the list."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.country_us = cls.env.ref("base.us")
        cls.country_be = cls.env.ref("base.be")
        cls.mailing_list = cls.env["sms.marketing.list"].create({"name": "Customers"})
        subscribed = {"list_ids": [(4, cls.mailing_list.id)]}
        cls.contacts = cls.env["sms.marketing.contact"].create(
            [
                {"name": "Ann", "phone": "+1 202-555-0143", "country_id": cls.country_us.id, **subscribed},
                {"name": "Bob", "phone": "+1 202-555-0178", "country_id": cls.country_us.id, **subscribed},
                {"name": "Chloé", "phone": "+32 470 98 76 54", "country_id": cls.country_be.id, **subscribed},
            ]
        )
        cls.gateway = cls.env["sms.marketing.gateway"].create(
            {"name": "Test gateway", "provider": "sandbox", "balance": 1000.0}
        )
        cls.env["sms.marketing.gateway.price"].create(
            [
                {"gateway_id": cls.gateway.id, "country_id": cls.country_us.id, "price": 1.0},
                {"gateway_id": cls.gateway.id, "country_id": cls.country_be.id, "price": 2.5},
                {"gateway_id": cls.gateway.id, "country_id": False, "price": 3.0},
            ]
        )
        cls.mailing = (
            cls.env["sms.marketing.mailing"]
            .with_user(cls.user_marketing)
            .create(
                {
                    "subject": "Spring sale",
                    "body": "Spring sale: 20% off today!",
                    "list_ids": [(6, 0, cls.mailing_list.ids)],
                    "gateway_id": cls.gateway.id,
                    "include_optout": False,
                }
            )
        )


def load_migration(version, name):
    """The module of a migration script (``migrations/<version>/<name>.py``), to run its ``migrate`` on a
    database made to look like the previous release's."""
    path = file_path(f"sms_marketing_custom/migrations/{version}/{name}.py")
    spec = importlib.util.spec_from_file_location(f"sms_marketing_custom_migration_{version}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------- sending engine
STANDIN_MODULES = {
    "gateway_simulator.py": gateway,
    "twilio_standin.py": twilio,
    "vonage_standin.py": vonage,
    "iap_standin.py": iap,
}


def load_script(filename, module_name=None):
    """The stand-in module of a provider by the file name it had under scripts/ ("twilio_standin.py"...).
    Kept for callers written before the stand-ins moved into ``tests/standins``: import from there."""
    return STANDIN_MODULES[filename]


def load_gateway_simulator():
    """The stand-in of our ``http`` gateway protocol (``standins.gateway``)."""
    return gateway


class SmsEngineCase(SmsMarketingCase):
    """A list of contacts, a mailing on it, the sandbox gateway and a simulator-backed http gateway."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.simulator_module = load_gateway_simulator()
        cls.sim = cls.simulator_module.Simulator(delivery=None, timeout_sleep=1.0).start()
        cls.addClassCleanup(cls.sim.stop)
        cls.env["ir.config_parameter"].sudo().set_param("web.base.url", "http://127.0.0.1:9")
        cls.sandbox = cls.env.ref("sms_marketing_custom.sms_marketing_gateway_sandbox")
        cls.sandbox.write({"sandbox_delivery": True, "sandbox_failure_rate": 0, "sandbox_undelivered_rate": 0})
        cls.http_gateway = cls.env["sms.marketing.gateway"].create(
            gateway.gateway_values(cls.sim, timeout=0.5, sequence=200)
        )
        cls.http_gateway._change_balance(10000.0, "purchase")
        cls.sms_list = cls.env["sms.marketing.list"].create({"name": "Engine customers"})
        cls.belgium = cls.env.ref("base.be")

    def setUp(self):
        super().setUp()
        self.sim.configure(reset=True, balance=1000.0, prices={"*": 1.0}, fail_next=[], number_states={}, delivery=None)

    def _trace_table_analyses(self):
        """How many times the trace table was analyzed by a command (autovacuum's analyses aside)."""
        self.env.cr.execute("SELECT pg_stat_clear_snapshot()")  # the statistics views are read once per transaction
        self.env.cr.execute("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'sms_marketing_trace'")
        return self.env.cr.fetchone()[0]

    @classmethod
    def _make_contacts(cls, count, start=0, sms_list=None):
        return cls.env["sms.marketing.contact"].create(
            [
                {
                    "name": f"Contact {start + i}",
                    "phone": f"+3247{start + i:07d}",
                    "phone_sanitized": f"+3247{start + i:07d}",
                    "country_id": cls.belgium.id,
                    "list_ids": [(4, (sms_list or cls.sms_list).id)],
                }
                for i in range(count)
            ]
        )

    @classmethod
    def _opt_out(cls, contact, sms_list=None):
        cls.env.flush_all()
        cls.env.cr.execute(
            "UPDATE sms_marketing_subscription SET opt_out = TRUE WHERE contact_id = %s AND list_id = %s",
            [contact.id, (sms_list or cls.sms_list).id],
        )
        cls.env.invalidate_all()

    def _make_mailing(self, gateway=None, body="Spring sale: 20% off today!", **values):
        return self.env["sms.marketing.mailing"].create(
            {
                "subject": "Engine test",
                "body": body,
                "list_ids": [(6, 0, self.sms_list.ids)],
                "gateway_id": (gateway or self.sandbox).id,
                "include_optout": False,
                **values,
            }
        )

    def _start(self, mailing):
        mailing.write({"state": "sending"})
        return mailing

    def _run_cron(self):
        self.env["sms.marketing.mailing"]._cron_process_queue()
        self.env.invalidate_all()

    def _states(self, mailing):
        counts = {}
        for trace in mailing.trace_ids:
            counts[trace.state] = counts.get(trace.state, 0) + 1
        return counts

    def _ledger_balance(self, gateway):
        moves = self.env["sms.marketing.credit.move"].search([("gateway_id", "=", gateway.id)])
        return round(sum(moves.mapped("amount")), 4)


# A person's phone, as the public pages see it (scanners pose as one too: tests/test_security_optout.py).
PHONE_BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


class PublicRouteCalls:
    """Calls to the addon's public routes (pages, webhooks) through the HttpCase's server."""

    def _post_route(self, path, data=None, headers=None, user_agent=PHONE_BROWSER):
        """POST ``data`` to ``path`` (default: the opt-out page's confirmation, what its form posts)."""
        headers = {"User-Agent": user_agent, **(headers or {})}
        response = self.url_open(path, data={"confirm": "1"} if data is None else data, headers=headers)
        self.env.invalidate_all()  # the server wrote in the same transaction
        return response


class SmsMarketingLinksCommon(PublicRouteCalls):
    """Link tracking fixtures: two lists, three contacts, a list mailing and a model mailing with sent traces."""

    BODY = (
        "Summer sale! https://shop.example.com/sale?utm_source=sms&promo=SUMMER, "
        "again https://shop.example.com/sale?utm_source=sms&promo=SUMMER. "
        "Our shop (https://www.example.org/shop)."
    )

    @classmethod
    def _setup_links_fixtures(cls):
        env = cls.env(su=True)
        cls.list_news, cls.list_promo, cls.list_other = env["sms.marketing.list"].create(
            [{"name": "Newsletter"}, {"name": "Promotions"}, {"name": "Partners"}]
        )
        cls.contacts = env["sms.marketing.contact"].create(
            [
                {"name": f"Contact {index}", "phone": number, "phone_sanitized": number}
                for index, number in enumerate(("+33612345678", "+33698765432", "+14155550100"))
            ]
        )
        env["sms.marketing.subscription"].create(
            [
                {"contact_id": contact.id, "list_id": mailing_list.id}
                for contact in cls.contacts
                for mailing_list in (cls.list_news, cls.list_promo, cls.list_other)
            ]
        )
        cls.mailing = env["sms.marketing.mailing"].create(
            {
                "subject": "Summer sale",
                "body": cls.BODY,
                "list_ids": [(6, 0, (cls.list_news | cls.list_promo).ids)],
                "include_optout": True,
            }
        )
        cls.mailing_model = env["sms.marketing.mailing"].create(
            {
                "subject": "Partners news",
                "body": "News at https://news.example.com/",
                "recipient_model_id": env["ir.model"]._get_id("res.partner"),
                "include_optout": True,
            }
        )
        cls.traces = cls._create_traces(cls.mailing, cls.contacts)
        cls.trace_model = cls._create_traces(cls.mailing_model, cls.contacts[:1], res_model="res.partner")

    @classmethod
    def _setup_tracked_bodies(cls):
        """The fixtures with the list mailing's links tracked: ``bodies``, the SMS text of each trace."""
        cls._setup_links_fixtures()
        cls.mailing._prepare_tracking()
        cls.bodies = cls.mailing._apply_tracking(cls.traces, {trace.id: cls.BODY for trace in cls.traces})

    def _links_of(self, trace):
        """Paths of the tracked links and the opt-out link in the SMS of ``trace`` (``_setup_tracked_bodies``)."""
        urls = re.findall(r"https?://\S+?(?=[,.)]?(?:\s|$))", self.bodies[trace.id])
        paths = [re.sub(r"^https?://[^/]+", "", url) for url in urls]
        optout_path = next(path for path in paths if path.startswith(links.OPTOUT_PATH))
        return [path for path in paths if path.startswith(links.CLICK_PATH)], optout_path

    @classmethod
    def _create_traces(cls, mailing, contacts, res_model="sms.marketing.contact"):
        return (
            cls.env["sms.marketing.trace"]
            .sudo()
            .create(
                [
                    {
                        "mailing_id": mailing.id,
                        "res_model": res_model,
                        "res_id": contact.id,
                        "number": contact.phone_sanitized,
                        "uuid": uuid.uuid4().hex,
                        "state": "sent",
                    }
                    for contact in contacts
                ]
            )
        )


class SmsOptoutPageCase(HttpCase, SmsMarketingLinksCommon):
    """The opt-out page of the first contact's SMS: ``path``, its link; ``first_event``, the consent log's
    last event before the test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_links_fixtures()
        cls.trace = cls.traces[0]
        token = cls.env["sms.marketing.trace"]._get_tokens([cls.trace.id])[cls.trace.id][1]
        cls.path = f"{links.OPTOUT_PATH}{token}"

    def setUp(self):
        super().setUp()
        # the fixtures' subscriptions are opt-ins already in the log: only what the page adds counts
        self.first_event = self.env["sms.marketing.consent"].search([], order="id desc", limit=1).id or 0


class SmsProviderCase(SmsMarketingCase, HttpCase, PublicRouteCalls):
    """Real providers against their local stand-ins (``tests/standins``), webhooks through Odoo's HTTP server.

    ``web.base.url`` is this test server, so the callback URLs the providers are
    given (and sign) are the ones the stand-ins post to. ``_make_due`` ends the
    backoff of what a run left pending, so that the next run retries it.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from odoo.tests.common import HOST
        from odoo.tools import config

        cls.odoo_url = f"http://{HOST}:{config['http_port']}"
        set_param = cls.env["ir.config_parameter"].sudo().set_param
        set_param("web.base.url", cls.odoo_url)
        cls.sms_list = cls.env["sms.marketing.list"].create({"name": "Provider customers"})

    @classmethod
    def _make_contacts(cls, numbers, country, sms_list=None):
        sms_list = sms_list or cls.sms_list
        return cls.env["sms.marketing.contact"].create(
            [
                {"name": f"Contact {number}", "phone": number, "country_id": country.id, "list_ids": [(4, sms_list.id)]}
                for number in numbers
            ]
        )

    def _make_mailing(self, gateway, body="Spring sale: 20% off today!", sms_list=None, **values):
        return self.env["sms.marketing.mailing"].create(
            {
                "subject": "Provider test",
                "body": body,
                "list_ids": [(6, 0, (sms_list or self.sms_list).ids)],
                "gateway_id": gateway.id if gateway else False,
                "include_optout": False,
                **values,
            }
        )

    def _run_engine(self, mailing=None):
        if mailing:
            mailing.write({"state": "sending"})
        self.env["sms.marketing.engine"]._run(time_budget=30)
        self.env.flush_all()  # the HTTP server reads through the same test cursor
        self.env.invalidate_all()

    def _make_due(self, mailing):
        self.env.flush_all()
        self.env.cr.execute("UPDATE sms_marketing_trace SET next_try_at = NULL WHERE mailing_id = %s", [mailing.id])
        self.env.invalidate_all()

    def _traces_by_number(self, mailing):
        return {trace.number: trace for trace in mailing.trace_ids}

    def _send_through_a_proxy_page(self, gateway, status):
        """Send a mailing through ``gateway`` whose endpoint answers ``status`` with an HTML page
        (a proxy's, a wrong endpoint's): what the provider makes of an answer that is not its own."""
        proxy = RecordingServer().start()
        self.addCleanup(proxy.stop)
        proxy.answer(status, b"<html><body>Blocked by the proxy</body></html>", {"Content-Type": "text/html"})
        gateway.endpoint_url = proxy.url
        mailing = self._make_mailing(gateway)
        balance = gateway.balance
        self._run_engine(mailing)
        self.assertTrue(proxy.requests, "the provider was called")
        self.assertEqual((mailing.state, mailing.pause_code), ("paused", "gateway_error"), "paused with the reason")
        self.assertIn(f"HTTP {status}", mailing.pause_reason)
        self.assertEqual(set(mailing.trace_ids.mapped("state")), {"pending"}, "no recipient refused or unknown")
        self.assertAlmostEqual(gateway.balance, balance, msg="nothing charged")
        return mailing


class SmsCommittedCase(TransactionCase):
    """Senders on real, committed database connections of their own, with the gateway simulator.

    What these tests create is committed (claims, leases and the locks between
    runners only exist between real transactions) and deleted by their cleanup.
    The interleavings are forced step by step on separate cursors, never by
    racing threads: the outcome depends on the locks alone.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = load_gateway_simulator().Simulator(delivery=None, balance=100000.0).start()
        cls.addClassCleanup(cls.sim.stop)

    def _cursor(self):
        return sql_db.db_connect(self.env.cr.dbname).cursor()

    def _setup_committed_provider(self, gateway_values, numbers):
        """A committed gateway of a real provider (its stand-in), its contacts and a mailing in sending."""
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            gateway = env["sms.marketing.gateway"].create(
                {**gateway_values, "name": "Concurrency provider", "timeout": 5}
            )
            gateway._change_balance(1000.0, "purchase")
            sms_list = env["sms.marketing.list"].create({"name": "Concurrency provider list"})
            contacts = env["sms.marketing.contact"].create(
                [
                    {"name": f"P{i}", "phone": number, "phone_sanitized": number, "list_ids": [(4, sms_list.id)]}
                    for i, number in enumerate(numbers)
                ]
            )
            mailing = env["sms.marketing.mailing"].create(
                {
                    "subject": "Concurrency provider",
                    "body": "Hello",
                    "list_ids": [(6, 0, sms_list.ids)],
                    "gateway_id": gateway.id,
                    "include_optout": False,
                }
            )
            mailing.state = "sending"
            engine = env["sms.marketing.engine"]
            while not mailing.trace_build_done:
                engine._build_traces(mailing, engine._get_params())
            ids = {"gateway": gateway.id, "list": sms_list.id, "contacts": contacts.ids, "mailing": mailing.id}
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._cleanup, ids)
        return ids

    def _cleanup(self, ids):
        with self._cursor() as cr:
            cr.execute("DELETE FROM sms_marketing_mailing WHERE id = %s", [ids["mailing"]])
            cr.execute("DELETE FROM sms_marketing_contact WHERE id = ANY(%s)", [ids["contacts"]])
            cr.execute("DELETE FROM sms_marketing_list WHERE id = %s", [ids["list"]])
            cr.execute("DELETE FROM sms_marketing_gateway WHERE id = %s", [ids["gateway"]])
            cr.commit()  # pylint: disable=invalid-commit

    def _reserve_batch(self, engine, mailing, rows, params):
        """A claimed batch's first transaction, as the engine runs it: prepare and reserve (the traces get
        their claim marker); the caller commits it."""
        gateway = engine._get_gateway(mailing)
        messages = engine._prepare(mailing, gateway, rows, params)
        count, move_id, _delay = engine._reserve(mailing, gateway, messages, params)
        return gateway, move_id, messages[:count]

    def _send_and_record(self, engine, mailing, reserved_batch, params):
        """The provider call, then the batch's second transaction (record and settle); the caller commits."""
        gateway, move_id, batch = reserved_batch
        results, error = engine._send(gateway, batch, params)
        reserved = round(sum(message["cost"] for message in batch), 4)
        engine._record_batch(mailing, gateway, move_id, reserved, batch, results, error, params)


# ---------------------------------------------------------------------- locks during a provider call
@contextmanager
def during_provider_call(provider_class, method, check):
    """Run ``check()`` at the start of every call of ``provider_class.method``, in the caller's thread.

    The caller's transaction is open and waiting for the provider: what
    ``check`` sees from another connection (``rows_free``) is what the caller
    holds during the call. No thread, no timing: the call waits for the check.
    """
    original = getattr(provider_class, method)

    def checked(provider, *args, **kwargs):
        check()
        return original(provider, *args, **kwargs)

    with patch.object(provider_class, method, checked):
        yield


@contextmanager
def committing_engine():
    """The engine commits as in a cron worker or a request (``sms.marketing.engine._commit``), not as in tests."""
    thread = threading.current_thread()
    testing = getattr(thread, "testing", False)
    thread.testing = False
    try:
        yield
    finally:
        thread.testing = testing


ROW_LOCK_QUERIES = {
    "gateway": "SELECT id FROM sms_marketing_gateway WHERE id = ANY(%s) FOR NO KEY UPDATE NOWAIT",
    "mailing": "SELECT id FROM sms_marketing_mailing WHERE id = ANY(%s) FOR NO KEY UPDATE NOWAIT",
    "trace": "SELECT id FROM sms_marketing_trace WHERE id = ANY(%s) FOR NO KEY UPDATE NOWAIT",
}


def rows_free(dbname, kind, ids):
    """True when another connection can lock the ``kind`` rows ``ids`` at once, as a sender's UPDATE does."""
    with sql_db.db_connect(dbname).cursor() as cr:
        try:
            cr.execute(ROW_LOCK_QUERIES[kind], [list(ids)])
        except psycopg2.errors.LockNotAvailable:
            return False
        finally:
            cr.rollback()
    return True


def session_closed(dbname, pid):
    """True when the database session ``pid`` has no transaction open: no lock of any kind (a table's share
    lock included), no snapshot, nothing ``idle_in_transaction_session_timeout`` would end."""
    with sql_db.db_connect(dbname).cursor() as cr:
        cr.execute("SELECT state, backend_xid, backend_xmin FROM pg_stat_activity WHERE pid = %s", [pid])
        activity = cr.fetchone()
        cr.execute("SELECT count(*) FROM pg_locks WHERE pid = %s", [pid])
        locks = cr.fetchone()[0]
        cr.rollback()
    return activity == ("idle", None, None) and not locks


# ---------------------------------------------------------------------- outbound calls
class RecordingServer:
    """An HTTP server on 127.0.0.1 that records every request reaching it (method, path, headers,
    body) and answers what the test set with ``answer`` (default: 200 and a balance every
    provider reads). For the tests of where credentials go (test_security_*.py)."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        recorder = self
        self.requests = []
        self.answer()

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                status, payload, headers = recorder._answer
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_port
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, status=200, payload=None, headers=None):
        """What the server answers from now on; forgets what it received."""
        if payload is None:
            payload = {"balance": 7.0, "value": 7.0, "prices": []}
        self._answer = (status, payload, headers or {})
        self.requests = []

    def received_text(self):
        """Everything that reached the server as text, Basic credentials decoded."""
        import base64

        texts = []
        for request in self.requests:
            texts += [request["method"], request["path"], request["body"].decode(errors="replace")]
            for name, value in request["headers"].items():
                texts.append(f"{name}: {value}")
                if name.lower() == "authorization" and value.startswith("Basic "):
                    texts.append(base64.b64decode(value[6:]).decode(errors="replace"))
        return "\n".join(texts)


class ClickEverywhereMixin:
    """For an HttpCase: Odoo's click bot (web's ``clickbot``) over our app's menus, and a page of the web
    client opened, one button of it clicked; any traceback, client error or failed RPC fails the test.
    The main addon and each bridge addon (whose views, menus and buttons change the app's) use it."""

    APP_MENU = "sms_marketing_custom.sms_marketing_menu_root"
    # the bot ends on a form when an action opens one (settings, a wizard): that is not an error
    allow_end_on_form = True

    def _click_everywhere(self, login):
        code = (
            "odoo.loader.modules.get('@web/webclient/clickbot/clickbot_loader')"
            f".startClickEverywhere('{self.APP_MENU}');"
        )
        self.browser_js("/web", code, "odoo.isReady === true", login=login, timeout=600)

    def _open_page(self, login, url, shown, click=None, then=None):
        """Open ``url``, wait for ``shown`` (CSS); with ``click``, click it and wait for ``then``."""
        steps = [f"await shown({json.dumps(shown)});"]
        if click:
            steps += [f"(await shown({json.dumps(click)})).click();", f"await shown({json.dumps(then)});"]
        code = (
            "(async () => {"
            "const shown = async (selector) => {"
            "  for (let i = 0; i < 300; i++) {"
            "    const element = document.querySelector(selector);"
            "    if (element) { return element; }"
            # a stat button beyond the button box's room is in its "More" menu
            "    const more = document.querySelector('.o-form-buttonbox .o_button_more');"
            "    if (more && !document.querySelector('.o_dropdown_more')) { more.click(); }"
            "    await new Promise((resolve) => setTimeout(resolve, 100));"
            "  }"
            "  throw new Error(`${selector} is not shown`);"
            "};"
            f"{''.join(steps)}"
            # an error dialog is a failure even when nothing was logged
            "if (document.querySelector('.o_error_dialog')) { throw new Error('error dialog'); }"
            "console.log('test successful');"
            "})().catch((error) => console.error(error.message));"
        )
        self.browser_js(url, code, "odoo.isReady === true", login=login, timeout=120)
