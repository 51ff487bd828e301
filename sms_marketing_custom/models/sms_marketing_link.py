from odoo import fields, models


class SmsMarketingLink(models.Model):
    _name = "sms.marketing.link"
    _description = "SMS Tracked Link"
    _rec_name = "url"

    url = fields.Char(required=True)
    code = fields.Char(required=True, index=True, copy=False)
    mailing_id = fields.Many2one("sms.marketing.mailing", ondelete="cascade", index=True)
    click_ids = fields.One2many("sms.marketing.link.click", "link_id", string="Clicks")

    _sql_constraints = [("code_unique", "unique(code)", "The short code must be unique.")]
