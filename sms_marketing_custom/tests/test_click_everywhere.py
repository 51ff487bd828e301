"""Every menu, action and view type of the app opens without error with the demo data, as an
administrator, a manager and a marketer: Odoo's own click bot (web's ``clickbot``) on our app's menus."""

from odoo.tests import HttpCase, new_test_user, tagged

from .common import ClickEverywhereMixin

MANAGER_GROUPS = "base.group_user,sms_marketing_custom.group_sms_marketing_manager"
MARKETER_GROUPS = "base.group_user,sms_marketing_custom.group_sms_marketing_user"


@tagged("post_install", "-at_install")
class TestClickEverywhere(ClickEverywhereMixin, HttpCase):
    def test_as_administrator(self):
        # the point is the demo data: every menu opens on the records `make run` shows
        self.assertTrue(self.env.ref("sms_marketing_custom.sms_marketing_mailing_welcome_demo", False), "demo data")
        self._click_everywhere("admin")

    def test_as_manager(self):
        new_test_user(self.env, "smc_click_manager", groups=MANAGER_GROUPS)
        self._click_everywhere("smc_click_manager")

    def test_as_marketer_in_italian(self):
        # the app's first users are Italian: the marketer clicks through it in Italian
        self.env["res.lang"]._activate_lang("it_IT")
        self.env["ir.module.module"].search([("name", "=", "sms_marketing_custom")])._update_translations(["it_IT"])
        new_test_user(self.env, "smc_click_marketer", groups=MARKETER_GROUPS, lang="it_IT")
        self._click_everywhere("smc_click_marketer")
