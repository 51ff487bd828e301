"""An A/B test in Chromium, from creation to the winner (static/src/tours/sms_marketing_ab_tour.js)."""

from odoo.tests import HttpCase, tagged

from .common import SmsMarketingCase


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


@tagged("post_install", "-at_install")
class TestAbVersionCounter(SmsMarketingCase, HttpCase):
    """A version opened from the A/B list counts its text from the start, in Italian: the Italian
    walk-through saw "0 caratteri, 0 parti SMS" until one typed (the dialog's counter read figures
    the list never loaded for versions not saved yet) and version B's text go back to its saved
    one when the mailing's text changed."""

    def test_version_counter_on_opening(self):
        self.env["res.lang"]._activate_lang("it_IT")
        self.env["ir.module.module"].search([("name", "=", "sms_marketing_custom")])._update_translations(["it_IT"])
        self.user_marketing.lang = "it_IT"
        sms_list = self.env["sms.marketing.list"].create(
            {"name": "Counter list", "contact_ids": [(0, 0, {"name": "Anna", "phone": "+39 347 123 4567"})]}
        )
        mailing = (
            self.env["sms.marketing.mailing"]
            .with_user(self.user_marketing)
            .create(
                {
                    "subject": "Counter",
                    "list_ids": [(6, 0, sms_list.ids)],
                    "include_optout": False,
                    "body": "Saldi di primavera: 20% su tutto!",
                }
            )
        )
        self.start_tour(
            f"/web#model=sms.marketing.mailing&id={mailing.id}&view_type=form",
            "sms_marketing_custom_ab_version_counter",
            login=self.user_marketing.login,
        )
        self.assertTrue(mailing.ab_testing)
        a, b = mailing.variant_ids.sorted(lambda v: (not v.is_main, v.sequence, v.id))
        self.assertEqual(a.body, "Saldi di primavera: 25% su tutto il negozio!")
        self.assertEqual(b.body, "Solo oggi: 40% di sconto")
