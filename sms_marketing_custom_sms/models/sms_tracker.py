from odoo import models

from .sms_sms import sent_by_gateway_field


class SmsTracker(models.Model):
    _inherit = "sms.tracker"

    sms_marketing_gateway_id = sent_by_gateway_field(
        "The gateway that sent the SMS: only its reports move this tracker."
    )
