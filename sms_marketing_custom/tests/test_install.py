from odoo.tests import HttpCase, tagged

from .common import SmsMarketingCase

MODELS = [
    "sms.marketing.mailing",
    "sms.marketing.list",
    "sms.marketing.contact",
    "sms.marketing.subscription",
    "sms.marketing.blacklist",
    "sms.marketing.trace",
    "sms.marketing.link",
    "sms.marketing.link.click",
    "sms.marketing.gateway",
    "sms.marketing.gateway.price",
    "sms.marketing.credit.move",
    "sms.marketing.mailing.test",
]


@tagged("post_install", "-at_install")
class TestInstall(SmsMarketingCase):
    def test_models_and_access_rules_loaded(self):
        for model in MODELS:
            self.assertIn(model, self.env, model)
            accesses = self.env["ir.model.access"].search([("model_id.model", "=", model)])
            self.assertTrue(accesses, f"no access rule for {model}")

    def test_groups(self):
        user_group = self.env.ref("sms_marketing_custom.group_sms_marketing_user")
        manager_group = self.env.ref("sms_marketing_custom.group_sms_marketing_manager")
        self.assertIn(user_group, manager_group.implied_ids)
        self.assertIn(self.env.ref("base.user_admin"), manager_group.users)
        self.assertTrue(self.user_manager.has_group("sms_marketing_custom.group_sms_marketing_user"))
        self.assertEqual(user_group.category_id.parent_id, self.env.ref("base.module_category_marketing"))

    def test_menus_reachable_by_marketing_user(self):
        root = self.env.ref("sms_marketing_custom.sms_marketing_menu_root")
        visible = self.env["ir.ui.menu"].with_user(self.user_marketing)._visible_menu_ids()
        self.assertIn(root.id, visible)
        for xmlid in ("sms_marketing_mailing_menu", "sms_marketing_list_menu", "sms_marketing_contact_menu"):
            menu = self.env.ref(f"sms_marketing_custom.{xmlid}")
            self.assertIn(menu.id, visible, xmlid)
            model = menu.action.res_model
            # the action's model is readable by the marketer
            self.env[model].with_user(self.user_marketing).search([], limit=1)
        gateway_menu = self.env.ref("sms_marketing_custom.sms_marketing_gateway_menu")
        self.assertNotIn(gateway_menu.id, visible, "gateways are configured by managers only")

    def test_menus_hidden_from_other_employees(self):
        root = self.env.ref("sms_marketing_custom.sms_marketing_menu_root")
        self.assertNotIn(root.id, self.env["ir.ui.menu"].with_user(self.user_employee)._visible_menu_ids())

    def test_manifest(self):
        module = self.env["ir.module.module"].search([("name", "=", "sms_marketing_custom")])
        self.assertTrue(module.application)
        self.assertTrue(module.installed_version.startswith("17.0."))
        self.assertEqual(
            set(module.dependencies_id.mapped("name")), {"base", "mail", "web"}, "stands alone on base, mail, web"
        )


@tagged("post_install", "-at_install")
class TestAppTour(HttpCase):
    def test_tour_open_app(self):
        self.start_tour("/web", "sms_marketing_custom_open_app", login="admin")
