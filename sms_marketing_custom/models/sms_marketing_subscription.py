from odoo import fields, models


class SmsMarketingSubscription(models.Model):
    """A contact in a list; ``opt_out`` keeps the contact in the list but out of its mailings."""

    _name = "sms.marketing.subscription"
    _description = "SMS Mailing List Subscription"
    _table = "sms_marketing_subscription"
    _rec_name = "contact_id"

    contact_id = fields.Many2one("sms.marketing.contact", required=True, ondelete="cascade", index=True)
    list_id = fields.Many2one("sms.marketing.list", required=True, ondelete="cascade", index=True)
    opt_out = fields.Boolean(string="Opted Out")
    opt_out_date = fields.Datetime(string="Opted Out On", readonly=True)

    _sql_constraints = [
        ("contact_list_unique", "unique(contact_id, list_id)", "A contact is subscribed to a list only once."),
    ]

    def write(self, vals):
        if "opt_out" in vals:
            vals["opt_out_date"] = fields.Datetime.now() if vals["opt_out"] else False
        return super().write(vals)
