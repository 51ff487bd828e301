"""An A/B test in Chromium, from creation to the winner (static/src/tours/sms_marketing_ab_tour.js)."""

from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestAbTour(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        be = cls.env.ref("base.be")
        cls.env["sms.marketing.list"].create(
            {
                "name": "AB list",
                "contact_ids": [
                    (0, 0, {"name": f"AB {i}", "phone": f"+32 470 55 00 0{i}", "country_id": be.id}) for i in range(4)
                ],
            }
        )
        sandbox = cls.env.ref("sms_marketing_custom.sms_marketing_gateway_sandbox")
        sandbox.write({"sandbox_failure_rate": 0, "sandbox_undelivered_rate": 0})
        sandbox._change_balance(100.0, "purchase")

    def _run_queue(self):
        self.env["sms.marketing.mailing"]._cron_process_queue()
        self.env.invalidate_all()

    def test_ab_tour(self):
        self.start_tour("/web", "sms_marketing_custom_ab_create", login="admin")
        mailing = self.env["sms.marketing.mailing"].search([("subject", "=", "AB spring sale")])
        self.assertTrue(mailing.ab_testing)
        self.assertEqual((mailing.ab_test_share, mailing.ab_winner_metric), (50, "manual"))
        a, b = mailing.variant_ids.sorted(lambda v: (not v.is_main, v.sequence, v.id))
        self.assertEqual(a.body, "Spring sale: 20% off today!")
        self.assertEqual(b.body, "Only today: 20% off everything in store")
        self.assertEqual(mailing.state, "scheduled")
        self._run_queue()
        self.assertEqual(mailing.state, "testing")
        self.assertEqual(len(mailing.trace_ids), 2)

        self.start_tour("/web", "sms_marketing_custom_ab_winner", login="admin")
        self.env.invalidate_all()
        self.assertEqual(mailing.ab_winner_variant_id, b)
        self._run_queue()
        self.assertEqual(mailing.state, "done")
        rest = mailing.trace_ids.filtered(lambda t: not t.ab_sample)
        self.assertEqual(len(rest), 2)
        self.assertTrue(
            all(body.startswith("Only today: 20% off everything in store\n") for body in rest.mapped("body"))
        )
        self.assertEqual(len(set(mailing.trace_ids.mapped("res_id"))), 4, "one SMS per contact")
