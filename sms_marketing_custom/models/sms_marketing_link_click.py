from odoo import api, fields, models


class SmsMarketingLinkClick(models.Model):
    """One human click on a tracked link, tied to the recipient's trace when the link carried a valid token."""

    _name = "sms.marketing.link.click"
    _description = "SMS Link Click"
    _order = "id desc"
    _rec_name = "link_id"

    link_id = fields.Many2one("sms.marketing.link", required=True, ondelete="cascade", index=True)
    trace_id = fields.Many2one("sms.marketing.trace", string="SMS", ondelete="set null", index="btree_not_null")
    mailing_id = fields.Many2one(related="link_id.mailing_id", store=True, index=True)
    country_id = fields.Many2one("res.country")
    click_date = fields.Datetime(string="Clicked On", default=fields.Datetime.now, required=True)
    # The recipient, copied from the trace when the click is recorded (clicks are insert-only):
    # the engagement filters read the clicks alone, never joined to every trace.
    res_model = fields.Char(related="trace_id.res_model", store=True, string="Recipient Model")
    res_id = fields.Integer(related="trace_id.res_id", store=True, string="Recipient ID", index="btree_not_null")

    @api.model
    def _add_click(self, link_id, trace_id=None, country_code=None):
        """Record one click (called by the public route, hence sudo)."""
        country = None
        if country_code:
            country = self.env["res.country"].search([("code", "=", country_code.upper())], limit=1)
        # sudo: the visitor is the public user, who has no access to clicks
        return self.sudo().create(
            {"link_id": link_id, "trace_id": trace_id or False, "country_id": country.id if country else False}
        )
