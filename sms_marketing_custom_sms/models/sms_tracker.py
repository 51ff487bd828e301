from odoo import fields, models


class SmsTracker(models.Model):
    _inherit = "sms.tracker"

    sms_marketing_gateway_id = fields.Many2one(
        "sms.marketing.gateway",
        string="SMS Gateway",
        readonly=True,
        ondelete="set null",
        index="btree_not_null",
        help="The gateway that sent the SMS: only its delivery reports move this tracker.",
    )
