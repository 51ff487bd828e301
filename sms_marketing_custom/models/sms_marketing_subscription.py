from odoo import api, fields, models


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

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        now = fields.Datetime.now()
        # the date of an opt-out is the server's, as its consent event's
        vals_list = [{**vals, "opt_out_date": now if vals.get("opt_out") else False} for vals in vals_list]
        subscriptions = super().create(vals_list)
        self._invalidate_relations()
        subscriptions.filtered("opt_out")._log_consent("opt_out")
        subscriptions.filtered(lambda sub: not sub.opt_out)._log_consent("opt_in")
        return subscriptions

    def write(self, vals):
        vals = {fname: value for fname, value in vals.items() if fname != "opt_out_date"}  # the server's
        changed = self.browse()
        if "opt_out" in vals:
            vals["opt_out_date"] = fields.Datetime.now() if vals["opt_out"] else False
            changed = self.filtered(lambda sub: sub.opt_out != bool(vals["opt_out"]))
        result = super().write(vals)
        if {"contact_id", "list_id"} & set(vals):
            self._invalidate_relations()
        if changed:
            changed._log_consent("opt_out" if vals["opt_out"] else "opt_in")
        return result

    def _log_consent(self, event):
        """A change of ``opt_out`` is a consent event about that list (docs/design.md, consent log);
        its details are the server's (``ConsentDetails``), never the request's."""
        if not self:
            return
        Consent = self.env["sms.marketing.consent"]
        values = Consent._get_event_values(Consent._get_details())
        Consent._log(
            [
                {
                    **values,
                    "number": sub.contact_id.phone_sanitized,
                    "contact_id": sub.contact_id.id,
                    "list_id": sub.list_id.id,
                    "event": event,
                }
                for sub in self.sudo()
            ]
        )

    def unlink(self):
        result = super().unlink()
        self._invalidate_relations()
        return result

    # ------------------------------------------------------------------ tools
    @api.model
    def _invalidate_relations(self):
        """The table is both this model's and the relation of contacts' ``list_ids`` and
        lists' ``contact_ids``: after a change through any of the three, write it and drop
        every side's cache."""
        contacts, lists = self.env["sms.marketing.contact"], self.env["sms.marketing.list"]
        contacts.flush_model(["list_ids"])
        lists.flush_model(["contact_ids"])
        self.flush_model()
        self.invalidate_model()
        contacts.invalidate_model(["list_ids", "subscription_ids"])
        lists.invalidate_model(["contact_ids", "subscription_ids"])
