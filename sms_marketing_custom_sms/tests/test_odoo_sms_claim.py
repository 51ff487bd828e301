from odoo import SUPERUSER_ID, api, sql_db
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestOdooSmsClaim(TransactionCase):
    """Exactly once: of two runners on the same queued SMS (real, committed transactions), one sends it."""

    def setUp(self):
        super().setUp()
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.sms_ids = env["sms.sms"].create([{"number": "+32470000009", "body": "Queued"}] * 2).ids
        self.addCleanup(self._delete)

    def _cursor(self):
        return sql_db.db_connect(self.env.cr.dbname).cursor()

    def _delete(self):
        with self._cursor() as cr:
            cr.execute("DELETE FROM sms_sms WHERE id = ANY(%s)", [self.sms_ids])

    def _runner(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {})["sms.sms"].browse(self.sms_ids)

    def test_second_runner_skips_what_the_first_holds_then_finds_it_sent(self):
        with self._cursor() as cr_a, self._cursor() as cr_b:
            claimed = self._runner(cr_a)._claim_outgoing()
            self.assertEqual(claimed.ids, self.sms_ids)
            self.assertFalse(self._runner(cr_b)._claim_outgoing())  # held by A: skipped, not waited for
            cr_b.rollback()
            claimed.write({"state": "pending"})  # what A's send records
            cr_a.commit()
            self.assertFalse(self._runner(cr_b)._claim_outgoing())  # sent: nothing left to claim
