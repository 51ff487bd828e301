"""Several senders at once, on committed data with their own database connections.

These tests commit through separate cursors (the claims and the balance row
locks only exist between real transactions) and delete what they created.
"""

import threading

from odoo import SUPERUSER_ID, api, sql_db
from odoo.tests import TransactionCase, tagged

from .common import load_gateway_simulator


@tagged("post_install", "-at_install")
class TestConcurrentSenders(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = load_gateway_simulator().Simulator(delivery=None, balance=100000.0).start()
        cls.addClassCleanup(cls.sim.stop)

    def _cursor(self):
        return sql_db.db_connect(self.env.cr.dbname).cursor()

    def _setup_committed(self, contacts=60):
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            gateway = env["sms.marketing.gateway"].create(
                {
                    "name": "Concurrency simulator",
                    "provider": "http",
                    "endpoint_url": self.sim.url,
                    "api_key": self.sim.api_key,
                    "webhook_secret": self.sim.webhook_secret,
                    "timeout": 5,
                }
            )
            gateway._change_balance(1000.0, "purchase")
            sms_list = env["sms.marketing.list"].create({"name": "Concurrency list"})
            contacts = env["sms.marketing.contact"].create(
                [
                    {
                        "name": f"C{i}",
                        "phone": f"+3248{i:07d}",
                        "phone_sanitized": f"+3248{i:07d}",
                        "list_ids": [(4, sms_list.id)],
                    }
                    for i in range(contacts)
                ]
            )
            mailing = env["sms.marketing.mailing"].create(
                {
                    "subject": "Concurrency",
                    "body": "Hello",
                    "list_ids": [(6, 0, sms_list.ids)],
                    "gateway_id": gateway.id,
                }
            )
            mailing.state = "sending"
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

    def test_two_workers_share_one_mailing(self):
        """Sender A holds a claimed batch while sender B runs: B skips A's rows and sends the rest.

        The interleaving is forced step by step on two real connections (no
        threads), so the outcome depends on the locks alone, not on timing.
        """
        ids = self._setup_committed()
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            mailing = env["sms.marketing.mailing"].browse(ids["mailing"])
            while not mailing.trace_build_done:
                env["sms.marketing.engine"]._build_traces(mailing, env["sms.marketing.engine"]._get_params())
            cr.commit()  # pylint: disable=invalid-commit
        self.sim.configure(reset=True)
        with self._cursor() as cr_a:
            # as the engine does per batch (see sms.marketing.engine._commit)
            cr_a.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            env_a = api.Environment(cr_a, SUPERUSER_ID, {})
            engine_a = env_a["sms.marketing.engine"]
            mailing_a = env_a["sms.marketing.mailing"].browse(ids["mailing"])
            params_a = dict(engine_a._get_params(), batch_size=5)
            rows_a = engine_a._claim(mailing_a, params_a)
            self.assertEqual(len(rows_a), 5)
            uuids_a = {row[3] for row in rows_a}

            # sender B runs to the end while A's batch is claimed and not committed
            with self._cursor() as cr_b:
                api.Environment(cr_b, SUPERUSER_ID, {})["sms.marketing.mailing"]._run_sending_worker(
                    time_budget=30, batch_size=5
                )
                cr_b.commit()  # pylint: disable=invalid-commit
            sent_by_b = {message["uuid"] for message in self.sim.state()["sent"]}
            self.assertEqual(len(sent_by_b), 55, "B sent every trace but A's")
            self.assertFalse(sent_by_b & uuids_a, "B never sends a trace A has claimed")

            # A finishes its batch
            gateway_a = engine_a._get_gateway(mailing_a)
            messages = engine_a._prepare(mailing_a, gateway_a, rows_a, params_a)
            count = engine_a._reserve(mailing_a, gateway_a, messages)
            results, error = engine_a._send(gateway_a, messages[:count], params_a)
            spent, _insufficient = engine_a._record(mailing_a, messages[:count], results, error, params_a)
            gateway_a._settle(sum(message["cost"] for message in messages[:count]), spent, mailing=mailing_a)
            cr_a.commit()  # pylint: disable=invalid-commit
        with self._cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["sms.marketing.mailing"]._run_sending_worker(time_budget=30)
            cr.commit()  # pylint: disable=invalid-commit
        sent = self.sim.state()["sent"]
        self.assertEqual(len(sent), 60)
        self.assertEqual(len({m["uuid"] for m in sent}), 60, "no uuid sent twice")
        self.assertEqual({m["uuid"] for m in sent} - sent_by_b, uuids_a, "A sent exactly its claimed batch")
        with self._cursor() as cr:
            cr.execute("SELECT state FROM sms_marketing_mailing WHERE id = %s", [ids["mailing"]])
            self.assertEqual(cr.fetchone()[0], "done")
            cr.execute(
                "SELECT state, count(*) FROM sms_marketing_trace WHERE mailing_id = %s GROUP BY state",
                [ids["mailing"]],
            )
            self.assertEqual(dict(cr.fetchall()), {"sent": 60})
            cr.execute("SELECT balance FROM sms_marketing_gateway WHERE id = %s", [ids["gateway"]])
            balance = cr.fetchone()[0]
            cr.execute("SELECT sum(amount) FROM sms_marketing_credit_move WHERE gateway_id = %s", [ids["gateway"]])
            self.assertAlmostEqual(cr.fetchone()[0], balance)
            self.assertAlmostEqual(balance, 940.0)

    def test_concurrent_reservations_never_go_negative(self):
        ids = self._setup_committed(contacts=1)
        with self._cursor() as cr:
            cr.execute("UPDATE sms_marketing_gateway SET balance = 10 WHERE id = %s", [ids["gateway"]])
            cr.execute("DELETE FROM sms_marketing_credit_move WHERE gateway_id = %s", [ids["gateway"]])
            cr.commit()  # pylint: disable=invalid-commit
        barrier = threading.Barrier(4)
        granted = []

        def sender():
            with self._cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                gateway = env["sms.marketing.gateway"].browse(ids["gateway"])
                barrier.wait(timeout=10)
                for _i in range(5):
                    # as the engine does per batch (see sms.marketing.engine._commit)
                    cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    if gateway._reserve(1.0):
                        granted.append(1)
                    cr.commit()  # pylint: disable=invalid-commit

        threads = [threading.Thread(target=sender) for _i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        self.assertEqual(len(granted), 10, "exactly the 10 credits were granted out of 20 attempts")
        with self._cursor() as cr:
            cr.execute("SELECT balance FROM sms_marketing_gateway WHERE id = %s", [ids["gateway"]])
            self.assertEqual(cr.fetchone()[0], 0.0)
