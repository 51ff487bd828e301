from odoo import api, fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    # Frequency cap ("smart sending"): defaults of the company's new mailings.
    sms_marketing_frequency_cap_count = fields.Integer(
        string="SMS Frequency Cap",
        default=0,
        help="Skip a number that received at least this many marketing SMS in the period. 0: no cap.",
    )
    sms_marketing_frequency_cap_hours = fields.Integer(
        string="SMS Frequency Cap Period (hours)",
        default=24,
        help="The period of the frequency cap, in hours.",
    )

    @api.constrains("sms_marketing_frequency_cap_count", "sms_marketing_frequency_cap_hours")
    def _check_sms_marketing_frequency_cap(self):
        self.env["sms.marketing.mailing"]._check_frequency_cap_values(
            self, "sms_marketing_frequency_cap_count", "sms_marketing_frequency_cap_hours"
        )
