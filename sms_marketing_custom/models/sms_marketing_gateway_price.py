from odoo import fields, models


class SmsMarketingGatewayPrice(models.Model):
    _name = "sms.marketing.gateway.price"
    _description = "SMS Price per Country"
    _order = "gateway_id, country_id"
    _rec_name = "country_id"

    gateway_id = fields.Many2one("sms.marketing.gateway", required=True, ondelete="cascade", index=True)
    country_id = fields.Many2one("res.country", help="Empty: price for every other country.")
    country_code = fields.Char(related="country_id.code")
    price = fields.Float(string="Credits per SMS Part", digits=(16, 4), required=True)

    _sql_constraints = [
        ("gateway_country_unique", "unique(gateway_id, country_id)", "A gateway has one price per country."),
        ("price_positive", "CHECK(price >= 0)", "A price cannot be negative."),
    ]
