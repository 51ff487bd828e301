from odoo import api, fields, models
from odoo.tools import column_exists, create_column, table_exists


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
    # indexed: the click filters' windows ("Clicked (90 Days)") read the clicks of the window only; clicks
    # are inserted one by one by the public route, never updated by the sending
    click_date = fields.Datetime(string="Clicked On", default=fields.Datetime.now, required=True, index=True)
    # The recipient, copied from the trace when the click is recorded (clicks are insert-only):
    # the engagement filters read the clicks alone, never joined to every trace.
    res_model = fields.Char(related="trace_id.res_model", store=True, string="Recipient Model")
    res_id = fields.Integer(related="trace_id.res_id", store=True, string="Recipient ID", index="btree_not_null")

    def _auto_init(self):
        """On upgrade, the recipient columns are filled from the traces in one UPDATE, instead of
        letting the ORM recompute them click by click."""
        cr = self.env.cr
        fill = table_exists(cr, self._table) and not column_exists(cr, self._table, "res_id")
        if fill:
            create_column(cr, self._table, "res_model", "varchar")
            create_column(cr, self._table, "res_id", "int4")
        result = super()._auto_init()
        if fill:
            cr.execute(
                """UPDATE sms_marketing_link_click c SET res_model = t.res_model, res_id = t.res_id
                     FROM sms_marketing_trace t WHERE t.id = c.trace_id"""
            )
        return result

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
