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

    # Sending window ("quiet hours") in each recipient's local time: defaults of new mailings.
    sms_marketing_quiet_hours = fields.Boolean(
        string="SMS Sending Window",
        help="New mailings send only inside the window, in each recipient's time zone.",
    )
    sms_marketing_window_start = fields.Float(string="SMS Window Opens", default=9.0)
    sms_marketing_window_end = fields.Float(string="SMS Window Closes", default=20.0)
    sms_marketing_window_no_sunday = fields.Boolean(string="No SMS on Sundays")

    @api.constrains("sms_marketing_window_start", "sms_marketing_window_end")
    def _check_sms_marketing_window(self):
        self.env["sms.marketing.mailing"]._check_window_values(
            self, "sms_marketing_window_start", "sms_marketing_window_end"
        )

    @api.constrains("sms_marketing_frequency_cap_count", "sms_marketing_frequency_cap_hours")
    def _check_sms_marketing_frequency_cap(self):
        self.env["sms.marketing.mailing"]._check_frequency_cap_values(
            self, "sms_marketing_frequency_cap_count", "sms_marketing_frequency_cap_hours"
        )
