"""Sales brought by each mailing, as columns of the campaign analysis.

What: quotations, confirmed orders and revenue of each mailing, beside its
traces and clicks in ``sms.marketing.campaign.report`` (one row per mailing);
a mailing's sales figures read its row, a campaign's are its rows summed, as
for every other figure (docs/design.md, "Templates and campaigns").

Attribution: an order is a mailing's when (``attribution_condition``, the one
definition, read by the view and by the lists the stat buttons open)

0. it is of the mailing's company (a mailing of no company brings none): a
   source shared with another company never shows that company's sales;
1. its UTM source is the mailing's (``utm_source_id``, one per mailing): the
   source the mailing's tracked links add to the page they open, which Odoo's
   ``ir.http`` keeps in the visitor's ``odoo_utm_source`` cookie and puts on
   the order placed during that visit (or that a salesperson sets by hand);
2. its UTM campaign does not contradict the mailing's: either has none, or
   they are the same (a visit from another campaign's link since the click
   replaced the campaign cookie: that campaign brought the order);
3. it was created in the window ``[schedule_date, schedule_date + N days)``
   of the mailing, N = ``sms_marketing_custom_sale.attribution_days`` (system
   parameter, 30 by default): Odoo's UTM cookies last 31 days, and an order
   long after the mailing with its source was set by hand or by a reused
   source, not by the SMS.

Quotations are the draft and sent orders, orders the confirmed ones
(``sale``), revenue their untaxed amount in the company's currency
(``amount_untaxed / currency_rate``); canceled orders count nowhere.

How: ``init`` puts the mailing's sales in a LATERAL subquery on
``sale_order`` (its ``source_id`` index) after the columns of the main
addon's view, read back with ``pg_get_viewdef``: the view stays the main
addon's, with three more columns (``CREATE OR REPLACE VIEW`` may add
columns at the end), and the main addon knows nothing of sales.
"""

from odoo import api, fields, models
from odoo.tools import SQL, column_exists, create_column

ATTRIBUTION_DAYS_PARAM = "sms_marketing_custom_sale.attribution_days"
DEFAULT_ATTRIBUTION_DAYS = 30

# the system parameter inside the SQL (a view cannot take parameters); anything but a whole number
# of days gives the default
ATTRIBUTION_DAYS_SQL = SQL(
    """COALESCE((SELECT CASE WHEN value ~ '^\\s*[0-9]{1,5}\\s*$' THEN trim(value)::int END
                   FROM ir_config_parameter WHERE key = %s), %s)""",
    ATTRIBUTION_DAYS_PARAM,
    DEFAULT_ATTRIBUTION_DAYS,
)

# the sales columns, in the order of the view and of _get_sale_figures
SALE_COLUMNS = ("sale_quotation_count", "sale_order_count", "sale_revenue")


def attribution_condition(order, mailing):
    """SQL: the order (table alias ``order``) was brought by the mailing (alias ``mailing``). Any row
    with Odoo's UTM columns, a company and a creation date answers to the same rule: the CRM bridge
    (sms_marketing_custom_crm) gives it leads."""
    return SQL(
        """%(o)s.source_id = %(m)s.utm_source_id
           AND %(o)s.company_id = %(m)s.company_id
           AND (%(o)s.campaign_id IS NULL OR %(m)s.utm_campaign_id IS NULL
                OR %(o)s.campaign_id = %(m)s.utm_campaign_id)
           AND %(o)s.create_date >= %(m)s.schedule_date
           AND %(o)s.create_date < %(m)s.schedule_date + make_interval(days => %(days)s)""",
        o=SQL.identifier(order),
        m=SQL.identifier(mailing),
        days=ATTRIBUTION_DAYS_SQL,
    )


class SmsMarketingCampaignReport(models.Model):
    _inherit = "sms.marketing.campaign.report"

    # groups: sales figures are for those who may see sales
    sale_quotation_count = fields.Integer(string="Quotations", readonly=True, groups="sales_team.group_sale_salesman")
    sale_order_count = fields.Integer(string="Orders", readonly=True, groups="sales_team.group_sale_salesman")
    sale_revenue = fields.Float(
        string="Revenue", readonly=True, digits="Product Price", groups="sales_team.group_sale_salesman"
    )

    def init(self):
        result = super().init()
        cr = self.env.cr
        # the registry inits models in no set order: the mailing's columns the view reads may not be
        # there yet on install (its _auto_init then finds them and adds their keys and indexes)
        for column in ("utm_source_id", "utm_campaign_id"):
            if not column_exists(cr, "sms_marketing_mailing", column):
                create_column(cr, "sms_marketing_mailing", column, "int4")
        self._add_mailing_columns(
            SALE_COLUMNS,
            SQL(
                """SELECT count(*) FILTER (WHERE so.state IN ('draft', 'sent')) AS sale_quotation_count,
                          count(*) FILTER (WHERE so.state = 'sale') AS sale_order_count,
                          COALESCE(sum(so.amount_untaxed / COALESCE(NULLIF(so.currency_rate, 0), 1))
                                   FILTER (WHERE so.state = 'sale'), 0) AS sale_revenue
                     FROM sale_order so
                    WHERE %s""",
                attribution_condition("so", "m"),
            ),
        )
        return result

    def _add_mailing_columns(self, columns, subquery):
        """Puts ``columns`` at the end of the view, computed per mailing by ``subquery`` (SQL, a LATERAL
        subquery over the mailing, alias ``m``): the view as it stands is read back and wrapped, so
        that each bridge adds its columns after those before it (the CRM bridge's after these)."""
        cr = self.env.cr
        cr.execute("SELECT pg_get_viewdef(%s::regclass)", [self._table])
        figures = cr.fetchone()[0].strip().rstrip(";").replace("%", "%%")
        cr.execute(
            SQL(
                """CREATE OR REPLACE VIEW %(view)s AS (
                    SELECT figures.*, %(columns)s
                      FROM (%(figures)s) figures
                      JOIN sms_marketing_mailing m ON m.id = figures.mailing_id
                     CROSS JOIN LATERAL (%(subquery)s) added
                )""",
                view=SQL.identifier(self._table),
                columns=SQL(", ").join(SQL.identifier("added", column) for column in columns),
                figures=SQL(figures),
                subquery=subquery,
            )
        )

    def _flush_sources(self):
        result = super()._flush_sources()
        self.env["ir.config_parameter"].flush_model(["key", "value"])
        self.env["sms.marketing.mailing"].flush_model(["utm_source_id", "utm_campaign_id", "schedule_date"])
        self.env["sms.marketing.mailing"].flush_model(["company_id"])
        self.env["sale.order"].flush_model(
            ["company_id", "source_id", "campaign_id", "state", "amount_untaxed", "currency_rate", "create_date"]
        )
        return result

    @api.model
    def _get_sale_figures(self, mailing_ids):
        """{mailing id: {column: value}} of SALE_COLUMNS for ``mailing_ids``, one query on the view."""
        return self._get_mailing_figures(mailing_ids, SALE_COLUMNS)

    @api.model
    def _get_attributed_order_ids(self, mailing_ids):
        """Ids of the orders ``mailing_ids`` brought (any state), by the same rule as the view."""
        return self._get_attributed_ids("sale_order", mailing_ids)

    @api.model
    def _get_attributed_ids(self, table, mailing_ids):
        """Ids of the rows of ``table`` (a UTM record's: orders, leads) that ``mailing_ids`` brought, by
        ``attribution_condition``; the model of ``table`` is flushed by ``_flush_sources``."""
        self._flush_sources()
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT r.id FROM sms_marketing_mailing m JOIN %s r ON %s
                    WHERE m.id = ANY(%s)""",
                SQL.identifier(table),
                attribution_condition("r", "m"),
                list(mailing_ids),
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]
