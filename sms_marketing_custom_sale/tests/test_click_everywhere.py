"""With the Sales bridge: every menu, action and view type of the app opens without error (Odoo's click bot,
as administrator and as marketer), and so do what the bridge adds: the UTM group and the Quotations and
Revenue buttons of the mailing and the campaign, and the orders they open."""

from odoo.addons.sms_marketing_custom.tests.common import ClickEverywhereMixin
from odoo.tests import HttpCase, new_test_user, tagged

MARKETER_GROUPS = "base.group_user,sms_marketing_custom.group_sms_marketing_user"
# the bridge's figures are for Sales users: a marketer who sells sees them
SELLING_MARKETER_GROUPS = f"{MARKETER_GROUPS},sales_team.group_sale_salesman"


@tagged("post_install", "-at_install")
class TestSaleClickEverywhere(ClickEverywhereMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # without demo data: a campaign with a mailing and an order it brought, so that lists and forms show them
        cls.campaign = cls.env["sms.marketing.campaign"].create({"name": "Click campaign"})
        sms_list = cls.env["sms.marketing.list"].create({"name": "Click list"})
        cls.mailing = cls.env["sms.marketing.mailing"].create(
            {
                "subject": "Click mailing",
                "body": "Hi",
                "campaign_id": cls.campaign.id,
                "list_ids": [(6, 0, sms_list.ids)],
            }
        )
        # sent: a mailing's stat buttons show once it has left the draft
        cls.env.cr.execute("UPDATE sms_marketing_mailing SET state = 'done' WHERE id = %s", [cls.mailing.id])
        cls.env.invalidate_all()
        customer = cls.env["res.partner"].create({"name": "Click customer"})
        product = cls.env["product.product"].create({"name": "Click product", "list_price": 10.0})
        cls.env["sale.order"].create(
            {
                "partner_id": customer.id,
                "source_id": cls.mailing.utm_source_id.id,
                "campaign_id": cls.campaign.utm_campaign_id.id,
                "order_line": [(0, 0, {"product_id": product.id})],
            }
        )
        cls.marketer = new_test_user(cls.env, "smc_sale_click_marketer", groups=MARKETER_GROUPS)
        cls.selling_marketer = new_test_user(cls.env, "smc_sale_click_seller", groups=SELLING_MARKETER_GROUPS)

    def test_as_administrator(self):
        self._click_everywhere("admin")

    def test_as_marketer(self):
        self._click_everywhere(self.marketer.login)
        self._open_page(
            self.marketer.login,
            f"/web#model=sms.marketing.mailing&id={self.mailing.id}&view_type=form",
            ".o_form_view",
            "a.nav-link[name='settings']",  # the UTM group is in the Settings tab
            ".o_form_view [name='utm_campaign_id']",
        )

    def test_buttons(self):
        for login in ("admin", self.selling_marketer.login):
            for model, record in (("sms.marketing.mailing", self.mailing), ("sms.marketing.campaign", self.campaign)):
                url = f"/web#model={model}&id={record.id}&view_type=form"
                for button in ("action_view_sale_quotations", "action_view_sale_orders"):
                    with self.subTest(login=login, model=model, button=button):
                        self._open_page(login, url, ".o_form_view", f"button[name='{button}']", ".o_list_view")
