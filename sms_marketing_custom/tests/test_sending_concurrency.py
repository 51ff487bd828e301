"""Several senders at once, on committed data with their own database connections.

These tests commit through separate cursors (the claims and the balance row
locks only exist between real transactions) and delete what they created.
"""

import threading
import time
from datetime import timedelta
from types import SimpleNamespace

from odoo import SUPERUSER_ID, api, fields
from odoo.tests import tagged

from ..providers.http_json import HttpJsonProvider
from ..providers.twilio import TwilioProvider
from .common import (
    RecordingServer,
    SmsCommittedCase,
    committing_engine,
    during_provider_call,
    rows_free,
    session_closed,
)
from .standins import twilio, vonage


@tagged("post_install", "-at_install")
class TestConcurrentSenders(SmsCommittedCase):
    def _setup_committed(self, contacts=60):
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            gateway = env["sms.marketing.gateway"].create(
                {
                    "name": "Concurrency simulator",
                    "provider": "http",
                    "endpoint_url": self.sim.url,
                    "allow_private_network": True,  # the stand-in listens on 127.0.0.1
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
            reserved_a = self._reserve_batch(engine_a, mailing_a, rows_a, params_a)
            self._send_and_record(engine_a, mailing_a, reserved_a, params_a)
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

    def test_two_senders_share_one_mailing_on_each_provider(self):
        """The two-sender interleaving against the Twilio and Vonage stand-ins (no idempotency key):
        every number receives exactly one SMS, none is lost."""
        twilio_standin = twilio.TwilioStandin().start()
        self.addCleanup(twilio_standin.stop)
        vonage_standin = vonage.VonageStandin().start()
        self.addCleanup(vonage_standin.stop)
        cases = [
            (twilio_standin, twilio.gateway_values(twilio_standin), [f"+1202555{i:04d}" for i in range(10)], "to"),
            (
                vonage_standin,
                vonage.gateway_values(vonage_standin, default_price=0.05),
                [f"+3247{i:07d}" for i in range(10)],
                "to",
            ),
        ]
        for standin, values, numbers, to_key in cases:
            with self.subTest(provider=values["provider"]):
                ids = self._setup_committed_provider(values, numbers)
                with self._cursor() as cr_a:
                    cr_a.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    env_a = api.Environment(cr_a, SUPERUSER_ID, {})
                    engine_a = env_a["sms.marketing.engine"]
                    mailing_a = env_a["sms.marketing.mailing"].browse(ids["mailing"])
                    params_a = dict(engine_a._get_params(), batch_size=3)
                    rows_a = engine_a._claim(mailing_a, params_a)
                    self.assertEqual(len(rows_a), 3)
                    # sender B runs to the end while A's batch is claimed
                    with self._cursor() as cr_b:
                        api.Environment(cr_b, SUPERUSER_ID, {})["sms.marketing.mailing"]._run_sending_worker(
                            time_budget=30, batch_size=3
                        )
                        cr_b.commit()  # pylint: disable=invalid-commit
                    sent_by_b = [str(message[to_key]).lstrip("+") for message in standin.messages]
                    self.assertEqual(len(sent_by_b), 7, "B sent every number but A's")
                    self.assertFalse(set(sent_by_b) & {row[2].lstrip("+") for row in rows_a})
                    # A finishes its batch: reserve (committed), call, record
                    reserved_a = self._reserve_batch(engine_a, mailing_a, rows_a, params_a)
                    cr_a.commit()  # pylint: disable=invalid-commit
                    self._send_and_record(engine_a, mailing_a, reserved_a, params_a)
                    cr_a.commit()  # pylint: disable=invalid-commit
                with self._cursor() as cr:
                    api.Environment(cr, SUPERUSER_ID, {})["sms.marketing.mailing"]._run_sending_worker(time_budget=30)
                    cr.commit()  # pylint: disable=invalid-commit
                received = [str(message[to_key]).lstrip("+") for message in standin.messages]
                self.assertEqual(sorted(received), sorted(number.lstrip("+") for number in numbers), "one SMS each")
                with self._cursor() as cr:
                    cr.execute(
                        "SELECT state, count(*) FROM sms_marketing_trace WHERE mailing_id = %s GROUP BY state",
                        [ids["mailing"]],
                    )
                    self.assertEqual(dict(cr.fetchall()), {"sent": 10}, "none lost")
                    cr.execute("SELECT state FROM sms_marketing_mailing WHERE id = %s", [ids["mailing"]])
                    self.assertEqual(cr.fetchone()[0], "done")
                    cr.execute("SELECT balance FROM sms_marketing_gateway WHERE id = %s", [ids["gateway"]])
                    balance = cr.fetchone()[0]
                    cr.execute(
                        "SELECT sum(amount) FROM sms_marketing_credit_move WHERE gateway_id = %s", [ids["gateway"]]
                    )
                    self.assertAlmostEqual(cr.fetchone()[0], balance, msg="the ledger is the balance")

    def test_two_runners_start_a_mailing_once(self):
        """Two sender crons wake the same due mailing at once: it starts once, announced once.

        Runner B looks for due mailings while A has started the mailing and not committed yet:
        B's transition waits for A's row lock (checked in pg_stat_activity, not by timing), then
        finds the mailing no longer scheduled.
        """
        ids = self._setup_committed(contacts=1)
        with self._cursor() as cr:
            cr.execute(
                """UPDATE sms_marketing_mailing SET state = 'scheduled', schedule_date = %s WHERE id = %s""",
                [fields.Datetime.now() - timedelta(minutes=1), ids["mailing"]],
            )
            cr.commit()  # pylint: disable=invalid-commit
        started = threading.Event()
        pid_b, errors = [], []

        def runner_b():
            try:
                with self._cursor() as cr_b:
                    cr_b.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")  # as the engine's runs
                    cr_b.execute("SELECT pg_backend_pid()")
                    pid_b.append(cr_b.fetchone()[0])
                    started.set()
                    api.Environment(cr_b, SUPERUSER_ID, {})["sms.marketing.engine"]._wake_due_mailings()
                    cr_b.commit()  # pylint: disable=invalid-commit
            except Exception as error:  # reported by the main thread
                errors.append(error)
                started.set()

        with self._cursor() as cr_a:
            cr_a.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            api.Environment(cr_a, SUPERUSER_ID, {})["sms.marketing.engine"]._wake_due_mailings()
            thread = threading.Thread(target=runner_b)
            thread.start()
            self.assertTrue(started.wait(timeout=30))
            with self._cursor() as cr:  # B waits for A's lock on the mailing's row
                for _attempt in range(300):
                    cr.execute("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", pid_b[:1] or [0])
                    row = cr.fetchone()
                    if errors or (row and row[0]):
                        break
                    cr.rollback()
                    time.sleep(0.1)
                else:
                    self.fail("runner B never waited for runner A's row lock")
            cr_a.commit()  # pylint: disable=invalid-commit
        thread.join(timeout=30)
        self.assertFalse(errors)
        with self._cursor() as cr:
            cr.execute("SELECT state FROM sms_marketing_mailing WHERE id = %s", [ids["mailing"]])
            self.assertEqual(cr.fetchone()[0], "sending")
            cr.execute(
                """SELECT count(*) FROM mail_message
                    WHERE model = 'sms.marketing.mailing' AND res_id = %s AND body::text LIKE %s""",
                [ids["mailing"], "%Sending started%"],
            )
            self.assertEqual(cr.fetchone()[0], 1, "the start is announced once")
            cr.execute(
                "DELETE FROM mail_message WHERE model = 'sms.marketing.mailing' AND res_id = %s", [ids["mailing"]]
            )
            cr.commit()  # pylint: disable=invalid-commit

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

    # ------------------------------------------------------------------ a batch in flight
    def _build_committed(self, ids):
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            mailing = env["sms.marketing.mailing"].browse(ids["mailing"])
            while not mailing.trace_build_done:
                env["sms.marketing.engine"]._build_traces(mailing, env["sms.marketing.engine"]._get_params())
            cr.commit()  # pylint: disable=invalid-commit
        self.sim.configure(reset=True)

    def _reserve_committed(self, cr, ids, batch_size=5):
        """Sender A's first transaction: claim, prepare, reserve, commit. Returns (env, batch, move_id, reserved)."""
        cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        env = api.Environment(cr, SUPERUSER_ID, {})
        engine = env["sms.marketing.engine"]
        mailing = env["sms.marketing.mailing"].browse(ids["mailing"])
        params = dict(engine._get_params(), batch_size=batch_size)
        gateway = engine._get_gateway(mailing)
        rows = engine._claim(mailing, params)
        messages = engine._prepare(mailing, gateway, rows, params)
        count, move_id, delay = engine._reserve(mailing, gateway, messages, params)
        self.assertEqual((count, delay), (batch_size, 0.0))
        cr.commit()  # pylint: disable=invalid-commit
        cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")  # as sms.marketing.engine._commit does
        return env, messages, move_id, float(count), params

    def _sender_a(self, cr_a, ids):
        """Sender A after its committed reservation: (engine, mailing, gateway, messages, ledger line,
        credits reserved, params)."""
        env_a, messages, move_id, reserved, params = self._reserve_committed(cr_a, ids)
        engine = env_a["sms.marketing.engine"]
        mailing = env_a["sms.marketing.mailing"].browse(ids["mailing"])
        return engine, mailing, engine._get_gateway(mailing), messages, move_id, reserved, params

    def _delete_committed_mailing(self, mailing_id):
        with self._cursor() as cr:
            cr.execute("DELETE FROM sms_marketing_mailing WHERE id = %s", [mailing_id])
            cr.commit()  # pylint: disable=invalid-commit

    def _run_worker(self, recover_at=None):
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            recovered = env["sms.marketing.engine"]._recover_batches(now=recover_at)
            cr.commit()  # pylint: disable=invalid-commit
            env["sms.marketing.mailing"]._run_sending_worker(time_budget=30)
            cr.commit()  # pylint: disable=invalid-commit
        return recovered

    def _after_lease(self):
        return fields.Datetime.now() + timedelta(hours=1)

    def _check_final(self, ids, sent=60):
        """Every trace sent once, the mailing done, no batch open, the ledger equal to the balance."""
        uuids = [m["uuid"] for m in self.sim.state()["sent"]]
        self.assertEqual(len(uuids), sent, "the gateway received each message once")
        self.assertEqual(len(set(uuids)), sent)
        with self._cursor() as cr:
            cr.execute("SELECT state FROM sms_marketing_mailing WHERE id = %s", [ids["mailing"]])
            self.assertEqual(cr.fetchone()[0], "done")
            cr.execute(
                """SELECT state, count(*), sum(cost), count(claim_move_id) FROM sms_marketing_trace
                    WHERE mailing_id = %s GROUP BY state""",
                [ids["mailing"]],
            )
            self.assertEqual([row[:4] for row in cr.fetchall()], [("sent", sent, float(sent), 0)])
            cr.execute("SELECT balance FROM sms_marketing_gateway WHERE id = %s", [ids["gateway"]])
            balance = cr.fetchone()[0]
            cr.execute(
                "SELECT sum(amount), count(lease_until) FROM sms_marketing_credit_move WHERE gateway_id = %s",
                [ids["gateway"]],
            )
            ledger, open_leases = cr.fetchone()
            self.assertAlmostEqual(ledger, balance)
            self.assertAlmostEqual(balance, 1000.0 - sent, msg="each message spent once")
            self.assertEqual(open_leases, 0)

    def test_each_batch_transaction_is_read_committed_without_jit(self):
        """What a runner's transactions run in after each of its commits (see the engine's ``_commit``)."""
        thread = threading.current_thread()
        with self._cursor() as cr:
            engine = api.Environment(cr, SUPERUSER_ID, {})["sms.marketing.engine"]
            cr.execute("SHOW jit")
            default_jit = cr.fetchone()[0]
            thread.testing = False  # as in a cron worker: the engine commits
            try:
                engine._commit()
            finally:
                thread.testing = True
            cr.execute("SELECT current_setting('transaction_isolation'), current_setting('jit')")
            self.assertEqual(cr.fetchone(), ("read committed", "off"))
            cr.commit()  # pylint: disable=invalid-commit
            cr.execute("SHOW jit")
            self.assertEqual(cr.fetchone()[0], default_jit, "for that transaction only: the connection is as it was")

    def test_no_lock_held_during_the_provider_call(self):
        """Between its reservation's commit and its answer, a sender holds no lock: the others send meanwhile."""
        ids = self._setup_committed()
        self._build_committed(ids)
        with self._cursor() as cr_a:
            env_a, messages, move_id, reserved, params = self._reserve_committed(cr_a, ids)
            uuids_a = {m["uuid"] for m in messages}
            with self._cursor() as cr_b:  # any lock of A would make these wait (lock_timeout: fail instead)
                cr_b.execute("SET lock_timeout = '2s'")
                gateway_b = api.Environment(cr_b, SUPERUSER_ID, {})["sms.marketing.gateway"].browse(ids["gateway"])
                self.assertTrue(gateway_b._reserve(1.0), "the gateway row is free")
                cr_b.rollback()
            self._run_worker()
            self.assertFalse({m["uuid"] for m in self.sim.state()["sent"]} & uuids_a, "A's claimed batch is left alone")
            self.assertEqual(len(self.sim.state()["sent"]), 55)
            self.assertEqual(self._run_worker(), 0, "a live sender's lease is not taken")
            engine_a = env_a["sms.marketing.engine"]
            mailing_a = env_a["sms.marketing.mailing"].browse(ids["mailing"])
            gateway_a = engine_a._get_gateway(mailing_a)
            results, error = engine_a._send(gateway_a, messages, params)
            spent, _insufficient = engine_a._record_batch(
                mailing_a, gateway_a, move_id, reserved, messages, results, error, params
            )
            self.assertEqual(spent, 5.0)
            cr_a.commit()  # pylint: disable=invalid-commit
        self.assertEqual(self._run_worker(self._after_lease()), 0, "a settled batch is not recovered")
        self._check_final(ids)

    def test_killed_after_reservation_before_send(self):
        ids = self._setup_committed()
        self._build_committed(ids)
        with self._cursor() as cr_a:
            _env, messages, _move, _reserved, _params = self._reserve_committed(cr_a, ids)
        # A is gone: its connection closed after the commit, before calling the gateway
        self.assertEqual(self._run_worker(), 0)
        self.assertEqual(len(self.sim.state()["sent"]), 55, "the dead sender's batch waits for its lease to end")
        self.assertEqual(self._run_worker(self._after_lease()), 1)
        self.assertEqual(self.sim.state()["accepted"], 60)
        self.assertTrue({m["uuid"] for m in messages} <= {m["uuid"] for m in self.sim.state()["sent"]})
        self._check_final(ids)

    def test_killed_after_send_before_record(self):
        ids = self._setup_committed()
        self._build_committed(ids)
        with self._cursor() as cr_a:
            env_a, messages, _move, _reserved, params = self._reserve_committed(cr_a, ids)
            engine_a = env_a["sms.marketing.engine"]
            gateway_a = engine_a._get_gateway(env_a["sms.marketing.mailing"].browse(ids["mailing"]))
            engine_a._send(gateway_a, messages, params)
            self.assertEqual(len(self.sim.state()["sent"]), 5, "the gateway accepted A's batch")
            cr_a.rollback()  # killed before recording
        self.assertEqual(self._run_worker(self._after_lease()), 1)
        self._check_final(ids)  # the 5 resent uuids were answered duplicate and counted once

    def test_slow_sender_loses_to_the_recovery_of_its_expired_lease(self):
        ids = self._setup_committed()
        self._build_committed(ids)
        with self._cursor() as cr_a:
            engine_a, mailing_a, gateway_a, messages, move_id, reserved, params = self._sender_a(cr_a, ids)
            results, error = engine_a._send(gateway_a, messages, params)
            # A is slow: its lease ends, another runner recovers the batch and sends everything
            self.assertEqual(self._run_worker(self._after_lease()), 1)
            self.assertEqual(
                engine_a._record_batch(mailing_a, gateway_a, move_id, reserved, messages, results, error, params),
                (None, False),
                "A's late answer is dropped",
            )
            cr_a.commit()  # pylint: disable=invalid-commit
        self._check_final(ids)

    def test_a_failure_and_a_click_of_one_recipient_do_not_wait_for_each_other(self):
        """The engagement summary only adds rows for what is added: a sender recording a recipient's failure and
        that recipient's click, in two open transactions, do not wait for each other (lock_timeout: fail instead)."""
        ids = self._setup_committed(contacts=2)
        self._build_committed(ids)
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            cr.execute(
                "SELECT id, res_id FROM sms_marketing_trace WHERE mailing_id = %s ORDER BY id LIMIT 1", [ids["mailing"]]
            )
            failed_id, failed_contact = cr.fetchone()
            # the same recipient clicks an earlier mailing
            earlier = env["sms.marketing.mailing"].create({"subject": "Earlier", "body": "Hi", "state": "done"})
            link = env["sms.marketing.link"].create({"url": "https://shop.example.com", "mailing_id": earlier.id})
            cr.execute(
                """INSERT INTO sms_marketing_trace (mailing_id, res_model, res_id, number, uuid, state, sent_at)
                   VALUES (%s, 'sms.marketing.contact', %s, '+32480000000', md5(random()::text), 'delivered',
                           now() at time zone 'UTC') RETURNING id""",
                [earlier.id, failed_contact],
            )
            clicked_id = cr.fetchone()[0]
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._delete_committed_mailing, earlier.id)
        with self._cursor() as cr_a:
            # the sender's record of a failure, not committed
            cr_a.execute("UPDATE sms_marketing_trace SET state = 'failed' WHERE id = %s", [failed_id])
            with self._cursor() as cr_b:
                cr_b.execute("SET lock_timeout = '2s'")
                api.Environment(cr_b, SUPERUSER_ID, {})["sms.marketing.link.click"]._add_click(link.id, clicked_id)
                cr_b.commit()  # pylint: disable=invalid-commit
            cr_a.commit()  # pylint: disable=invalid-commit
        with self._cursor() as cr:
            cr.execute(
                """SELECT max(last_click_at) IS NOT NULL, max(last_failure_at) IS NOT NULL
                     FROM sms_marketing_engagement_summary WHERE res_model = 'sms.marketing.contact' AND res_id = %s""",
                [failed_contact],
            )
            self.assertEqual(cr.fetchone(), (True, True))

    def test_recovery_skips_a_batch_being_recorded(self):
        """The recovery meets the sender's open settlement: it skips it (SKIP LOCKED) and the sender wins."""
        ids = self._setup_committed()
        self._build_committed(ids)
        with self._cursor() as cr_a:
            engine_a, mailing_a, gateway_a, messages, move_id, reserved, params = self._sender_a(cr_a, ids)
            results, error = engine_a._send(gateway_a, messages, params)
            engine_a._record_batch(mailing_a, gateway_a, move_id, reserved, messages, results, error, params)
            with self._cursor() as cr_b:  # A has not committed yet
                cr_b.execute("SET lock_timeout = '2s'")
                engine_b = api.Environment(cr_b, SUPERUSER_ID, {})["sms.marketing.engine"]
                self.assertEqual(engine_b._recover_batches(now=self._after_lease()), 0)
                cr_b.rollback()
            cr_a.commit()  # pylint: disable=invalid-commit
        self.assertEqual(self._run_worker(self._after_lease()), 0)
        self._check_final(ids)

    def test_delivery_report_overtaking_the_record(self):
        """A report that arrives while the sender is between its call and its record is kept."""
        ids = self._setup_committed()
        self._build_committed(ids)
        with self._cursor() as cr_a:
            engine_a, mailing_a, gateway_a, messages, move_id, reserved, params = self._sender_a(cr_a, ids)
            results, error = engine_a._send(gateway_a, messages, params)
            with self._cursor() as cr_b:  # the webhook, on its own connection
                gateway_b = api.Environment(cr_b, SUPERUSER_ID, {})["sms.marketing.gateway"].browse(ids["gateway"])
                statuses = [{"uuid": messages[0]["uuid"], "state": "delivered"}]
                statuses.append({"uuid": messages[1]["uuid"], "state": "undelivered"})
                self.assertEqual(gateway_b._process_statuses(statuses), 2)
                cr_b.commit()  # pylint: disable=invalid-commit
            engine_a._record_batch(mailing_a, gateway_a, move_id, reserved, messages, results, error, params)
            cr_a.commit()  # pylint: disable=invalid-commit
        with self._cursor() as cr:
            cr.execute(
                "SELECT uuid, state, failure_type, claim_move_id FROM sms_marketing_trace WHERE uuid = ANY(%s)",
                [[m["uuid"] for m in messages]],
            )
            states = {uuid: (state, ftype, claim) for uuid, state, ftype, claim in cr.fetchall()}
        self.assertEqual(states.pop(messages[0]["uuid"]), ("delivered", None, None))
        self.assertEqual(states.pop(messages[1]["uuid"]), ("failed", "undelivered", None))
        self.assertEqual(set(states.values()), {("sent", None, None)})

    def test_delivery_report_overtaking_a_lost_answer(self):
        """A report that arrives before the record of a batch whose answer was lost (a time-out: the
        batch is to retry) keeps its state: that message is charged and not sent again."""
        ids = self._setup_committed()
        self._build_committed(ids)
        with self._cursor() as cr_a:
            engine_a, mailing_a, gateway_a, messages, move_id, reserved, params = self._sender_a(cr_a, ids)
            self.sim.configure(fail_next=["timeout"])
            results, error = engine_a._send(gateway_a, messages, params)
            self.assertTrue(error, "the answer was lost")
            with self._cursor() as cr_b:  # the webhook, on its own connection: the first message did leave
                gateway_b = api.Environment(cr_b, SUPERUSER_ID, {})["sms.marketing.gateway"].browse(ids["gateway"])
                self.assertEqual(gateway_b._process_statuses([{"uuid": messages[0]["uuid"], "state": "delivered"}]), 1)
                cr_b.commit()  # pylint: disable=invalid-commit
            spent, _insufficient = engine_a._record_batch(
                mailing_a, gateway_a, move_id, reserved, messages, results, error, params
            )
            self.assertEqual(spent, 1.0, "the reported message is charged")
            cr_a.commit()  # pylint: disable=invalid-commit
        with self._cursor() as cr:
            cr.execute(
                "SELECT uuid, state, cost, next_try_at IS NULL FROM sms_marketing_trace WHERE uuid = ANY(%s)",
                [[m["uuid"] for m in messages]],
            )
            states = {uuid: (state, cost, due) for uuid, state, cost, due in cr.fetchall()}
        self.assertEqual(states.pop(messages[0]["uuid"]), ("delivered", 1.0, True), "kept, charged, not retried")
        self.assertEqual(set(states.values()), {("pending", 0.0, False)}, "the others are retried later")

    def test_reconciliation_asks_again_with_a_backoff(self):
        """A message the provider did not answer about stays unknown and is asked about again after the
        engine's backoff, not at every run of the queue."""
        provider = RecordingServer().start()  # answers every look-up with an error
        self.addCleanup(provider.stop)
        provider.answer(500, {"code": 20500, "message": "injected"})
        values = twilio.gateway_values(SimpleNamespace(url=provider.url, account_sid="AC" + "1" * 32, auth_token="t"))
        ids = self._setup_committed_provider(values, ["+12025550003"])
        with self._cursor() as cr:  # its answer was lost
            cr.execute(
                """UPDATE sms_marketing_trace SET state = 'unknown', in_flight_at = now() at time zone 'UTC'
                    WHERE mailing_id = %s""",
                [ids["mailing"]],
            )
            cr.commit()  # pylint: disable=invalid-commit
        with self._cursor() as cr:
            engine = api.Environment(cr, SUPERUSER_ID, {})["sms.marketing.engine"]
            self.assertEqual(engine._reconcile_unknown(), 1)
            self.assertEqual(engine._reconcile_unknown(), 0, "not asked again at once")
            cr.execute(
                """SELECT state, try_count, next_try_at > now() at time zone 'UTC', in_flight_at IS NOT NULL
                     FROM sms_marketing_trace WHERE mailing_id = %s""",
                [ids["mailing"]],
            )
            self.assertEqual(cr.fetchall(), [("unknown", 1, True, True)], "asked again after the backoff")
            cr.execute("UPDATE sms_marketing_trace SET next_try_at = NULL WHERE mailing_id = %s", [ids["mailing"]])
            self.assertEqual(engine._reconcile_unknown(), 1, "the backoff over, it is asked again")
            cr.commit()  # pylint: disable=invalid-commit
        self.assertEqual(len(provider.requests), 2, "one look-up per run that asked")

    # ------------------------------------------------------------------ no lock across a provider call
    def _gateway_free(self, ids, seen):
        """A check for ``during_provider_call``: whether the gateway row (every reservation's) is free."""
        return lambda: seen.append(rows_free(self.env.cr.dbname, "gateway", [ids["gateway"]]))

    def test_test_sms_holds_no_lock_during_the_call(self):
        """The test SMS reserves and commits, then calls the provider: senders reserve meanwhile."""
        ids = self._setup_committed(contacts=1)
        self.sim.configure(reset=True)
        seen = []
        with (
            self._cursor() as cr,
            committing_engine(),
            during_provider_call(HttpJsonProvider, "send", self._gateway_free(ids, seen)),
        ):
            env = api.Environment(cr, SUPERUSER_ID, {})
            wizard = env["sms.marketing.mailing.test"].create({"mailing_id": ids["mailing"], "numbers": "+32470000001"})
            wizard.action_send()
            cr.commit()  # pylint: disable=invalid-commit
        self.assertEqual(seen, [True], "the gateway row is free while the provider answers")
        self.assertEqual([m["number"] for m in self.sim.state()["sent"]], ["+32470000001"])
        with self._cursor() as cr:
            cr.execute(
                "SELECT sum(amount), count(lease_until) FROM sms_marketing_credit_move WHERE gateway_id = %s",
                [ids["gateway"]],
            )
            self.assertEqual(cr.fetchone(), (999.0, 0), "charged once, no reservation left open")

    def test_keyword_answer_leaves_after_the_webhook(self):
        """A STOP's answer is queued by the webhook (no provider call inside it) and sent by the cron
        after the keyword's work is committed, with no lock held during the call."""
        ids = self._setup_committed(contacts=1)
        self.sim.configure(reset=True)
        number = "+32470000077"
        seen, blacklisted = [], []

        def check():
            self._gateway_free(ids, seen)()
            with self._cursor() as cr:
                cr.execute("SELECT count(*) FROM sms_marketing_blacklist WHERE number = %s", [number])
                blacklisted.append(cr.fetchone()[0])

        self.addCleanup(self._forget_number, number)
        with (
            self._cursor() as cr,
            committing_engine(),
            during_provider_call(HttpJsonProvider, "send", check),
        ):
            env = api.Environment(cr, SUPERUSER_ID, {})
            Blacklist = env["sms.marketing.blacklist"].with_context(sms_marketing_gateway_id=ids["gateway"])
            results = Blacklist._apply_inbound_keywords([{"number": number, "content": "STOP"}])
            self.assertEqual(results, [{"number": number, "action": "optout"}])
            self.assertFalse(seen, "no provider call inside the webhook")
            cr.commit()  # pylint: disable=invalid-commit
            env["sms.marketing.reply"]._cron_send()
            cr.commit()  # pylint: disable=invalid-commit
            env["sms.marketing.reply"]._cron_send()  # nothing left: sent once
            cr.commit()  # pylint: disable=invalid-commit
        self.assertEqual(seen, [True], "the gateway row is free while the provider answers")
        self.assertEqual(blacklisted, [1], "the STOP was kept before the answer left")
        self.assertEqual([m["number"] for m in self.sim.state()["sent"]], [number])

    def _forget_number(self, number):
        with self._cursor() as cr:
            cr.execute("DELETE FROM sms_marketing_blacklist WHERE number = %s", [number])
            cr.execute("DELETE FROM sms_marketing_consent WHERE number = %s", [number])
            cr.execute("DELETE FROM sms_marketing_reply WHERE number = %s", [number])
            cr.commit()  # pylint: disable=invalid-commit

    def test_refresh_holds_no_lock_during_the_calls(self):
        """Refresh Balance and Prices asks the provider twice before it writes anything."""
        ids = self._setup_committed(contacts=1)
        self.sim.configure(reset=True, balance=500.0)
        seen = []
        check = self._gateway_free(ids, seen)
        with (
            self._cursor() as cr,
            during_provider_call(HttpJsonProvider, "fetch_balance", check),
            during_provider_call(HttpJsonProvider, "fetch_prices", check),
        ):
            gateway = api.Environment(cr, SUPERUSER_ID, {})["sms.marketing.gateway"].browse(ids["gateway"])
            gateway.action_refresh()
            self.assertEqual(gateway.balance, 500.0, "the provider's balance")
            cr.commit()  # pylint: disable=invalid-commit
        self.assertEqual(seen, [True, True], "the gateway row is free during both calls")

    def test_paused_mailings_balance_read_holds_no_lock(self):
        """Two mailings paused for credit on one gateway: its balance is read once, nothing locked meanwhile."""
        ids = self._setup_committed(contacts=1)
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            first = env["sms.marketing.mailing"].browse(ids["mailing"])
            second = first.copy({"subject": "Concurrency again"})
            (first | second).write({"state": "paused", "pause_code": "insufficient_credit"})
            mailing_ids = (first | second).ids
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._cleanup, dict(ids, mailing=second.id))
        seen = []

        def check():
            self._gateway_free(ids, seen)()
            seen.append(rows_free(self.env.cr.dbname, "mailing", mailing_ids))
            seen.append(session_closed(self.env.cr.dbname, engine_session[0]))

        with (
            self._cursor() as cr,
            committing_engine(),
            during_provider_call(HttpJsonProvider, "fetch_balance", check),
        ):
            engine_session = [cr._cnx.get_backend_pid()]
            api.Environment(cr, SUPERUSER_ID, {})["sms.marketing.engine"]._wake_due_mailings()
            cr.commit()  # pylint: disable=invalid-commit
            cr.execute("SELECT DISTINCT state FROM sms_marketing_mailing WHERE id = ANY(%s)", [mailing_ids])
            self.assertEqual(cr.fetchall(), [("sending",)], "both resumed: the gateway has credit")
        self.assertTrue(seen, "the balance was read")
        self.assertTrue(all(seen), "nothing locked, no transaction open during a balance read")

    def test_reconciliation_holds_no_trace_during_the_look_up(self):
        """A delivery report that comes while reconciliation asks the provider applies at once, and stays."""
        twilio_standin = twilio.TwilioStandin().start()
        self.addCleanup(twilio_standin.stop)
        ids = self._setup_committed_provider(twilio.gateway_values(twilio_standin), ["+12025550001", "+12025550002"])
        self._run_worker()
        with self._cursor() as cr:  # both answers were lost
            cr.execute(
                """UPDATE sms_marketing_trace SET state = 'unknown', in_flight_at = now() at time zone 'UTC', cost = 0
                    WHERE mailing_id = %s RETURNING id, uuid""",
                [ids["mailing"]],
            )
            traces = dict(cr.fetchall())
            cr.commit()  # pylint: disable=invalid-commit
        reported, closed = [], []

        def report():
            closed.append(session_closed(self.env.cr.dbname, engine_session[0]))
            with self._cursor() as cr:
                cr.execute("SET lock_timeout = '5s'")  # a lock held by reconciliation: a failure, not a wait
                gateway = api.Environment(cr, SUPERUSER_ID, {})["sms.marketing.gateway"].browse(ids["gateway"])
                reported.append(gateway._process_statuses([{"uuid": traces[min(traces)], "state": "delivered"}]))
                cr.commit()  # pylint: disable=invalid-commit

        with (
            self._cursor() as cr,
            committing_engine(),
            during_provider_call(TwilioProvider, "lookup", report),
        ):
            engine_session = [cr._cnx.get_backend_pid()]
            settled = api.Environment(cr, SUPERUSER_ID, {})["sms.marketing.engine"]._reconcile_unknown()
            cr.commit()  # pylint: disable=invalid-commit
        self.assertEqual(settled, 2)
        self.assertEqual(closed, [True], "no transaction open during the look-up")
        self.assertEqual(reported, [1], "the report was applied during the look-up")
        with self._cursor() as cr:
            cr.execute(
                "SELECT id, state, cost > 0 FROM sms_marketing_trace WHERE id = ANY(%s) ORDER BY id", [list(traces)]
            )
            self.assertEqual(
                cr.fetchall(),
                [(min(traces), "delivered", True), (max(traces), "sent", True)],
                "the report's state is kept; both found and charged",
            )
            cr.execute(
                "SELECT count(lease_until) FROM sms_marketing_credit_move WHERE gateway_id = %s", [ids["gateway"]]
            )
            self.assertEqual(cr.fetchone()[0], 0)
