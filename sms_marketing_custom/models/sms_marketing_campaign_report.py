"""Campaign analysis: one row per mailing with its figures, for the Reporting pivot and graph.

What: the figures of each mailing (recipients, sent, delivered, failed,
clicked, opted out, credits spent) as stored columns, so that they can be
grouped and summed by campaign, responsible, month... in a pivot; the
campaigns' figures (``sms.marketing.campaign._compute_figures``) are these
rows summed.

How: an SQL view over the mailings; each mailing's traces and clicks are
counted in a LATERAL subquery, which reads the trace index of that mailing
only, so that a filter on a campaign counts the traces of its mailings alone.
It is the one definition of a mailing's figures: recipients are all traces,
sent the traces with a sending date (delivered or not), clicked the distinct
traces with a click, replied the distinct numbers that answered it (keywords
aside: ``sms.marketing.conversation``); the mailing's own statistics read their rows here
(``_get_mailing_figures``).
"""

from odoo import fields, models, tools
from odoo.tools import SQL

# the columns of a mailing's figures, in the order _get_mailing_figures reads them
FIGURE_COLUMNS = (
    "recipient_count",
    "pending_count",
    "sent_count",
    "delivered_count",
    "failed_count",
    "unknown_count",
    "canceled_count",
    "clicked_count",
    "optout_count",
    "credits_spent",
)


class SmsMarketingCampaignReport(models.Model):
    _name = "sms.marketing.campaign.report"
    _description = "SMS Campaign Analysis"
    _auto = False
    _rec_name = "mailing_id"
    _order = "mailing_id desc"

    mailing_id = fields.Many2one("sms.marketing.mailing", readonly=True)
    campaign_id = fields.Many2one("sms.marketing.campaign", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    user_id = fields.Many2one("res.users", string="Responsible", readonly=True)
    state = fields.Selection(
        selection=lambda self: self.env["sms.marketing.mailing"]._fields["state"].selection,
        string="Status",
        readonly=True,
    )
    sent_date = fields.Datetime(string="Sent On", readonly=True)
    schedule_date = fields.Datetime(string="Scheduled for", readonly=True)
    recipient_count = fields.Integer(string="Recipients", readonly=True)
    sent_count = fields.Integer(string="Sent", readonly=True)
    delivered_count = fields.Integer(string="Delivered", readonly=True)
    failed_count = fields.Integer(string="Failed", readonly=True)
    pending_count = fields.Integer(string="Pending", readonly=True)
    unknown_count = fields.Integer(string="Unknown", readonly=True)
    canceled_count = fields.Integer(string="Canceled", readonly=True)
    clicked_count = fields.Integer(string="Clicked", readonly=True)
    optout_count = fields.Integer(string="Opted Out", readonly=True)
    replied_count = fields.Integer(string="Replied", readonly=True, help="Recipients who answered (keywords aside).")
    credits_spent = fields.Float(readonly=True, digits=(16, 4))

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """CREATE VIEW %s AS (
                    SELECT m.id AS id, m.id AS mailing_id, m.campaign_id, m.company_id, m.user_id, m.state,
                           m.sent_date, m.schedule_date,
                           t.recipient_count, t.sent_count, t.delivered_count, t.failed_count,
                           t.pending_count, t.unknown_count, t.canceled_count,
                           t.optout_count, t.credits_spent, c.clicked_count, r.replied_count
                      FROM sms_marketing_mailing m
                     CROSS JOIN LATERAL (
                           SELECT count(*) AS recipient_count,
                                  count(*) FILTER (WHERE tr.sent_at IS NOT NULL) AS sent_count,
                                  count(*) FILTER (WHERE tr.state = 'delivered') AS delivered_count,
                                  count(*) FILTER (WHERE tr.state = 'failed') AS failed_count,
                                  count(*) FILTER (WHERE tr.state = 'pending') AS pending_count,
                                  count(*) FILTER (WHERE tr.state = 'unknown') AS unknown_count,
                                  count(*) FILTER (WHERE tr.state = 'canceled') AS canceled_count,
                                  count(*) FILTER (WHERE tr.optout_at IS NOT NULL) AS optout_count,
                                  COALESCE(sum(tr.cost), 0) AS credits_spent
                             FROM sms_marketing_trace tr
                            WHERE tr.mailing_id = m.id) t
                     CROSS JOIN LATERAL (
                           SELECT count(DISTINCT cl.trace_id) AS clicked_count
                             FROM sms_marketing_link_click cl
                            WHERE cl.mailing_id = m.id AND cl.trace_id IS NOT NULL) c
                     CROSS JOIN LATERAL (
                           SELECT count(DISTINCT cm.number) AS replied_count
                             FROM sms_marketing_conversation_message cm
                            WHERE cm.mailing_id = m.id AND cm.direction = 'in' AND NOT cm.is_keyword) r
                )""",
                SQL.identifier(self._table),
            )
        )

    def _flush_sources(self):
        """The view reads these tables: what the ORM still holds in memory is written first."""
        self.env["sms.marketing.mailing"].flush_model(
            ["campaign_id", "company_id", "user_id", "state", "sent_date", "schedule_date"]
        )
        self.env["sms.marketing.trace"].flush_model(["mailing_id", "state", "sent_at", "optout_at", "cost"])
        self.env["sms.marketing.link.click"].flush_model(["mailing_id", "trace_id"])
        self.env["sms.marketing.conversation.message"].flush_model(["mailing_id", "direction", "is_keyword", "number"])

    def _get_mailing_figures(self, mailing_ids, columns=FIGURE_COLUMNS):
        """{mailing id: {figure: value}} of ``mailing_ids`` (``columns`` of the view), one query on the
        view, without record rules (the caller's mailings are already the ones it may read)."""
        if not mailing_ids:
            return {}
        self._flush_sources()
        self.env.cr.execute(
            SQL(
                "SELECT mailing_id, %s FROM %s WHERE mailing_id = ANY(%s)",
                SQL(", ").join(SQL.identifier(column) for column in columns),
                SQL.identifier(self._table),
                list(mailing_ids),
            )
        )
        return {row[0]: dict(zip(columns, row[1:], strict=True)) for row in self.env.cr.fetchall()}

    def _read_group(self, domain, groupby=(), aggregates=(), having=(), offset=0, limit=None, order=None):
        self._flush_sources()
        return super()._read_group(domain, groupby, aggregates, having, offset, limit, order)

    def _search(self, domain, offset=0, limit=None, order=None, access_rights_uid=None):
        self._flush_sources()
        return super()._search(domain, offset, limit, order, access_rights_uid)
