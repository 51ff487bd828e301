from odoo.addons.sms_marketing_custom.tests.common import SmsMarketingCase

SNIPPET_PAGE = """<t t-name="sms_marketing_custom_website.test_sms_offers">
    <t t-call="website.layout">
        <div id="wrap" class="oe_structure">
            <section class="s_sms_marketing_signup pt48 pb48" data-list-id="%(list_id)s">
                <div class="container"><h2>Get our SMS offers</h2><div class="o_sms_marketing_signup_form"/></div>
            </section>
        </div>
    </t>
</t>"""


class WebsiteSignupCase(SmsMarketingCase):
    """A list offered on the website, a published page with the block, the sandbox gateway with credits."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("web.base.url", "http://127.0.0.1:9")
        cls.belgium = cls.env.ref("base.be")
        cls.website = cls.env["website"].get_current_website()
        cls.website.company_id.country_id = cls.belgium
        cls.sms_list = cls.env["sms.marketing.list"].create(
            {
                "name": "VIP offers",
                "website_signup": True,
                "website_consent_text": "Yes, send me VIP offers by SMS. Reply STOP to stop.",
            }
        )
        cls.hidden_list = cls.env["sms.marketing.list"].create({"name": "Staff"})
        view = cls.env["ir.ui.view"].create(
            {
                "name": "SMS offers",
                "type": "qweb",
                "key": "sms_marketing_custom_website.test_sms_offers",
                "arch": SNIPPET_PAGE % {"list_id": cls.sms_list.id},
            }
        )
        cls.env["website.page"].create(
            {"view_id": view.id, "url": "/sms-offers", "is_published": True, "website_id": cls.website.id}
        )
        cls.gateway = cls.env.ref("sms_marketing_custom.sms_marketing_gateway_sandbox")
        cls.gateway.write({"sandbox_delivery": False, "sandbox_failure_rate": 0, "sandbox_undelivered_rate": 0})
        cls.gateway._change_balance(100.0, "purchase")
        cls.Signup = cls.env["website.sms.signup"]
