from odoo import fields, models


class SmsMarketingContact(models.Model):
    _name = "sms.marketing.contact"
    _description = "SMS Mailing Contact"
    _order = "name, id"

    name = fields.Char()
    phone = fields.Char(help="The number as typed or imported.")
    country_id = fields.Many2one("res.country")
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    phone_sanitized = fields.Char(
        string="Normalised Number", index=True, readonly=True, help="E.164 form; empty when the number is invalid."
    )
    subscription_ids = fields.One2many("sms.marketing.subscription", "contact_id", string="Subscriptions")
    list_ids = fields.Many2many(
        "sms.marketing.list", "sms_marketing_subscription", "contact_id", "list_id", string="Mailing Lists"
    )
