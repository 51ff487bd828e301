from odoo import fields, models


class SmsMarketingSaleFigures(models.AbstractModel):
    """The sales a mailing or a campaign brought, as their forms show them; each model that inherits
    this computes them in its own ``_compute_sale_figures`` (from the campaign analysis)."""

    _name = "sms.marketing.sale.figures"
    _description = "SMS Marketing Sales Figures"

    # groups: sales figures are for those who may see sales
    sale_currency_id = fields.Many2one(
        "res.currency", compute="_compute_sale_figures", groups="sales_team.group_sale_salesman"
    )
    sale_quotation_count = fields.Integer(
        string="Quotations", compute="_compute_sale_figures", groups="sales_team.group_sale_salesman"
    )
    sale_order_count = fields.Integer(
        string="Orders", compute="_compute_sale_figures", groups="sales_team.group_sale_salesman"
    )
    sale_revenue = fields.Monetary(
        string="Revenue",
        compute="_compute_sale_figures",
        currency_field="sale_currency_id",
        groups="sales_team.group_sale_salesman",
    )
