from datetime import datetime, timedelta

from odoo.addons.sms_marketing_custom.tests.common import SmsMarketingCase
from odoo.addons.sms_marketing_custom_sale.models.sms_marketing_campaign_report import ATTRIBUTION_DAYS_PARAM
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

SENT = datetime(2026, 3, 2, 9, 0, 0)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


@tagged("post_install", "-at_install")
class TestRevenueAttribution(SmsMarketingCase):
    """Orders are a mailing's by its UTM source, a campaign that does not contradict, and the window
    [schedule date, + N days) (models/sms_marketing_campaign_report.py)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner"].create({"name": "SMS customer"})
        cls.product = cls.env["product.product"].create({"name": "Umbrella", "list_price": 100.0})
        cls.campaign, cls.other_campaign = cls.env["sms.marketing.campaign"].create(
            [{"name": "Rainy days"}, {"name": "Sunny days"}]
        )
        cls.mailing, cls.mailing_2, cls.mailing_other = cls.env["sms.marketing.mailing"].create(
            [
                {"subject": "Rain today", "body": "Hi", "campaign_id": cls.campaign.id, "schedule_date": SENT},
                {"subject": "Rain again", "body": "Hi", "campaign_id": cls.campaign.id, "schedule_date": SENT},
                {"subject": "Sun", "body": "Hi", "campaign_id": cls.other_campaign.id, "schedule_date": SENT},
            ]
        )
        cls.salesman = new_test_user(
            cls.env,
            login="sms_salesman",
            groups="base.group_user,sales_team.group_sale_salesman_all_leads,sms_marketing_custom.group_sms_marketing_user",
        )

    def _order(self, mailing, created, amount=100.0, confirm=False, campaign=None, source=None):
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "source_id": (source or mailing.utm_source_id).id,
                "campaign_id": (campaign if campaign is not None else mailing.utm_campaign_id).id,
                "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": 1, "price_unit": amount})],
            }
        )
        if confirm:
            order.action_confirm()
        self.env.flush_all()
        self.env.cr.execute("UPDATE sale_order SET create_date = %s WHERE id = %s", [created, order.id])
        self.env.invalidate_all()
        return order

    def _figures(self, record):
        record.invalidate_recordset()
        return record.sale_quotation_count, record.sale_order_count, record.sale_revenue

    def test_window_edges(self):
        self._order(self.mailing, SENT, amount=1.0, confirm=True)  # at the start: counts
        self._order(self.mailing, SENT - SECOND, amount=2.0, confirm=True)  # before the SMS: no
        self._order(self.mailing, SENT + 30 * DAY - SECOND, amount=4.0, confirm=True)  # N days - 1 s: counts
        self._order(self.mailing, SENT + 30 * DAY, amount=8.0, confirm=True)  # N days: no (half-open)
        self._order(self.mailing, SENT + 30 * DAY + SECOND, amount=16.0, confirm=True)  # N days + 1 s: no
        self.assertEqual(self._figures(self.mailing), (0, 2, 5.0))
        # N is a system parameter
        self.env["ir.config_parameter"].sudo().set_param(ATTRIBUTION_DAYS_PARAM, "31")
        self.assertEqual(self._figures(self.mailing), (0, 4, 29.0))
        self.env["ir.config_parameter"].sudo().set_param(ATTRIBUTION_DAYS_PARAM, "soon")  # not a number: 30
        self.assertEqual(self._figures(self.mailing), (0, 2, 5.0))

    def test_utm_rules(self):
        self._order(self.mailing, SENT + DAY, amount=1.0, confirm=True)
        # another campaign's UTM campaign on the order: that campaign brought it
        self._order(self.mailing, SENT + DAY, amount=2.0, confirm=True, campaign=self.other_campaign.utm_campaign_id)
        # no UTM campaign on the order (a salesperson set the source only): the source decides
        self._order(self.mailing, SENT + DAY, amount=4.0, confirm=True, campaign=self.env["utm.campaign"])
        # the same campaign but another mailing's source: the other mailing's
        self._order(self.mailing_2, SENT + DAY, amount=8.0, confirm=True)
        # a source of no mailing
        self._order(
            self.mailing, SENT + DAY, amount=32.0, confirm=True, source=self.env["utm.source"].create({"name": "Ads"})
        )
        self.assertEqual(self._figures(self.mailing), (0, 2, 5.0))
        self.assertEqual(self._figures(self.mailing_2), (0, 1, 8.0))
        self.assertEqual(self._figures(self.mailing_other), (0, 0, 0.0))

    def test_states_currency_and_campaign_sum(self):
        self._order(self.mailing, SENT + DAY, amount=10.0)  # quotation
        sent = self._order(self.mailing, SENT + DAY, amount=20.0)
        sent.action_quotation_sent()
        self._order(self.mailing, SENT + DAY, amount=40.0).action_cancel()  # counts nowhere
        self._order(self.mailing, SENT + DAY, amount=100.0, confirm=True)
        foreign = self._order(self.mailing_2, SENT + DAY, amount=300.0, confirm=True)
        # an order in another currency counts in the company's: 300 at 2 per company unit is 150
        self.env.cr.execute("UPDATE sale_order SET currency_rate = 2.0 WHERE id = %s", [foreign.id])
        self.assertEqual(self._figures(self.mailing), (2, 1, 100.0))
        self.assertEqual(self._figures(self.mailing_2), (0, 1, 150.0))
        # the campaign is its mailings summed, in the form and in the analysis
        self.assertEqual(self._figures(self.campaign), (2, 2, 250.0))
        self.assertEqual(self._figures(self.other_campaign), (0, 0, 0.0))
        Report = self.env["sms.marketing.campaign.report"].with_user(self.salesman)
        [(campaign, quotations, orders, revenue)] = Report._read_group(
            [("campaign_id", "=", self.campaign.id)],
            ["campaign_id"],
            ["sale_quotation_count:sum", "sale_order_count:sum", "sale_revenue:sum"],
        )
        self.assertEqual((campaign, quotations, orders, revenue), (self.campaign, 2, 2, 250.0))

    def test_set_wise_and_rights(self):
        for mailing in (self.mailing, self.mailing_2, self.mailing_other):
            self._order(mailing, SENT + DAY, confirm=True)
        mailings = (self.mailing | self.mailing_2 | self.mailing_other).with_user(self.salesman)

        def queries(records):
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            records.mapped("sale_revenue")
            return self.env.cr.sql_log_count - before

        queries(mailings)  # warm the caches of the registry (currencies, companies)
        self.assertEqual(queries(mailings), queries(mailings[:1]), "one query for the batch, not one per mailing")
        # a marketer with Sales rights sees the figures and the lists of orders
        self.assertEqual(mailings.mapped("sale_order_count"), [1, 1, 1])
        action = self.mailing.with_user(self.salesman).action_view_sale_orders()
        orders = self.env["sale.order"].with_user(self.salesman).search(action["domain"])
        self.assertEqual(orders.source_id, self.mailing.utm_source_id)
        quotations = self.campaign.with_user(self.salesman).action_view_sale_quotations()
        self.assertFalse(self.env["sale.order"].search(quotations["domain"]))

    # ------------------------------------------------------------------ attacks
    def test_attack_marketer_reads_revenue(self):
        """Sales figures are for those who may see sales: a marketer without Sales rights reads none."""
        self._order(self.mailing, SENT + DAY, confirm=True)
        for record in (self.mailing, self.campaign):
            with self.assertRaises(AccessError):
                record.with_user(self.user_marketing).read(["sale_revenue"])
        Report = self.env["sms.marketing.campaign.report"].with_user(self.user_marketing)
        with self.assertRaises(AccessError):
            Report.read_group([("mailing_id", "=", self.mailing.id)], ["sale_revenue:sum"], ["mailing_id"])

    def test_attack_marketer_points_a_draft_at_another_source(self):
        """A marketer cannot give a mailing another UTM source (with a schedule date of their choice, any
        period of that source's sales would show on the mailing), on create or on write."""
        ads = self.env["utm.source"].create({"name": "Ads"})
        draft = self.env["sms.marketing.mailing"].with_user(self.salesman).create({"subject": "Draft", "body": "Hi"})
        self.assertTrue(draft.utm_source_id)  # its own source, created for it
        with self.assertRaises(AccessError):
            draft.write({"utm_source_id": ads.id, "schedule_date": SENT})
        with self.assertRaises(AccessError):
            self.env["sms.marketing.mailing"].with_user(self.salesman).create(
                {"subject": "Draft 2", "body": "Hi", "utm_source_id": ads.id}
            )
        manager = new_test_user(
            self.env,
            login="sms_manager_sales",
            groups="sales_team.group_sale_salesman,sms_marketing_custom.group_sms_marketing_manager",
        )
        draft.with_user(manager).utm_source_id = ads
        self.assertEqual(draft.utm_source_id, ads)

    def test_attack_orders_of_another_companys_mailing(self):
        """The lists of orders open only for mailings and campaigns the user may read: called over RPC with
        the id of another company's mailing, they do not tell which of that company's orders it brought."""
        campaign_b = self.env["sms.marketing.campaign"].create({"name": "B's days", "company_id": self.company_b.id})
        mailing_b = self.env["sms.marketing.mailing"].create(
            {
                "subject": "B's rain",
                "body": "Hi",
                "campaign_id": campaign_b.id,
                "company_id": self.company_b.id,
                "schedule_date": SENT,
            }
        )
        order = self._order(mailing_b, SENT + DAY, confirm=True)
        self.env.cr.execute("UPDATE sale_order SET company_id = %s WHERE id = %s", [self.company_b.id, order.id])
        self.assertIn(order.id, mailing_b.action_view_sale_orders()["domain"][0][2], "the mailing has an order")
        for record in (mailing_b, campaign_b, self.mailing | mailing_b):
            for action in ("action_view_sale_orders", "action_view_sale_quotations"):
                with self.subTest(record=record, action=action), self.assertRaises(AccessError):
                    getattr(record.with_user(self.salesman), action)()

    def test_attack_orders_of_another_company(self):
        """An order of another company with the mailing's source is not the mailing's."""
        self._order(self.mailing, SENT + DAY, amount=1.0, confirm=True)
        other = self._order(self.mailing, SENT + DAY, amount=1000.0)
        self.env.cr.execute(
            "UPDATE sale_order SET company_id = %s, state = 'sale' WHERE id = %s", [self.company_b.id, other.id]
        )
        self.env.invalidate_all()
        self.assertEqual(self._figures(self.mailing), (0, 1, 1.0))
        action = self.mailing.with_user(self.salesman).action_view_sale_orders()
        self.assertNotIn(other.id, action["domain"][0][2])
