from odoo import fields, models


class SmsMarketingGatewayPrice(models.Model):
    _name = "sms.marketing.gateway.price"
    _description = "SMS Price per Country"
    _order = "country_id"

    gateway_id = fields.Many2one("sms.marketing.gateway", required=True, ondelete="cascade", index=True)
    country_id = fields.Many2one("res.country", help="Empty: price for every other country.")
    price = fields.Float(string="Credits per Segment", digits=(16, 4), required=True)
