"""Odoo's SMS through a provider that takes one message per request (Twilio), on committed transactions.

Such a batch lasts as long as its messages one after the other: its runner's
claims of the ``sms.sms`` follow the heartbeat of its reservation, so another
queue run never takes them for a dead runner's while the batch is sent. The
provider is a stand-in that holds a chosen request until the test releases it
(``hold_request``); the other queue run looks at a later time through its clock.
"""

import threading
from datetime import timedelta
from types import SimpleNamespace
from unittest.mock import patch

from odoo import SUPERUSER_ID, api, fields
from odoo.addons.sms_marketing_custom.tests.common import SmsCommittedCase
from odoo.addons.sms_marketing_custom.tests.standins import twilio
from odoo.addons.sms_marketing_custom_sms.models import sms_sms as sms_sms_module
from odoo.addons.sms_marketing_custom_sms.models.sms_sms import ROUTE_ODOO_SMS_PARAM
from odoo.tests import tagged

HEARTBEAT_PARAM = "sms_marketing_custom.lease_heartbeat_seconds"
NUMBERS = [f"+1202555{i:04d}" for i in range(4)]


@tagged("post_install", "-at_install")
class TestOdooSmsPerMessage(SmsCommittedCase):
    def setUp(self):
        super().setUp()
        self.standin = twilio.TwilioStandin().start()
        self.addCleanup(self.standin.stop)
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            values = twilio.gateway_values(self.standin, sequence=-2000, default_price=1.0, timeout=5)
            gateway = env["sms.marketing.gateway"].create(values)  # the company's default gateway
            gateway._change_balance(100.0, "purchase")
            Param = env["ir.config_parameter"]
            self.params_before = {key: Param.get_param(key) for key in (ROUTE_ODOO_SMS_PARAM, HEARTBEAT_PARAM)}
            Param.set_param(ROUTE_ODOO_SMS_PARAM, "True")
            Param.set_param(HEARTBEAT_PARAM, "0")  # a beat after every message
            sms = env["sms.sms"].create([{"number": number, "body": "Queued"} for number in NUMBERS])
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

    def _run_queue(self, clock=None):
        """One run of Odoo's SMS queue on its own connection, committed; ``clock``: its time."""
        with self._cursor() as cr:
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            env = api.Environment(cr, SUPERUSER_ID, {})
            if clock:
                later = SimpleNamespace(Datetime=SimpleNamespace(now=lambda: clock))
                with patch.object(sms_sms_module, "fields", later):
                    env["sms.sms"]._process_queue(ids=self.sms_ids)
            else:
                env["sms.sms"]._process_queue(ids=self.sms_ids)
            cr.commit()  # pylint: disable=invalid-commit

    def _rows(self):
        """{number: (state, failure type, claim end)} of this test's SMS."""
        with self._cursor() as cr:
            cr.execute(
                """SELECT number, state, failure_type, sms_marketing_claim_until FROM sms_sms
                    WHERE id = ANY(%s)""",
                [self.sms_ids],
            )
            return {number: rest for number, *rest in cr.fetchall()}

    def test_slow_batch_keeps_its_claims(self):
        """A queue run sends a batch slower than the claim's lease: the heartbeat moves the claims of
        every SMS of the run forward, so a queue run after the first lease's end takes none of them for a
        dead runner's (no "Server Error" for an SMS being sent); each SMS leaves once."""
        first, second = self.standin.hold_request(1), self.standin.hold_request(2)
        errors = []

        def run():
            try:
                self._run_queue()
            except Exception as error:  # reported by the test's thread
                errors.append(error)

        thread = threading.Thread(target=run, name="queue-run-a")
        thread.start()
        try:
            self.assertTrue(first.wait_arrived(), "A calls the provider")
            with self._cursor() as cr:  # most of A's lease has passed: five minutes left
                soon = fields.Datetime.now() + timedelta(minutes=5)
                cr.execute("UPDATE sms_sms SET sms_marketing_claim_until = %s WHERE id = ANY(%s)", [soon, self.sms_ids])
                cr.commit()  # pylint: disable=invalid-commit
            first.release.set()
            self.assertTrue(second.wait_arrived(), "A sent one message and waits for the second's answer")
            self._run_queue(clock=soon + timedelta(minutes=1))  # another run, past A's first lease
            rows = self._rows()
            self.assertEqual({state for state, _failure, _claim in rows.values()}, {"outgoing"}, "none taken")
            claims = [claim for _state, _failure, claim in rows.values()]
            self.assertTrue(all(claim > soon + timedelta(minutes=5) for claim in claims), "the claims moved with A")
        finally:
            first.release.set()
            second.release.set()
        thread.join(timeout=60)
        self.assertFalse(thread.is_alive(), "A finished")
        self.assertFalse(errors)
        received = ["+" + str(message["to"]).lstrip("+") for message in self.standin.messages]
        self.assertEqual(sorted(received), NUMBERS, "each SMS left once")
        rows = self._rows()
        self.assertEqual({state for state, _failure, _claim in rows.values()}, {"pending"}, rows)
        self.assertEqual({claim for _state, _failure, claim in rows.values()}, {None}, "the claims ended")
