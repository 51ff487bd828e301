from odoo import fields, models


class SmsMarketingLinkClick(models.Model):
    _name = "sms.marketing.link.click"
    _description = "SMS Link Click"
    _order = "id desc"

    link_id = fields.Many2one("sms.marketing.link", required=True, ondelete="cascade", index=True)
    trace_id = fields.Many2one("sms.marketing.trace", ondelete="set null", index=True)
    mailing_id = fields.Many2one(related="link_id.mailing_id", store=True)
