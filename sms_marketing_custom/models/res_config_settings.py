from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    sms_marketing_frequency_cap_count = fields.Integer(
        related="company_id.sms_marketing_frequency_cap_count", readonly=False
    )
    sms_marketing_frequency_cap_hours = fields.Integer(
        related="company_id.sms_marketing_frequency_cap_hours", readonly=False
    )
