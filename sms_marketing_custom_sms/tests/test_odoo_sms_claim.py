"""Odoo's SMS queue through the gateways on real, committed transactions: no lock across the provider
call, each SMS sent once by two queue runs at once, and the recovery of a claim whose runner died."""

from datetime import timedelta

import psycopg2

from odoo import SUPERUSER_ID, api, fields
from odoo.addons.sms_marketing_custom.providers.http_json import HttpJsonProvider
from odoo.addons.sms_marketing_custom.tests.common import (
    SmsCommittedCase,
    committing_engine,
    during_provider_call,
    rows_free,
)
from odoo.addons.sms_marketing_custom_sms.models.sms_sms import ROUTE_ODOO_SMS_PARAM
from odoo.tests import tagged

BATCH_SIZE_PARAM = "sms.session.batch.size"  # Odoo's: how many sms.sms one _send takes
SMS_ROWS_FREE = "SELECT id FROM sms_sms WHERE id = ANY(%s) FOR NO KEY UPDATE NOWAIT"


@tagged("post_install", "-at_install")
class TestOdooSmsQueueRuns(SmsCommittedCase):
    def setUp(self):
        super().setUp()
        self.sim.configure(reset=True)
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            gateway = env["sms.marketing.gateway"].create(
                {
                    "name": "Odoo SMS queue simulator",
                    "provider": "http",
                    "endpoint_url": self.sim.url,
                    "allow_private_network": True,  # the stand-in listens on 127.0.0.1
                    "api_key": self.sim.api_key,
                    "webhook_secret": self.sim.webhook_secret,
                    "sequence": -1000,  # the company's default gateway
                    "default_price": 1.0,
                    "timeout": 5,
                }
            )
            gateway._change_balance(100.0, "purchase")
            Param = env["ir.config_parameter"]
            self.params_before = {key: Param.get_param(key) for key in (ROUTE_ODOO_SMS_PARAM, BATCH_SIZE_PARAM)}
            Param.set_param(ROUTE_ODOO_SMS_PARAM, "True")
            Param.set_param(BATCH_SIZE_PARAM, "2")
            sms = env["sms.sms"].create([{"number": f"+3247000001{i}", "body": f"Queued {i}"} for i in range(4)])
            self.gateway_id, self.sms_ids = gateway.id, sms.ids
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._delete)

    def _delete(self):
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            for key, value in self.params_before.items():
                env["ir.config_parameter"].set_param(key, value or False)
            cr.execute("DELETE FROM sms_sms WHERE id = ANY(%s)", [self.sms_ids])
            cr.execute("DELETE FROM sms_marketing_gateway WHERE id = %s", [self.gateway_id])
            cr.commit()  # pylint: disable=invalid-commit

    def _run_queue(self, cr):
        """One run of Odoo's SMS queue (its cron's method) on the connection ``cr``, committed."""
        api.Environment(cr, SUPERUSER_ID, {})["sms.sms"]._process_queue(ids=self.sms_ids)
        cr.commit()  # pylint: disable=invalid-commit

    def _sent_uuids(self):
        return [message["uuid"] for message in self.sim.state()["sent"]]

    def _final(self):
        with self._cursor() as cr:
            cr.execute(
                """SELECT state, sms_marketing_gateway_id, sms_marketing_claim_until, uuid FROM sms_sms
                    WHERE id = ANY(%s) ORDER BY id""",
                [self.sms_ids],
            )
            rows = cr.fetchall()
            cr.execute(
                "SELECT sum(amount), count(lease_until) FROM sms_marketing_credit_move WHERE gateway_id = %s",
                [self.gateway_id],
            )
            return rows, cr.fetchone()

    def _sms_rows_free(self):
        """True when another connection can lock this test's ``sms.sms`` rows at once."""
        with self._cursor() as cr:
            try:
                cr.execute(SMS_ROWS_FREE, [self.sms_ids])
            except psycopg2.errors.LockNotAvailable:
                return False
            finally:
                cr.rollback()
        return True

    def _claimed(self):
        """How many of this test's ``sms.sms`` another connection sees claimed (committed, unexpired)."""
        with self._cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM sms_sms WHERE id = ANY(%s) AND sms_marketing_claim_until > %s",
                [self.sms_ids, fields.Datetime.now()],
            )
            return cr.fetchone()[0]

    def test_no_lock_held_during_the_provider_call(self):
        """At the start of each provider call, another connection locks the gateway row and the SMS being
        sent at once (NOWAIT), and sees those SMS claimed (a committed marker)."""
        seen = []

        def check():
            dbname = self.env.cr.dbname
            seen.append((rows_free(dbname, "gateway", [self.gateway_id]), self._sms_rows_free(), self._claimed()))

        with (
            self._cursor() as cr,
            committing_engine(),
            during_provider_call(HttpJsonProvider, "send", check),
        ):
            self._run_queue(cr)
        self.assertEqual(seen, [(True, True, 2), (True, True, 2)], "two batches of 2, each claimed, nothing locked")
        rows, ledger = self._final()
        self.assertEqual(sorted(self._sent_uuids()), sorted(row[3] for row in rows))
        self.assertEqual({row[:3] for row in rows}, {("pending", self.gateway_id, None)})
        self.assertEqual(ledger, (96.0, 0), "charged once each, no reservation left open")

    def test_two_queue_runs_send_each_sms_once(self):
        """Run B starts while run A waits for the provider: B sends the batch A has not claimed, A then
        finds it sent; every SMS leaves once."""
        runs_b = []

        def run_b():
            if runs_b:
                return
            runs_b.append(True)
            with self._cursor() as cr_b:
                cr_b.execute("SET lock_timeout = '2s'")  # a lock of A would make B fail instead of waiting
                try:
                    self._run_queue(cr_b)
                finally:
                    cr_b.execute("RESET lock_timeout")

        with (
            self._cursor() as cr_a,
            committing_engine(),
            during_provider_call(HttpJsonProvider, "send", run_b),
        ):
            self._run_queue(cr_a)
        rows, ledger = self._final()
        sent = self._sent_uuids()
        self.assertEqual(len(sent), 4, "4 calls' worth of messages, none twice")
        self.assertEqual(sorted(sent), sorted(row[3] for row in rows))
        self.assertEqual({row[:3] for row in rows}, {("pending", self.gateway_id, None)})
        self.assertEqual(ledger, (96.0, 0))

    def test_expired_claim_of_a_dead_runner(self):
        """A runner died after claiming: its claim is respected until its lease ends, then the SMS is sent
        again under its uuid (the http provider answers a second send of a uuid as a duplicate)."""
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            sms = env["sms.sms"].browse(self.sms_ids)
            self.assertEqual(sms._claim_outgoing(), sms)
            cr.commit()  # pylint: disable=invalid-commit
        # the runner is gone; the next run leaves its claim alone
        with self._cursor() as cr:
            self._run_queue(cr)
        self.assertEqual(self._sent_uuids(), [])
        with self._cursor() as cr:
            past = fields.Datetime.now() - timedelta(seconds=1)
            cr.execute("UPDATE sms_sms SET sms_marketing_claim_until = %s WHERE id = ANY(%s)", [past, self.sms_ids])
            cr.commit()  # pylint: disable=invalid-commit
            self._run_queue(cr)
        rows, _ledger = self._final()
        self.assertEqual(sorted(self._sent_uuids()), sorted(row[3] for row in rows))
        self.assertEqual({row[:3] for row in rows}, {("pending", self.gateway_id, None)})
