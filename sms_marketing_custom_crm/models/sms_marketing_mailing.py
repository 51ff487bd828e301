from odoo import _, api, models


class SmsMarketingMailing(models.Model):
    _name = "sms.marketing.mailing"
    _inherit = ["sms.marketing.mailing", "sms.marketing.lead.figures"]

    @api.depends_context("uid")
    def _compute_lead_figures(self):
        """Every mailing of the batch in one query on the campaign analysis."""
        Report = self.env["sms.marketing.campaign.report"]
        figures = Report._get_lead_figures([mid for mid in self.ids if isinstance(mid, int)])
        for mailing in self:
            values = figures.get(mailing._origin.id, {})
            mailing.lead_currency_id = (mailing.company_id or self.env.company).currency_id
            mailing.lead_count = values.get("lead_count", 0)
            mailing.lead_expected_revenue = values.get("lead_expected_revenue", 0.0)

    def action_view_leads(self):
        """The leads and opportunities the mailings brought, lost ones too (the count includes them);
        CRM's record rules then show each user those they may read."""
        # called over RPC with any ids: only the mailings the user may read tell which leads they brought
        self.check_access_rights("read")
        self.check_access_rule("read")
        # the list is CRM's: whoever may not read leads does not learn which ones the mailings brought
        self.env["crm.lead"].check_access_rights("read")
        ids = self.env["sms.marketing.campaign.report"]._get_attributed_lead_ids(self.ids)
        return {
            "type": "ir.actions.act_window",
            "name": _("Leads"),
            "res_model": "crm.lead",
            "view_mode": "tree,kanban,form,pivot,graph",
            "domain": [("id", "in", ids)],
            "context": {"active_test": False, "create": False},
        }
