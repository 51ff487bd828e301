from odoo import api, fields, models


class SmsMarketingCampaign(models.Model):
    """A campaign's UTM campaign (one of its own, named after it, by default) and medium (SMS), which its
    mailings take; its sales are its mailings' rows of the campaign analysis summed, as its other figures."""

    _name = "sms.marketing.campaign"
    _inherit = ["sms.marketing.campaign", "sms.marketing.sale.figures"]

    utm_campaign_id = fields.Many2one(
        "utm.campaign",
        string="UTM Campaign",
        ondelete="set null",
        help="The UTM campaign of the campaign's mailings (utm_campaign of their links); created with the campaign.",
    )
    utm_medium_id = fields.Many2one("utm.medium", string="UTM Medium", ondelete="set null")

    @api.depends_context("uid", "allowed_company_ids")
    def _compute_sale_figures(self):
        """A batch of campaigns with one grouped query on the campaign analysis."""
        ids = [cid for cid in self.ids if isinstance(cid, int)]
        rows = {}
        if ids:
            Report = self.env["sms.marketing.campaign.report"]
            aggregates = ["sale_quotation_count:sum", "sale_order_count:sum", "sale_revenue:sum"]
            for campaign, *values in Report._read_group([("campaign_id", "in", ids)], ["campaign_id"], aggregates):
                rows[campaign.id] = values
        for campaign in self:
            quotations, orders, revenue = rows.get(campaign._origin.id, (0, 0, 0.0))
            campaign.sale_currency_id = (campaign.company_id or self.env.company).currency_id
            campaign.sale_quotation_count = quotations or 0
            campaign.sale_order_count = orders or 0
            campaign.sale_revenue = revenue or 0.0

    @api.model_create_multi
    def create(self, vals_list):
        campaigns = super().create(vals_list)
        campaigns._ensure_utm_values()
        return campaigns

    def action_view_sale_quotations(self):
        self.ensure_one()
        return self.with_context(active_test=False).mailing_ids.action_view_sale_quotations()

    def action_view_sale_orders(self):
        self.ensure_one()
        return self.with_context(active_test=False).mailing_ids.action_view_sale_orders()

    def _ensure_utm_values(self):
        """Campaigns without a UTM campaign get one of their name; without a medium, SMS."""
        missing = self.filtered(lambda campaign: not campaign.utm_campaign_id)
        # sudo: the UTM campaign is the SMS campaign's, whoever creates it
        utm_campaigns = self.env["utm.campaign"].sudo().create([{"title": campaign.name} for campaign in missing])
        for campaign, utm_campaign in zip(missing, utm_campaigns, strict=True):
            campaign.utm_campaign_id = utm_campaign
        without_medium = self.filtered(lambda campaign: not campaign.utm_medium_id)
        if without_medium:
            without_medium.utm_medium_id = self.env["sms.marketing.mailing"]._get_sms_utm_medium()
