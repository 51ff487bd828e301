from odoo import fields, models


class SmsMarketingList(models.Model):
    _name = "sms.marketing.list"
    _description = "SMS Mailing List"
    _order = "name, id"

    name = fields.Char(required=True, translate=False)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    subscription_ids = fields.One2many("sms.marketing.subscription", "list_id", string="Subscriptions")
    contact_ids = fields.Many2many(
        "sms.marketing.contact", "sms_marketing_subscription", "list_id", "contact_id", string="Contacts"
    )
