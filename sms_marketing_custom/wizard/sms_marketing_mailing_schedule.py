from odoo import _, fields, models
from odoo.exceptions import UserError


class SmsMarketingMailingSchedule(models.TransientModel):
    """Asks when to send a mailing (the date is typed and shown in the user's time zone)."""

    _name = "sms.marketing.mailing.schedule"
    _description = "Schedule an SMS Mailing"

    mailing_id = fields.Many2one("sms.marketing.mailing", required=True, ondelete="cascade")
    schedule_date = fields.Datetime(string="Send on", required=True)

    def action_schedule(self):
        self.ensure_one()
        if self.schedule_date < fields.Datetime.now():
            raise UserError(_("Choose a date and time in the future."))
        self.mailing_id.write({"schedule_date": self.schedule_date})
        return self.mailing_id.action_schedule()
