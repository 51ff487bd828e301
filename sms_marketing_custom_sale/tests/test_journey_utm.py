from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from odoo import fields
from odoo.addons.sms_marketing_custom.tests.common import SmsEngineCase
from odoo.addons.sms_marketing_custom.tests.test_journeys import JourneyMixin
from odoo.tests import tagged


@tagged("post_install", "-at_install")
class TestJourneyUtm(JourneyMixin, SmsEngineCase):
    """A journey step's SMS carry the journey's (or the step's) UTM campaign and medium and a source of
    their own mailing: its links add them, the orders placed from them are that mailing's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._make_contacts(2)
        cls.customer = cls.env["res.partner"].create({"name": "Journey customer"})
        cls.product = cls.env["product.product"].create({"name": "Welcome pack", "list_price": 40.0})

    def _utm_of(self, mailing):
        query = parse_qs(urlsplit(mailing._get_utm_url("https://shop.example.com/welcome")).query)
        return {key: value[0] for key, value in query.items()}

    def test_step_mailing_carries_the_journeys_utm_and_gets_the_orders(self):
        journey, steps = self._make_journey(
            [("welcome", {"step_type": "send", "body": "Welcome to the club!"}, None)],
            user=self.user_marketing,
        )
        self.assertEqual(journey.utm_campaign_id.title, "Welcome series")
        sms = self.env["sms.marketing.mailing"]._get_sms_utm_medium()
        self.assertEqual(journey.utm_medium_id, sms)
        journey.action_start()
        mailing = steps["welcome"].mailing_id
        self.assertTrue(mailing)
        self.assertEqual((mailing.utm_campaign_id, mailing.utm_medium_id), (journey.utm_campaign_id, sms))
        self.assertTrue(mailing.utm_source_id, "a source of its own: the step's orders are told apart")
        self.assertEqual(
            self._utm_of(mailing),
            {
                "utm_campaign": journey.utm_campaign_id.name,
                "utm_source": mailing.utm_source_id.name,
                "utm_medium": "SMS",
            },
        )
        # an order placed from the step's link (Odoo's UTM cookies on the order) is the step mailing's
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "source_id": mailing.utm_source_id.id,
                "campaign_id": mailing.utm_campaign_id.id,
                "medium_id": sms.id,
                "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": 1, "price_unit": 40.0})],
            }
        )
        order.action_confirm()
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE sale_order SET create_date = %s WHERE id = %s",
            [(mailing.schedule_date or fields.Datetime.now()) + timedelta(hours=1), order.id],
        )
        mailing.invalidate_recordset()
        self.assertEqual((mailing.sale_order_count, mailing.sale_revenue), (1, 40.0))

    def test_step_names_its_own_utm_campaign(self):
        journey, steps = self._make_journey(
            [("welcome", {"step_type": "send", "body": "Welcome to the club!"}, None)],
            user=self.user_marketing,
        )
        journey.action_start()
        step = steps["welcome"]
        own = self.env["utm.campaign"].create({"title": "Welcome coupon"})
        step.with_user(self.user_marketing).utm_campaign_id = own
        self.assertEqual(step.mailing_id.utm_campaign_id, own, "the next SMS of the step carry it")
        self.assertEqual(self._utm_of(step.mailing_id)["utm_campaign"], own.name)
        # the journey's campaign changes: a step with its own keeps it
        journey.utm_campaign_id = self.env["utm.campaign"].create({"title": "Club 2027"})
        self.assertEqual(step.mailing_id.utm_campaign_id, own)
