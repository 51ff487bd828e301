"""The frequency cap across two mailings sent at once, on two real database connections.

Like test_sending_concurrency, these tests commit through their own cursors
and delete what they created. The interleaving is forced step by step (no
threads): the outcome depends on the locks alone, not on timing.
"""

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from .common import SmsCommittedCase

NUMBER = "+32485550017"


@tagged("post_install", "-at_install")
class TestFrequencyCapConcurrentMailings(SmsCommittedCase):
    def _setup_committed(self):
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            gateway = env["sms.marketing.gateway"].create(
                {
                    "name": "Cap simulator",
                    "provider": "http",
                    "endpoint_url": self.sim.url,
                    "allow_private_network": True,  # the stand-in listens on 127.0.0.1
                    "api_key": self.sim.api_key,
                    "webhook_secret": self.sim.webhook_secret,
                    "timeout": 5,
                }
            )
            gateway._change_balance(100.0, "purchase")
            lists = env["sms.marketing.list"].create([{"name": "Cap list A"}, {"name": "Cap list B"}])
            # the same person in two lists, as two contacts: one number
            contacts = env["sms.marketing.contact"].create(
                [{"name": f"Same person {i}", "phone": NUMBER, "list_ids": [(4, lists[i].id)]} for i in range(2)]
            )
            mailings = env["sms.marketing.mailing"].create(
                [
                    {
                        "subject": f"Cap {i}",
                        "body": "Hello",
                        "list_ids": [(6, 0, lists[i].ids)],
                        "gateway_id": gateway.id,
                        "include_optout": False,
                        "frequency_cap_count": 1,
                        "frequency_cap_hours": 24,
                    }
                    for i in range(2)
                ]
            )
            engine = env["sms.marketing.engine"]
            for mailing in mailings:
                mailing.state = "sending"
                while not mailing.trace_build_done:
                    engine._build_traces(mailing, engine._get_params())
            ids = {"gateway": gateway.id, "lists": lists.ids, "contacts": contacts.ids, "mailings": mailings.ids}
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._cleanup, ids)
        return ids

    def _cleanup(self, ids):
        with self._cursor() as cr:
            cr.execute("DELETE FROM sms_marketing_mailing WHERE id = ANY(%s)", [ids["mailings"]])
            cr.execute("DELETE FROM sms_marketing_contact WHERE id = ANY(%s)", [ids["contacts"]])
            cr.execute("DELETE FROM sms_marketing_list WHERE id = ANY(%s)", [ids["lists"]])
            cr.execute("DELETE FROM sms_marketing_gateway WHERE id = %s", [ids["gateway"]])
            cr.commit()  # pylint: disable=invalid-commit

    def _sender(self, cr, mailing_id):
        # as the engine does per batch (see sms.marketing.engine._commit)
        cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        env = api.Environment(cr, SUPERUSER_ID, {})
        engine = env["sms.marketing.engine"]
        return engine, env["sms.marketing.mailing"].browse(mailing_id), engine._get_params()

    def _trace(self, mailing_id):
        with self._cursor() as cr:
            cr.execute("SELECT state, failure_type FROM sms_marketing_trace WHERE mailing_id = %s", [mailing_id])
            return cr.fetchall()

    def test_cap_of_one_holds_across_two_mailings_sending_at_once(self):
        ids = self._setup_committed()
        first_id, second_id = ids["mailings"]
        self.assertEqual(self._trace(first_id), [("pending", None)])
        self.assertEqual(self._trace(second_id), [("pending", None)], "both audiences passed the cap when built")
        self.sim.configure(reset=True)
        with self._cursor() as cr_a, self._cursor() as cr_b:
            engine_a, mailing_a, params_a = self._sender(cr_a, first_id)
            rows_a = engine_a._claim(mailing_a, params_a)
            self.assertEqual([row[2] for row in rows_a], [NUMBER])

            # B claims while A's SMS to the number is in flight: B holds it back, untouched
            engine_b, mailing_b, params_b = self._sender(cr_b, second_id)
            self.assertEqual(engine_b._claim(mailing_b, params_b), [])
            cr_b.commit()  # pylint: disable=invalid-commit

            reserved_a = self._reserve_batch(engine_a, mailing_a, rows_a, params_a)
            cr_a.commit()  # pylint: disable=invalid-commit
            self.assertEqual(self._trace(second_id), [("pending", None)])

            # A's SMS is in flight (its lock ended with the reservation's commit, its claim marker
            # did not): B's next claim counts it as sent and cancels its own
            engine_b, mailing_b, params_b = self._sender(cr_b, second_id)
            self.assertEqual(engine_b._claim(mailing_b, params_b), [])
            cr_b.commit()  # pylint: disable=invalid-commit
            self.assertEqual(self._trace(second_id), [("canceled", "frequency_capped")])

            self._send_and_record(engine_a, mailing_a, reserved_a, params_a)
            cr_a.commit()  # pylint: disable=invalid-commit
        self.assertEqual(self._trace(first_id), [("sent", None)])
        self.assertEqual(self._trace(second_id), [("canceled", "frequency_capped")])
        self.assertEqual([message["number"] for message in self.sim.state()["sent"]], [NUMBER], "one SMS, not two")

    def test_without_a_cap_both_mailings_send(self):
        """The control: the same interleaving with the cap off sends both (the test above can fail)."""
        ids = self._setup_committed()
        with self._cursor() as cr:
            cr.execute("UPDATE sms_marketing_mailing SET frequency_cap_count = 0 WHERE id = ANY(%s)", [ids["mailings"]])
            cr.commit()  # pylint: disable=invalid-commit
        self.sim.configure(reset=True)
        with self._cursor() as cr_a, self._cursor() as cr_b:
            engine_a, mailing_a, params_a = self._sender(cr_a, ids["mailings"][0])
            rows_a = engine_a._claim(mailing_a, params_a)
            engine_b, mailing_b, params_b = self._sender(cr_b, ids["mailings"][1])
            rows_b = engine_b._claim(mailing_b, params_b)
            self.assertEqual(len(rows_b), 1)
            reserved_a = self._reserve_batch(engine_a, mailing_a, rows_a, params_a)
            cr_a.commit()  # pylint: disable=invalid-commit
            reserved_b = self._reserve_batch(engine_b, mailing_b, rows_b, params_b)
            cr_b.commit()  # pylint: disable=invalid-commit
            self._send_and_record(engine_a, mailing_a, reserved_a, params_a)
            cr_a.commit()  # pylint: disable=invalid-commit
            self._send_and_record(engine_b, mailing_b, reserved_b, params_b)
            cr_b.commit()  # pylint: disable=invalid-commit
        self.assertEqual(len(self.sim.state()["sent"]), 2)
