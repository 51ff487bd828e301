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


class SmsMarketingAudienceCase(SmsMarketingCase):
    """Audience fixtures: a company in the United States, a French and a Belgian contact helper."""
class SmsMarketingMailingCase(SmsMarketingCase):
    """A list of three contacts (US, US, BE), a gateway with prices, and a draft mailing to the list."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.country_us = cls.env.ref("base.us")
        cls.country_fr = cls.env.ref("base.fr")
        cls.country_be = cls.env.ref("base.be")
        cls.env.company.country_id = cls.country_us
        cls.user_portal = new_test_user(cls.env, login="sms_portal", groups="base.group_portal")
        cls.user_public = cls.env.ref("base.public_user")

    @classmethod
    def _create_contacts(cls, values_list, lists=None):
        """Contacts from (name, phone, country or None) tuples, subscribed to ``lists``."""
        return cls.env["sms.marketing.contact"].create(
            [
                {
                    "name": name,
                    "phone": phone,
                    "country_id": country.id if country else False,
                    "list_ids": [(6, 0, lists.ids)] if lists else [],
                }
                for name, phone, country in values_list
            ]
        )

    def _mailing_stats(self, **values):
        mailing = self.env["sms.marketing.mailing"].create({"subject": "Audience test", "body": "Hello", **values})
        return mailing, mailing._get_recipient_statistics()
        cls.country_be = cls.env.ref("base.be")
        cls.mailing_list = cls.env["sms.marketing.list"].create({"name": "Customers"})
        subscribed = {"list_ids": [(4, cls.mailing_list.id)]}
        cls.contacts = cls.env["sms.marketing.contact"].create(
            [
                {"name": "Ann", "phone": "+1 202-555-0143", "country_id": cls.country_us.id, **subscribed},
                {"name": "Bob", "phone": "+1 202-555-0178", "country_id": cls.country_us.id, **subscribed},
                {"name": "Chloé", "phone": "+32 470 12 34 56", "country_id": cls.country_be.id, **subscribed},
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
