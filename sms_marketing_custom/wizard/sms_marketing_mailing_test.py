from odoo import fields, models


class SmsMarketingMailingTest(models.TransientModel):
    _name = "sms.marketing.mailing.test"
    _description = "Test SMS Mailing"

    mailing_id = fields.Many2one("sms.marketing.mailing", required=True, ondelete="cascade")
    numbers = fields.Char(required=True, help="Comma-separated phone numbers.")
