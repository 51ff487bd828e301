import uuid

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


class SmsMarketingLinksCommon:
    """Link tracking fixtures: two lists, three contacts, a list mailing and a model mailing with sent traces."""

    BODY = (
        "Summer sale! https://shop.example.com/sale?utm_source=sms&promo=SUMMER, "
        "again https://shop.example.com/sale?utm_source=sms&promo=SUMMER. "
        "Our shop (https://www.example.org/shop)."
    )

    @classmethod
    def _setup_links_fixtures(cls):
        env = cls.env(su=True)
        cls.list_news, cls.list_promo, cls.list_other = env["sms.marketing.list"].create(
            [{"name": "Newsletter"}, {"name": "Promotions"}, {"name": "Partners"}]
        )
        cls.contacts = env["sms.marketing.contact"].create(
            [
                {"name": f"Contact {index}", "phone": number, "phone_sanitized": number}
                for index, number in enumerate(("+33612345678", "+33698765432", "+14155550100"))
            ]
        )
        env["sms.marketing.subscription"].create(
            [
                {"contact_id": contact.id, "list_id": mailing_list.id}
                for contact in cls.contacts
                for mailing_list in (cls.list_news, cls.list_promo, cls.list_other)
            ]
        )
        cls.mailing = env["sms.marketing.mailing"].create(
            {
                "subject": "Summer sale",
                "body": cls.BODY,
                "list_ids": [(6, 0, (cls.list_news | cls.list_promo).ids)],
                "include_optout": True,
            }
        )
        cls.mailing_model = env["sms.marketing.mailing"].create(
            {
                "subject": "Partners news",
                "body": "News at https://news.example.com/",
                "recipient_model_id": env["ir.model"]._get_id("res.partner"),
                "include_optout": True,
            }
        )
        cls.traces = cls._create_traces(cls.mailing, cls.contacts)
        cls.trace_model = cls._create_traces(cls.mailing_model, cls.contacts[:1], res_model="res.partner")

    @classmethod
    def _create_traces(cls, mailing, contacts, res_model="sms.marketing.contact"):
        return (
            cls.env["sms.marketing.trace"]
            .sudo()
            .create(
                [
                    {
                        "mailing_id": mailing.id,
                        "res_model": res_model,
                        "res_id": contact.id,
                        "number": contact.phone_sanitized,
                        "uuid": uuid.uuid4().hex,
                        "state": "sent",
                    }
                    for contact in contacts
                ]
            )
        )
