from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    sms_marketing_frequency_cap_count = fields.Integer(
        related="company_id.sms_marketing_frequency_cap_count", readonly=False
    )
    sms_marketing_frequency_cap_hours = fields.Integer(
        related="company_id.sms_marketing_frequency_cap_hours", readonly=False
    )
    sms_marketing_quiet_hours = fields.Boolean(related="company_id.sms_marketing_quiet_hours", readonly=False)
    sms_marketing_window_start = fields.Float(related="company_id.sms_marketing_window_start", readonly=False)
    sms_marketing_window_end = fields.Float(related="company_id.sms_marketing_window_end", readonly=False)
    sms_marketing_window_no_sunday = fields.Boolean(related="company_id.sms_marketing_window_no_sunday", readonly=False)
