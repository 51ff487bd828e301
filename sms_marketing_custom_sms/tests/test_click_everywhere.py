"""With the bridge to Odoo's SMS: the app's settings (the bridge's switch, for Settings administrators) and
Odoo's SMS list and form (the gateway of each) open without error; the app's menus for a marketer."""

from odoo.addons.sms_marketing_custom.tests.common import ClickEverywhereMixin
from odoo.tests import HttpCase, new_test_user, tagged

MARKETER_GROUPS = "base.group_user,sms_marketing_custom.group_sms_marketing_user"


@tagged("post_install", "-at_install")
class TestSmsClickEverywhere(ClickEverywhereMixin, HttpCase):
    def test_as_administrator(self):
        self._open_page(
            "admin",
            "/web#action=sms_marketing_custom.sms_marketing_settings_action",
            ".o_form_view [name='sms_marketing_route_odoo_sms']",
        )
        sms = self.env["sms.sms"].create({"number": "+32470123456", "body": "Hi", "state": "error"})
        gateway_column = ".o_list_view th[data-name='sms_marketing_gateway_id']"
        self._open_page("admin", "/web#action=sms.sms_sms_action", gateway_column)
        self._open_page("admin", f"/web#model=sms.sms&id={sms.id}&view_type=form", ".o_form_view .o_form_sheet")

    def test_as_marketer(self):
        marketer = new_test_user(self.env, "smc_sms_click_marketer", groups=MARKETER_GROUPS)
        self._click_everywhere(marketer.login)
