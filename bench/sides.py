"""The two applications under test, behind one small interface.

Each side knows how to install itself in a fresh database, load the shared
audience by COPY, create the mailing (a link + the opt-out link), press Send,
which cron methods the worker processes run, where the gateway boundary is (to
time the first SMS handed over), and when every message is final.
"""

import os
import time

from audience import copy_rows

BODY = "Spring sale: -30% on everything until Sunday! {url}"
URL = "https://shop.example.com/spring-sale?utm_source=sms"


def _now_columns(uid=1):
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    return {"create_uid": uid, "write_uid": uid, "create_date": now, "write_date": now}


def _columns(cr, table):
    cr.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))
    return {row[0] for row in cr.fetchall()}


def _country_ids(cr):
    cr.execute("SELECT code, id FROM res_country")
    return dict(cr.fetchall())


class Side:
    key = ""  # short name, in database and file names
    label = ""  # the module under test
    module = ""  # what the template database installs
    roles = ()  # one worker process per role
    expected = 0  # recipients of the mailing under test

    def create_list(self, env):
        """-> id of the mailing list the audience is loaded into"""
        raise NotImplementedError

    def seed(self, cr, audience, list_id):
        """Load the audience by COPY (contacts, subscriptions, blacklist)."""
        raise NotImplementedError

    def create_mailing(self, env, list_id, audience):
        """-> id of a draft mailing to the list, with a link and the opt-out link"""
        raise NotImplementedError

    def send(self, env, mailing_id):
        """Press Send."""
        raise NotImplementedError

    def run_role(self, env, role):
        """One run of the cron method(s) of a worker."""
        raise NotImplementedError

    def patch(self, registry, on_first_send):
        """In a worker: call on_first_send() whenever SMS reach the gateway boundary."""
        raise NotImplementedError

    def progress(self, cr, mailing_id):
        """-> (every message final?, summary of the states)"""
        raise NotImplementedError


# --------------------------------------------------------------------- ours
class OurSide(Side):
    key = "ours"
    label = "sms_marketing_custom"
    module = "sms_marketing_custom"
    roles = ("queue", "queue")  # two identical cron workers, like two Odoo servers

    def create_list(self, env):
        return env["sms.marketing.list"].create({"name": "Benchmark audience"}).id

    def seed(self, cr, audience, list_id):
        countries = _country_ids(cr)
        meta = _now_columns()
        company_id = 1
        contact_columns = _columns(cr, "sms_marketing_contact")
        extra = [c for c in ("phone_country_code", "phone_error") if c in contact_columns]
        normalize = self._normalizer()
        cols = ["name", "phone", "country_id", "phone_sanitized", "company_id", *extra, *meta]

        def rows():
            for name, raw, cc, e164 in audience.rows:
                values = {"phone_country_code": cc if e164 else None, "phone_error": None}
                if not e164:  # what the addon itself stores for this number
                    values["phone_error"] = normalize(raw, cc).error
                yield (name, raw, countries[cc], e164, company_id, *(values[c] for c in extra), *meta.values())

        cr.execute("SELECT COALESCE(MAX(id), 0) FROM sms_marketing_contact")
        first_id = cr.fetchone()[0] + 1
        copy_rows(cr, "sms_marketing_contact", cols, rows())
        cr.execute(
            """INSERT INTO sms_marketing_subscription (contact_id, list_id, opt_out,
                                                      create_uid, write_uid, create_date, write_date)
               SELECT id, %s, false, 1, 1, now() at time zone 'UTC', now() at time zone 'UTC'
                 FROM sms_marketing_contact WHERE id >= %s ORDER BY id""",
            (list_id, first_id),
        )
        dated = ["date"] if "date" in _columns(cr, "sms_marketing_blacklist") else []
        copy_rows(
            cr,
            "sms_marketing_blacklist",
            ["number", "source", "active", *dated, *meta],
            (
                (number, "import", True, *[meta["create_date"]] * len(dated), *meta.values())
                for number in audience.blacklist
            ),
        )
        cr.execute("SELECT setval('sms_marketing_contact_id_seq', (SELECT MAX(id) FROM sms_marketing_contact))")
        for table in ("sms_marketing_contact", "sms_marketing_subscription", "sms_marketing_blacklist"):
            cr.execute(f"ANALYZE {table}")

    @staticmethod
    def _normalizer():
        """The addon's own phone normalisation (cached per distinct number), when it has one."""
        try:
            from odoo.addons.sms_marketing_custom.tools import phone
        except ImportError:
            phone = None
        if phone is None or not hasattr(phone, "normalize"):
            return lambda raw, region: type("R", (), {"error": None})()
        return phone.normalize

    def check_numbers(self, audience, size=2000):
        """The generator's E.164 numbers are what the addon itself computes."""
        normalize = self._normalizer()
        for _name, raw, cc, e164 in audience.rows[:size]:
            got = getattr(normalize(raw, cc), "e164", e164) or None
            if got != e164:
                raise AssertionError(f"{raw!r} ({cc}): the addon normalises to {got}, the seed says {e164}")

    def create_mailing(self, env, list_id, audience):
        self.expected = audience.n
        gateway = self._gateway(env, credits=audience.n * 10 + 1000)
        mailing = env["sms.marketing.mailing"].create(
            {
                "subject": f"Benchmark {audience.n}",
                "body": BODY.format(url=URL),
                "list_ids": [(6, 0, [list_id])],
                "include_optout": True,
                "gateway_id": gateway.id,
            }
        )
        return mailing.id

    @staticmethod
    def _gateway(env, credits):
        """The sandbox gateway with enough credits for the whole run; with BENCH_GATEWAY_URL
        (set by bench.py's network mode), an ``http`` gateway to that simulator instead."""
        Gateway = env["sms.marketing.gateway"]
        url = os.environ.get("BENCH_GATEWAY_URL")
        if url:
            gateway = Gateway.create(
                {
                    "name": "Benchmark network gateway",
                    "provider": "http",
                    "endpoint_url": url,
                    "api_key": "bench",
                    "webhook_secret": "bench-secret",
                    "timeout": 30,
                    # the simulator listens on 127.0.0.1 (a release without the switch has no such field)
                    **({"allow_private_network": True} if "allow_private_network" in Gateway._fields else {}),
                }
            )
            gateway._change_balance(credits, "purchase", note="Benchmark credits")
            return gateway
        gateway = Gateway._get_default() if hasattr(Gateway, "_get_default") else Gateway.browse()
        if not gateway:
            gateway = Gateway.create({"name": "Benchmark sandbox", "provider": "sandbox"})
        gateway.write({"provider": "sandbox"})
        if hasattr(gateway, "_change_balance"):  # the credit ledger: a purchase, as a top-up does
            gateway._change_balance(credits, "purchase", note="Benchmark credits")
        else:
            env.cr.execute("UPDATE sms_marketing_gateway SET balance = %s WHERE id = %s", (credits, gateway.id))
            gateway.invalidate_recordset()
        return gateway

    def send(self, env, mailing_id):
        env["sms.marketing.mailing"].browse(mailing_id).action_send_now()

    def run_role(self, env, role):
        env["sms.marketing.mailing"]._cron_process_queue()

    def patch(self, registry, on_first_send):
        Gateway = registry["sms.marketing.gateway"]
        original = Gateway._send_batch

        def _send_batch(self, messages, *args, **kwargs):
            on_first_send()
            return original(self, messages, *args, **kwargs)

        Gateway._send_batch = _send_batch

    def progress(self, cr, mailing_id):
        cr.execute("SELECT state FROM sms_marketing_mailing WHERE id = %s", (mailing_id,))
        state = cr.fetchone()[0]
        if state != "done":
            return False, {"mailing": state}
        cr.execute(
            "SELECT state, count(*) FROM sms_marketing_trace WHERE mailing_id = %s GROUP BY state ORDER BY state",
            (mailing_id,),
        )
        counts = dict(cr.fetchall())
        return not counts.get("pending"), {"mailing": state, "traces": counts}


# --------------------------------------------------------------------- Odoo
class OdooSide(Side):
    key = "odoo"
    label = "mass_mailing_sms"
    module = "mass_mailing_sms"
    # Odoo's two crons run back to back in one worker: the mailing queue (builds
    # every sms.sms + trace of the mailing in one transaction) then the SMS queue
    # (sends 10,000 per run, 500 per commit). A second worker cannot help: the
    # audience is prepared in one transaction, and two workers running the two
    # crons at once only add serialization failures (both write the mailing).
    roles = ("mailing_queue+sms_queue",)

    def create_list(self, env):
        return env["mailing.list"].create({"name": "Benchmark audience"}).id

    def seed(self, cr, audience, list_id):
        countries = _country_ids(cr)
        meta = _now_columns()
        cr.execute("SELECT COALESCE(MAX(id), 0) FROM mailing_contact")
        first_id = cr.fetchone()[0] + 1
        copy_rows(
            cr,
            "mailing_contact",
            ["name", "mobile", "country_id", "phone_sanitized", "message_bounce", *meta],
            ((name, raw or None, countries[cc], e164, 0, *meta.values()) for name, raw, cc, e164 in audience.rows),
        )
        cr.execute(
            """INSERT INTO mailing_subscription (contact_id, list_id, opt_out,
                                                create_uid, write_uid, create_date, write_date)
               SELECT id, %s, false, 1, 1, now() at time zone 'UTC', now() at time zone 'UTC'
                 FROM mailing_contact WHERE id >= %s ORDER BY id""",
            (list_id, first_id),
        )
        copy_rows(
            cr,
            "phone_blacklist",
            ["number", "active", *meta],
            ((number, True, *meta.values()) for number in audience.blacklist),
        )
        cr.execute("SELECT setval('mailing_contact_id_seq', (SELECT MAX(id) FROM mailing_contact))")
        for table in ("mailing_contact", "mailing_subscription", "phone_blacklist"):
            cr.execute(f"ANALYZE {table}")

    def create_mailing(self, env, list_id, audience):
        self.expected = audience.n
        # default_mailing_type as the SMS Marketing app's action sets it: it also
        # turns on keep_archives (a chatter note per recipient), as shipped.
        Mailing = env["mailing.mailing"].with_context(default_mailing_type="sms")
        mailing = Mailing.create(
            {
                "subject": f"Benchmark {audience.n}",
                "mailing_type": "sms",
                "body_plaintext": BODY.format(url=URL),
                "mailing_model_id": env.ref("mass_mailing.model_mailing_list").id,
                "contact_list_ids": [(6, 0, [list_id])],
                "sms_allow_unsubscribe": True,
            }
        )
        return mailing.id

    def send(self, env, mailing_id):
        env["mailing.mailing"].browse(mailing_id).action_launch()

    def run_role(self, env, role):
        env["mailing.mailing"]._process_mass_mailing_queue()
        env.cr.commit()  # each cron is its own transaction, as under ir.cron
        env["sms.sms"]._process_queue()

    @staticmethod
    def use_iap(env, url, token="bench-sms-account"):
        """Network mode: Odoo's SMS and IAP endpoints at ``url`` (sms_marketing_custom/tests/standins/iap.py)
        and an ``sms`` IAP account, as a database registered with IAP has."""
        params = env["ir.config_parameter"].sudo()
        params.set_param("sms.endpoint", url)
        params.set_param("iap.endpoint", url)
        if not params.get_param("database.uuid"):
            params.set_param("database.uuid", "bench-database-uuid")
        Account = env["iap.account"].sudo()
        Account.search([("service_name", "=", "sms")]).unlink()
        Account.create({"service_name": "sms", "account_token": token})

    def patch(self, registry, on_first_send):
        """Signal every SMS batch handed to IAP (``SmsApi._contact_iap`` for
        ``/api/sms/3/send``). Network mode (BENCH_IAP_URL, set by bench.py): Odoo's
        own call goes on over HTTP to sms_marketing_custom/tests/standins/iap.py, merely wrapped. Else the
        call is replaced in process by a stand-in accepting every message, as IAP
        does with enough credits."""
        from odoo.addons.sms.tools.sms_api import SmsApi

        original = SmsApi._contact_iap
        network = bool(os.environ.get("BENCH_IAP_URL"))

        def _contact_iap(self, local_endpoint, params, timeout=15):
            if local_endpoint != "/api/sms/3/send":
                return original(self, local_endpoint, params, timeout=timeout)
            on_first_send()
            if network:
                return original(self, local_endpoint, params, timeout=timeout)
            return [
                {"uuid": number["uuid"], "state": "success", "credit": 1}
                for message in params["messages"]
                for number in message["numbers"]
            ]

        SmsApi._contact_iap = _contact_iap

    def progress(self, cr, mailing_id):
        cr.execute("SELECT state FROM mailing_mailing WHERE id = %s", (mailing_id,))
        state = cr.fetchone()[0]
        if state != "done":
            return False, {"mailing": state}
        cr.execute(
            "SELECT state, count(*) FROM sms_sms WHERE mailing_id = %s GROUP BY state ORDER BY state", (mailing_id,)
        )
        sms = dict(cr.fetchall())
        cr.execute(
            """SELECT trace_status, count(*) FROM mailing_trace WHERE mass_mailing_id = %s
               GROUP BY trace_status ORDER BY trace_status""",
            (mailing_id,),
        )
        traces = dict(cr.fetchall())
        # Odoo marks the mailing done when the first SMS batch is acknowledged:
        # finished means every recipient has its trace and no SMS is outgoing.
        done = sum(traces.values()) >= self.expected and not sms.get("outgoing")
        return done, {"mailing": state, "sms": sms, "traces": traces}


SIDES = {"ours": OurSide(), "odoo": OdooSide()}
