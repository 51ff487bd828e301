from odoo import fields, models


class SmsMarketingCreditMove(models.Model):
    _name = "sms.marketing.credit.move"
    _description = "SMS Credit Ledger Entry"
    _order = "id desc"

    gateway_id = fields.Many2one("sms.marketing.gateway", required=True, ondelete="cascade", index=True)
    mailing_id = fields.Many2one("sms.marketing.mailing", ondelete="set null", index=True)
    move_type = fields.Selection(
        [("purchase", "Purchase"), ("reservation", "Reservation"), ("spend", "Spend"), ("refund", "Refund")],
        required=True,
    )
    amount = fields.Float(digits=(16, 4), required=True)
