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


class SmsMarketingMailingCase(SmsMarketingCase):
    """A list of three contacts (US, US, BE), a gateway with prices, and a draft mailing to the list."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.country_us = cls.env.ref("base.us")
        cls.country_be = cls.env.ref("base.be")
        cls.mailing_list = cls.env["sms.marketing.list"].create({"name": "Customers"})
        subscribed = {"list_ids": [(4, cls.mailing_list.id)]}
        cls.contacts = cls.env["sms.marketing.contact"].create(
            [
                {"name": "Ann", "phone": "+1 202-555-0143", "country_id": cls.country_us.id, **subscribed},
                {"name": "Bob", "phone": "+1 202-555-0178", "country_id": cls.country_us.id, **subscribed},
                {"name": "Chloé", "phone": "+32 470 98 76 54", "country_id": cls.country_be.id, **subscribed},
            ]
        )
        cls.gateway = cls.env["sms.marketing.gateway"].create(
            {"name": "Test gateway", "provider": "sandbox", "balance": 1000.0}
        )
        cls.env["sms.marketing.gateway.price"].create(
            [
                {"gateway_id": cls.gateway.id, "country_id": cls.country_us.id, "price": 1.0},
                {"gateway_id": cls.gateway.id, "country_id": cls.country_be.id, "price": 2.5},
                {"gateway_id": cls.gateway.id, "country_id": False, "price": 3.0},
            ]
        )
        cls.mailing = (
            cls.env["sms.marketing.mailing"]
            .with_user(cls.user_marketing)
            .create(
                {
                    "subject": "Spring sale",
                    "body": "Spring sale: 20% off today!",
                    "list_ids": [(6, 0, cls.mailing_list.ids)],
                    "gateway_id": cls.gateway.id,
                    "include_optout": False,
                }
            )
        )
