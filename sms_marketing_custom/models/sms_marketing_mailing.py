from odoo import fields, models


class SmsMarketingMailing(models.Model):
    _name = "sms.marketing.mailing"
    _description = "SMS Mailing"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _rec_name = "subject"
    _order = "id desc"

    subject = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    body = fields.Text(string="SMS Content")
    user_id = fields.Many2one("res.users", string="Responsible", default=lambda self: self.env.user, tracking=True)
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("scheduled", "Scheduled"),
            ("sending", "Sending"),
            ("paused", "Paused"),
            ("done", "Sent"),
            ("canceled", "Canceled"),
        ],
        default="draft",
        required=True,
        tracking=True,
        copy=False,
    )
    recipient_model_id = fields.Many2one(
        "ir.model",
        string="Recipients",
        ondelete="cascade",
        default=lambda self: self.env["ir.model"]._get_id("sms.marketing.contact"),
    )
    recipient_model = fields.Char(related="recipient_model_id.model", string="Recipients Model")
    list_ids = fields.Many2many("sms.marketing.list", string="Mailing Lists")
    domain = fields.Char(default="[]")
    include_optout = fields.Boolean(string="Include opt-out link", default=True)
    schedule_type = fields.Selection([("now", "Send now"), ("scheduled", "On a date")], default="now", required=True)
    schedule_date = fields.Datetime(tracking=True, copy=False)
    gateway_id = fields.Many2one("sms.marketing.gateway")
    trace_ids = fields.One2many("sms.marketing.trace", "mailing_id", string="Traces")

    # ------------------------------------------------------------------ sending
    def _cron_process_queue(self):
        """Entry point of the queue cron (implemented by the sending engine)."""
        return True
