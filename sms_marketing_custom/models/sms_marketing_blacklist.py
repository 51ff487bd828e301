from odoo import fields, models


class SmsMarketingBlacklist(models.Model):
    _name = "sms.marketing.blacklist"
    _description = "SMS Blacklist"
    _rec_name = "number"

    number = fields.Char(required=True, index=True, help="E.164 number that receives no marketing SMS.")
    source = fields.Selection(
        [("manual", "Manual"), ("optout_link", "Opt-out Link"), ("keyword", "STOP Keyword"), ("import", "Import")],
        default="manual",
        required=True,
    )
    active = fields.Boolean(default=True)

    _sql_constraints = [("number_unique", "unique(number)", "This number is already in the blacklist.")]
