from odoo.tests import TransactionCase, new_test_user


class SmsMarketingCase(TransactionCase):
    """Shared fixtures: a marketing user, a manager, and a user without the app."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_marketing = new_test_user(
            cls.env, login="sms_marketer", groups="base.group_user,sms_marketing_custom.group_sms_marketing_user"
        )
        cls.user_manager = new_test_user(
            cls.env, login="sms_manager", groups="base.group_user,sms_marketing_custom.group_sms_marketing_manager"
        )
        cls.user_employee = new_test_user(cls.env, login="sms_employee", groups="base.group_user")
