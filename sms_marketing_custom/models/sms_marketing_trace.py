from odoo import fields, models


class SmsMarketingTrace(models.Model):
    _name = "sms.marketing.trace"
    _description = "SMS Trace"
    _order = "id desc"
    _rec_name = "number"

    mailing_id = fields.Many2one("sms.marketing.mailing", required=True, ondelete="cascade", index=True)
    res_model = fields.Char(index=True)
    res_id = fields.Integer()
    number = fields.Char(index=True)
    uuid = fields.Char(required=True, copy=False)
    body = fields.Text()
    segments = fields.Integer()
    cost = fields.Float(digits=(16, 4))
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("sent", "Sent"),
            ("delivered", "Delivered"),
            ("failed", "Failed"),
            ("canceled", "Canceled"),
        ],
        default="pending",
        required=True,
        index=True,
    )
    failure_reason = fields.Char()
    sent_at = fields.Datetime()
    delivered_at = fields.Datetime()

    _sql_constraints = [("uuid_unique", "unique(uuid)", "The trace UUID must be unique.")]
