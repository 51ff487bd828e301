from odoo import api, models


class SmsMarketingCampaign(models.Model):
    """A campaign's leads are its mailings' rows of the campaign analysis summed, as its other figures."""

    _name = "sms.marketing.campaign"
    _inherit = ["sms.marketing.campaign", "sms.marketing.lead.figures"]

    @api.depends_context("uid", "allowed_company_ids")
    def _compute_lead_figures(self):
        """A batch of campaigns with one grouped query on the campaign analysis."""
        ids = [cid for cid in self.ids if isinstance(cid, int)]
        rows = {}
        if ids:
            Report = self.env["sms.marketing.campaign.report"]
            aggregates = ["lead_count:sum", "lead_expected_revenue:sum"]
            for campaign, *values in Report._read_group([("campaign_id", "in", ids)], ["campaign_id"], aggregates):
                rows[campaign.id] = values
        for campaign in self:
            count, expected_revenue = rows.get(campaign._origin.id, (0, 0.0))
            campaign.lead_currency_id = (campaign.company_id or self.env.company).currency_id
            campaign.lead_count = count or 0
            campaign.lead_expected_revenue = expected_revenue or 0.0

    def action_view_leads(self):
        self.ensure_one()
        return self.with_context(active_test=False).mailing_ids.action_view_leads()
