"""Leads brought by each mailing, as columns of the campaign analysis.

What: the leads and opportunities of each mailing and their expected revenue,
after the sales columns of ``sms_marketing_custom_sale`` (one row per mailing);
a mailing's leads figures read its row, a campaign's are its rows summed.

Attribution: the sales bridge's rule, its one definition
(``attribution_condition``): a lead is a mailing's when it carries the
mailing's UTM source, a UTM campaign that does not contradict the mailing's,
belongs to the mailing's company (a lead of no company is no mailing's) and
was created within ``sms_marketing_custom_sale.attribution_days`` of the
mailing's schedule date. The source comes from the visit the tracked link
started (Odoo's UTM cookies, which the website's contact form puts on the
lead) or from a salesperson.

Figures: ``lead_count`` counts leads and opportunities, lost (archived) ones
included, as Odoo's mass mailing does: the mailing brought them;
``lead_expected_revenue`` sums the expected revenue of those not lost, in the
company's currency (a lead's currency is its company's).
"""

from odoo import api, fields, models
from odoo.addons.sms_marketing_custom_sale.models.sms_marketing_campaign_report import attribution_condition
from odoo.tools import SQL

# the leads columns, in the order of the view and of _get_lead_figures
LEAD_COLUMNS = ("lead_count", "lead_expected_revenue")


class SmsMarketingCampaignReport(models.Model):
    _inherit = "sms.marketing.campaign.report"

    # groups: leads figures are for those who may see leads
    lead_count = fields.Integer(string="Leads", readonly=True, groups="sales_team.group_sale_salesman")
    lead_expected_revenue = fields.Float(
        string="Expected Revenue", readonly=True, digits="Product Price", groups="sales_team.group_sale_salesman"
    )

    def init(self):
        result = super().init()
        self._add_mailing_columns(
            LEAD_COLUMNS,
            SQL(
                """SELECT count(*) AS lead_count,
                          COALESCE(sum(l.expected_revenue) FILTER (WHERE l.active), 0) AS lead_expected_revenue
                     FROM crm_lead l
                    WHERE %s""",
                attribution_condition("l", "m"),
            ),
        )
        return result

    def _flush_sources(self):
        result = super()._flush_sources()
        self.env["crm.lead"].flush_model(
            ["company_id", "source_id", "campaign_id", "create_date", "active", "expected_revenue"]
        )
        return result

    @api.model
    def _get_lead_figures(self, mailing_ids):
        """{mailing id: {column: value}} of LEAD_COLUMNS for ``mailing_ids``, one query on the view."""
        return self._get_mailing_figures(mailing_ids, LEAD_COLUMNS)

    @api.model
    def _get_attributed_lead_ids(self, mailing_ids):
        """Ids of the leads and opportunities ``mailing_ids`` brought (lost ones too), by the view's rule."""
        return self._get_attributed_ids("crm_lead", mailing_ids)
