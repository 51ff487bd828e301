"""Providers that take one message per request (Twilio, Vonage) under load: leases and credits.

A batch of such a provider lasts as long as its messages take one by one. Its
sender keeps its lease while it works (a heartbeat on a connection of its
own), and when its lease is recovered anyway (the sender hung, another runner
took the batch back), the messages that did leave are charged, not refunded:
the ledger matches what the provider received.

The provider is a stand-in on 127.0.0.1 that holds a chosen request until the
test releases it (``hold_request``): the sender is "slow" exactly while the
test looks and recovers, never by a sleep. The sender runs the engine's own
batch (``_send_batch``) in a thread on its own committed connection.
"""

import threading
from datetime import timedelta
from uuid import uuid4

from odoo import SUPERUSER_ID, api, fields
from odoo.tests import tagged

from ..tools.messages import new_message
from .common import SmsCommittedCase, rows_free, session_closed
from .standins import gateway as gateway_standin
from .standins import twilio, vonage

BATCH = 5


@tagged("post_install", "-at_install")
class TestPerMessageLeases(SmsCommittedCase):
    def _providers(self):
        """(label, stand-in, gateway values, numbers, the stand-in's number of a message) of each provider."""
        twilio_standin = twilio.TwilioStandin().start()
        self.addCleanup(twilio_standin.stop)
        vonage_standin = vonage.VonageStandin().start()
        self.addCleanup(vonage_standin.stop)
        return [
            (
                "twilio",
                twilio_standin,
                twilio.gateway_values(twilio_standin),
                [f"+1202555{i:04d}" for i in range(10)],
            ),
            (
                "vonage",
                vonage_standin,
                vonage.gateway_values(vonage_standin, default_price=0.05),
                [f"+3247{i:07d}" for i in range(10)],
            ),
        ]

    @staticmethod
    def _received(standin):
        return ["+" + str(message["to"]).lstrip("+") for message in standin.messages]

    def _start_sender(self, ids, session=None, **params):
        """Sender A: one batch of the engine (claim, reserve, call, record) in a thread, committing as a
        cron worker does. Returns (thread, what ``_send_batch`` returned, errors); ``session``: a list
        the sender's database session (its backend pid) is added to."""
        outcome, errors = [], []

        def run():
            try:
                with self._cursor() as cr:
                    if session is not None:
                        session.append(cr._cnx.get_backend_pid())
                    cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    engine = env["sms.marketing.engine"]
                    mailing = env["sms.marketing.mailing"].browse(ids["mailing"])
                    values = dict(engine._get_params(), batch_size=BATCH, retry_base_seconds=0, **params)
                    outcome.append(engine._send_batch(mailing, values))
                    cr.commit()  # pylint: disable=invalid-commit
            except Exception as error:  # reported by the test's thread
                errors.append(error)

        thread = threading.Thread(target=run, name="sender-a")
        thread.start()
        return thread, outcome, errors

    def _join(self, thread, errors):
        thread.join(timeout=60)
        self.assertFalse(thread.is_alive(), "sender A finished")
        self.assertFalse(errors)

    def _lease(self, ids):
        """(ledger line, lease end) of the gateway's open reservation."""
        with self._cursor() as cr:
            cr.execute(
                """SELECT id, lease_until FROM sms_marketing_credit_move
                    WHERE gateway_id = %s AND lease_until IS NOT NULL""",
                [ids["gateway"]],
            )
            rows = cr.fetchall()
        self.assertEqual(len(rows), 1, "one batch in flight")
        return rows[0]

    def _in_flight(self, ids):
        """{number: end of its in-flight time} of the traces in flight."""
        with self._cursor() as cr:
            cr.execute(
                """SELECT number, next_try_at FROM sms_marketing_trace
                    WHERE mailing_id = %s AND in_flight_at IS NOT NULL AND state = 'pending'""",
                [ids["mailing"]],
            )
            return dict(cr.fetchall())

    def _balance(self, ids):
        """(balance, sum of the ledger) of the gateway."""
        with self._cursor() as cr:
            cr.execute("SELECT balance FROM sms_marketing_gateway WHERE id = %s", [ids["gateway"]])
            balance = cr.fetchone()[0]
            cr.execute("SELECT sum(amount) FROM sms_marketing_credit_move WHERE gateway_id = %s", [ids["gateway"]])
            return balance, cr.fetchone()[0]

    def _recover(self, at):
        """Another runner recovers the leases expired at ``at``; returns how many."""
        with self._cursor() as cr:
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            recovered = api.Environment(cr, SUPERUSER_ID, {})["sms.marketing.engine"]._recover_batches(now=at)
            cr.commit()  # pylint: disable=invalid-commit
        return recovered

    def _run_worker(self):
        with self._cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["sms.marketing.mailing"]._run_sending_worker(time_budget=30)
            cr.commit()  # pylint: disable=invalid-commit

    def _traces(self, ids):
        """{number: (state, cost, count of claims)} of the mailing's traces."""
        with self._cursor() as cr:
            cr.execute(
                "SELECT number, state, cost, claim_move_id FROM sms_marketing_trace WHERE mailing_id = %s",
                [ids["mailing"]],
            )
            return {number: (state, cost, claim) for number, state, cost, claim in cr.fetchall()}

    def _check_ledger_matches_provider(self, ids, standin, numbers):
        """Each number received once; each message received is charged, at its trace's cost; the ledger
        is the balance; no lease left open."""
        received = self._received(standin)
        self.assertEqual(len(received), len(set(received)), "no message sent twice")
        traces = self._traces(ids)
        for number in received:
            state, cost, claim = traces[number]
            self.assertIn(state, ("sent", "delivered", "unknown"), f"{number} left: never to send again")
            self.assertGreater(cost, 0, f"{number} left: it is charged")
            self.assertFalse(claim)
        balance, ledger = self._balance(ids)
        self.assertAlmostEqual(ledger, balance, msg="the ledger is the balance")
        charged = sum(cost or 0.0 for _state, cost, _claim in traces.values())
        self.assertAlmostEqual(1000.0 - balance, charged, msg="the ledger charged what the traces cost, no more")
        with self._cursor() as cr:
            cr.execute(
                "SELECT count(lease_until) FROM sms_marketing_credit_move WHERE gateway_id = %s", [ids["gateway"]]
            )
            self.assertEqual(cr.fetchone()[0], 0, "no lease left open")

    # ------------------------------------------------------------------ (a) the lease follows the sender
    def test_slow_batch_keeps_its_lease_and_locks_nothing(self):
        """While a per-message batch is being sent, its lease and its unsent messages' in-flight time move
        forward (a recovery at the first lease's end finds nothing), and neither the gateway row nor the
        batch's traces are locked: a delivery report of a message already sent applies at once."""
        _label, standin, values, numbers = self._providers()[0]
        ids = self._setup_committed_provider(values, numbers)
        first, third = standin.hold_request(1), standin.hold_request(3)
        thread, outcome, errors = self._start_sender(ids, lease_heartbeat_seconds=0)
        try:
            self.assertTrue(first.wait_arrived(), "A calls the provider")
            move_id, first_lease = self._lease(ids)
            first_in_flight = self._in_flight(ids)
            self.assertEqual(len(first_in_flight), BATCH)
            first.release.set()
            self.assertTrue(third.wait_arrived(), "A sent two messages and waits for the third's answer")
            self.assertEqual(len(standin.messages), 2)
            _move, lease = self._lease(ids)
            self.assertGreater(lease, first_lease, "the lease moved while A works")
            unsent = {number: until for number, until in self._in_flight(ids).items() if number in numbers[2:BATCH]}
            self.assertEqual(len(unsent), BATCH - 2)
            for number, until in unsent.items():
                self.assertGreater(until, first_in_flight[number], "the in-flight time of what is left moved")
            self.assertEqual(self._recover(first_lease + (lease - first_lease) / 2), 0, "A's lease is A's")
            with self._cursor() as cr:
                cr.execute("SELECT id FROM sms_marketing_trace WHERE mailing_id = %s", [ids["mailing"]])
                trace_ids = [row[0] for row in cr.fetchall()]
            self.assertTrue(rows_free(self.env.cr.dbname, "gateway", [ids["gateway"]]), "the gateway row is free")
            self.assertTrue(rows_free(self.env.cr.dbname, "trace", trace_ids), "the traces are free")
            with self._cursor() as cr:  # a delivery report of the first message, on its own connection
                cr.execute("SET lock_timeout = '2s'")
                gateway = api.Environment(cr, SUPERUSER_ID, {})["sms.marketing.gateway"].browse(ids["gateway"])
                cr.execute("SELECT uuid FROM sms_marketing_trace WHERE number = %s", [numbers[0]])
                uuid = cr.fetchone()[0]
                self.assertEqual(gateway._process_statuses([{"uuid": uuid, "state": "delivered"}]), 1)
                cr.commit()  # pylint: disable=invalid-commit
        finally:
            first.release.set()
            third.release.set()
        self._join(thread, errors)
        self.assertEqual(outcome, [BATCH])
        self.assertEqual(self._traces(ids)[numbers[0]][0], "delivered", "the report is kept")
        self.assertEqual(sorted(self._received(standin)), numbers[:BATCH])
        self._check_ledger_matches_provider(ids, standin, numbers)
        self.assertEqual(move_id, self._last_reservation(ids), "one batch")

    def test_no_transaction_open_during_the_provider_call(self):
        """While its provider holds the request (a batch provider, then each per-message one), the sender's
        session has no transaction open: no lock of any kind (not even the share lock of a table it read,
        behind which a schema change would queue, and every sender behind the schema change), no
        snapshot holding back the cleanup of others' row versions, nothing an administrator's
        ``idle_in_transaction_session_timeout`` would end. After the call the batch is recorded."""
        batch_standin = gateway_standin.Simulator().start()
        self.addCleanup(batch_standin.stop)
        numbers = [f"+3249{i:07d}" for i in range(9)]
        batch = ("http", batch_standin, gateway_standin.gateway_values(batch_standin), numbers)
        for label, standin, values, numbers in [batch, *self._providers()]:
            with self.subTest(provider=label):
                ids = self._setup_committed_provider(values, numbers)
                held = standin.hold_request(1)
                session = []
                thread, outcome, errors = self._start_sender(ids, session=session)
                try:
                    self.assertTrue(held.wait_arrived(), "A calls the provider")
                    self.assertTrue(session_closed(self.env.cr.dbname, session[0]), "no transaction, no lock")
                finally:
                    held.release.set()
                self._join(thread, errors)
                self.assertEqual(outcome, [BATCH])
                states = [state for state, *_rest in self._traces(ids).values()]
                self.assertEqual(len(states) - states.count("pending"), BATCH, "the batch is recorded")
                self.assertLessEqual(set(states), {"pending", "sent", "delivered"})

    def _last_reservation(self, ids):
        with self._cursor() as cr:
            cr.execute(
                "SELECT max(id) FROM sms_marketing_credit_move WHERE gateway_id = %s AND move_type = 'reservation'",
                [ids["gateway"]],
            )
            return cr.fetchone()[0]

    # ------------------------------------------------------------------ (b) a lease recovered mid-batch
    def test_recovered_mid_batch_charges_what_left(self):
        """A hangs in the middle of its batch (two messages taken, the third held), its lease is
        recovered by another runner, which sends the rest of the mailing; then A comes back. The
        messages that left are charged, never refunded, and none is sent twice."""
        for label, standin, values, numbers in self._providers():
            with self.subTest(provider=label):
                ids = self._setup_committed_provider(values, numbers)
                hold = standin.hold_request(3)
                thread, outcome, errors = self._start_sender(ids, lease_heartbeat_seconds=0)
                try:
                    self.assertTrue(hold.wait_arrived(), "A waits for the third message's answer")
                    before, _ledger = self._balance(ids)
                    self.assertEqual(self._recover(fields.Datetime.now() + timedelta(hours=1)), 1)
                    after, ledger = self._balance(ids)
                    self.assertAlmostEqual(ledger, after)
                    self.assertAlmostEqual(after, before, msg="nothing refunded: every message of A may have left")
                    self._run_worker()  # the other runner sends the rest, never A's messages
                    self.assertEqual(sorted(self._received(standin)), sorted(numbers[:2] + numbers[BATCH:]))
                finally:
                    hold.release.set()
                self._join(thread, errors)
                self.assertEqual(outcome, [BATCH])
                received = self._received(standin)
                self.assertIn(numbers[2], received, "the held message left when A came back")
                self.assertNotIn(numbers[3], received, "then A learnt its lease was gone and stopped")
                traces = self._traces(ids)
                for number in numbers[:3]:
                    self.assertEqual(traces[number][0], "sent", "A's late answer is recorded")
                self._check_ledger_matches_provider(ids, standin, numbers)
                self._run_worker()  # what A did not send after it learnt its lease was gone
                self.assertEqual(sorted(self._received(standin)), sorted(numbers), "each number once")
                self._check_ledger_matches_provider(ids, standin, numbers)
                self.assertEqual({state for state, _cost, _claim in self._traces(ids).values()}, {"sent"})

    def test_sender_dead_mid_batch_charges_what_left(self):
        """A dies in the middle of its batch (two messages taken): the recovery keeps the credits of its
        messages in flight, and the look-up settles them: charged when the provider has them, refunded
        and sent again when it never took them (Twilio); a provider that cannot be asked (Vonage) keeps
        them unknown and charged, never sent twice."""
        for label, standin, values, numbers in self._providers():
            with self.subTest(provider=label):
                ids = self._setup_committed_provider(values, numbers)
                with self._cursor() as cr_a:
                    cr_a.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    env_a = api.Environment(cr_a, SUPERUSER_ID, {})
                    engine = env_a["sms.marketing.engine"]
                    mailing = env_a["sms.marketing.mailing"].browse(ids["mailing"])
                    params = dict(engine._get_params(), batch_size=BATCH)
                    gateway = engine._get_gateway(mailing)
                    messages = engine._prepare(mailing, gateway, engine._claim(mailing, params), params)
                    count, _move_id, _delay = engine._reserve(mailing, gateway, messages, params)
                    self.assertEqual(count, BATCH)
                    cr_a.commit()  # pylint: disable=invalid-commit
                    engine._mark_in_flight(gateway, messages, params)
                    cr_a.commit()  # pylint: disable=invalid-commit
                    gateway._send_batch(messages[:2])  # two messages leave, then A dies
                    cr_a.rollback()
                before, _ledger = self._balance(ids)
                self.assertEqual(self._recover(fields.Datetime.now() + timedelta(hours=1)), 1)
                after, _ledger = self._balance(ids)
                self.assertAlmostEqual(after, before, msg="nothing refunded: every message of A may have left")
                with self._cursor() as cr:  # A's session is gone: its in-flight time is over
                    cr.execute(
                        """UPDATE sms_marketing_trace SET next_try_at = now() at time zone 'UTC' - interval '1 second'
                            WHERE mailing_id = %s AND in_flight_at IS NOT NULL""",
                        [ids["mailing"]],
                    )
                    cr.commit()  # pylint: disable=invalid-commit
                self._run_worker()
                self._check_ledger_matches_provider(ids, standin, numbers)
                states = {number: state for number, (state, _cost, _claim) in self._traces(ids).items()}
                if label == "twilio":
                    self.assertEqual(sorted(self._received(standin)), sorted(numbers), "each number once")
                    self.assertEqual(set(states.values()), {"sent"})
                else:
                    self.assertEqual(sorted(self._received(standin)), sorted(numbers[:2] + numbers[BATCH:]))
                    # A's five, the two that left among them: charged, never sent again
                    self.assertEqual({n for n, s in states.items() if s == "unknown"}, set(numbers[:BATCH]))

    # ------------------------------------------------------------------ (c) messages of no mailing
    def test_recovered_batch_of_no_mailing_charges_what_left(self):
        """Messages of no mailing (Odoo's SMS, a test SMS, a keyword answer) have no trace to say which
        left: when their lease is recovered mid-batch, nothing is refunded, and the late sender's answer
        charges what left and gives back the rest: the ledger matches the provider, no free SMS."""
        _label, standin, values, numbers = self._providers()[0]
        ids = self._setup_committed_provider(values, numbers)
        hold = standin.hold_request(3)
        outcome, errors, costs = [], [], []

        def run():
            try:
                with self._cursor() as cr:
                    cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    engine = env["sms.marketing.engine"]
                    gateway = env["sms.marketing.gateway"].browse(ids["gateway"])
                    params = dict(engine._get_params(), lease_heartbeat_seconds=0)
                    prices = engine._get_run_prices(gateway, params)
                    messages = [
                        new_message(str(uuid4()), number, "Hello", gateway.sender, "US", prices, 1)
                        for number in numbers[:BATCH]
                    ]
                    costs.extend(message["cost"] for message in messages)
                    outcome.append(engine._deliver(env["sms.marketing.mailing"], gateway, messages, params))
                    cr.commit()  # pylint: disable=invalid-commit
            except Exception as error:  # reported by the test's thread
                errors.append(error)

        thread = threading.Thread(target=run, name="sender-a")
        thread.start()
        try:
            self.assertTrue(hold.wait_arrived(), "A waits for the third message's answer")
            before, _ledger = self._balance(ids)
            self.assertEqual(self._recover(fields.Datetime.now() + timedelta(hours=1)), 1)
            after, ledger = self._balance(ids)
            self.assertAlmostEqual(ledger, after)
            self.assertAlmostEqual(after, before, msg="nothing refunded: every message of A may have left")
        finally:
            hold.release.set()
        self._join(thread, errors)
        self.assertTrue(outcome[0].recovered)
        self.assertEqual(sorted(self._received(standin)), numbers[:3], "A stopped once it learnt")
        balance, ledger = self._balance(ids)
        self.assertAlmostEqual(ledger, balance, msg="the ledger is the balance")
        self.assertGreater(sum(costs[:3]), 0)
        self.assertAlmostEqual(1000.0 - balance, sum(costs[:3]), msg="what left is charged, the rest refunded")
