from odoo import fields, models


class SmsMarketingLeadFigures(models.AbstractModel):
    """The leads a mailing or a campaign brought, as their forms show them; each model that inherits
    this computes them in its own ``_compute_lead_figures`` (from the campaign analysis)."""

    _name = "sms.marketing.lead.figures"
    _description = "SMS Marketing Leads Figures"

    # groups: leads figures are for those who may see leads (CRM's users are the Sales team's)
    lead_currency_id = fields.Many2one(
        "res.currency", compute="_compute_lead_figures", groups="sales_team.group_sale_salesman"
    )
    lead_count = fields.Integer(
        string="Leads",
        compute="_compute_lead_figures",
        groups="sales_team.group_sale_salesman",
        help="Leads and opportunities brought (lost ones included).",
    )
    lead_expected_revenue = fields.Monetary(
        string="Expected Revenue",
        compute="_compute_lead_figures",
        currency_field="lead_currency_id",
        groups="sales_team.group_sale_salesman",
        help="Expected revenue of the leads and opportunities brought, lost ones aside.",
    )
