from odoo import fields, models


class SmsMarketingGateway(models.Model):
    _name = "sms.marketing.gateway"
    _description = "SMS Credit Gateway"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    provider = fields.Selection([("sandbox", "Sandbox"), ("http", "HTTP (IAP-like)")], default="sandbox", required=True)
    endpoint_url = fields.Char()
    api_key = fields.Char(groups="base.group_system")
    webhook_secret = fields.Char(groups="base.group_system")
    balance = fields.Float(digits=(16, 4), readonly=True)
    price_ids = fields.One2many("sms.marketing.gateway.price", "gateway_id", string="Prices")
