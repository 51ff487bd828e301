from datetime import timedelta

import pytz

from odoo import _, fields, models
from odoo.exceptions import UserError


class SmsMarketingMailingSchedule(models.TransientModel):
    """Asks when to send a mailing (the date is typed and shown in the user's time zone)."""

    _name = "sms.marketing.mailing.schedule"
    _description = "Schedule an SMS Mailing"

    def _default_schedule_date(self):
        """The next full hour of the user's clock, at least a quarter of an hour away (time to check it
        before the date is past): a date the marketer adjusts rather than types from nothing."""
        soon = fields.Datetime.context_timestamp(self, fields.Datetime.now() + timedelta(minutes=15))
        local = soon.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return local.astimezone(pytz.utc).replace(tzinfo=None)

    mailing_id = fields.Many2one("sms.marketing.mailing", required=True, ondelete="cascade")
    schedule_date = fields.Datetime(string="Send on", required=True, default=_default_schedule_date)

    def action_schedule(self):
        self.ensure_one()
        if self.schedule_date < fields.Datetime.now():
            raise UserError(_("Choose a date and time in the future."))
        self.mailing_id.write({"schedule_date": self.schedule_date})
        return self.mailing_id.action_schedule()
