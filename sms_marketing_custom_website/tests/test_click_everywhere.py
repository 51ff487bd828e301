"""With the Website bridge: every menu, action and view type of the app opens without error (Odoo's click bot,
as administrator and as marketer; Website Sign-ups among them), and so does the list's Website group."""

from odoo.addons.sms_marketing_custom.tests.common import ClickEverywhereMixin
from odoo.tests import HttpCase, new_test_user, tagged

MARKETER_GROUPS = "base.group_user,sms_marketing_custom.group_sms_marketing_user"


@tagged("post_install", "-at_install")
class TestWebsiteClickEverywhere(ClickEverywhereMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sms_list = cls.env["sms.marketing.list"].create(
            {"name": "Click list", "website_signup": True, "website_consent_text": "Yes, send me offers."}
        )
        cls.marketer = new_test_user(cls.env, "smc_website_click_marketer", groups=MARKETER_GROUPS)

    def test_as_administrator(self):
        self._click_everywhere("admin")
        self._open_page("admin", "/web#action=sms_marketing_custom_website.website_sms_signup_action", ".o_list_view")

    def test_as_marketer(self):
        self._click_everywhere(self.marketer.login)
        self._open_page(
            self.marketer.login,
            f"/web#model=sms.marketing.list&id={self.sms_list.id}&view_type=form",
            ".o_form_view [name='website_consent_text']",
        )
