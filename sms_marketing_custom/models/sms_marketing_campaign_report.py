"""Campaign analysis: one row per mailing with its figures, for the Reporting pivot and graph.

What: the figures of each mailing (recipients, sent, delivered, failed,
clicked, opted out, credits spent) as stored columns, so that they can be
grouped and summed by campaign, responsible, month... in a pivot; the
campaigns' figures (``sms.marketing.campaign._compute_figures``) are these
rows summed.

How: an SQL view over the mailings and their counters. It is the one
definition of a mailing's figures: recipients are all traces, sent the traces
with a sending date (delivered or not), clicked the distinct traces with a
click, replied the distinct numbers that answered it (keywords aside:
``sms.marketing.conversation``); the mailing's own statistics read their rows
here (``_get_mailing_figures``).

Counters, not counts: a year of history is millions of traces, and the
dashboard, the form and this analysis must not count them at each read. Every
statement that writes traces (the engine's build and record, delivery reports,
opt-outs, cancels, the ORM, SQL) adds one row of differences per mailing to
``sms_marketing_mailing_figure``, by a statement-level trigger on its
transition tables: set-wise, whoever the writer is, insert-only so that
concurrent senders never wait on each other's counter row, and no index on the
trace table (its sending UPDATE stays HOT). A click adds one to its mailing
when it is its trace's first. The rows of a mailing are summed at read and
folded into one by a cron (``_cron_fold_figures``), which also recounts the
clicked traces of the mailings it folds (two first clicks of one trace at the
same instant both count until then). ``last_sent_at`` is the last sending date
of a mailing's traces: the engagement filters and the SMS analysis that name a
time window read the traces of the mailings sent in it only; ``first_sent_at``
(the first, or earlier) says which of them were sent in it entirely, whose
traces need no date condition (``_get_mailings_sent_after``).
"""

from collections import namedtuple

from odoo import fields, models, tools
from odoo.tools import SQL

from .sms_marketing_trace import create_statement_triggers

QueueCounts = namedtuple("QueueCounts", "unclaimed waiting pending")

FIGURE_TABLE = "sms_marketing_mailing_figure"
# each counter: an aggregate over trace rows (``r``): the recount's over a mailing's traces, and the
# trigger's over each side of the rows a statement wrote, new minus old. Counts with a FILTER, one
# side at a time: formerly each counter was a sum of sign x value over both sides at once, 3 ms per
# UPDATE of 1,000 traces, half of what the UPDATE spent on its own rows (docs/benchmark.md)
TRACE_COUNTERS = (
    ("recipient_count", "count(*)"),
    ("sent_count", "count(*) FILTER (WHERE r.sent_at IS NOT NULL)"),
    ("delivered_count", "count(*) FILTER (WHERE r.state = 'delivered')"),
    ("failed_count", "count(*) FILTER (WHERE r.state = 'failed')"),
    ("pending_count", "count(*) FILTER (WHERE r.state = 'pending')"),
    ("unknown_count", "count(*) FILTER (WHERE r.state = 'unknown')"),
    ("canceled_count", "count(*) FILTER (WHERE r.state = 'canceled')"),
    ("optout_count", "count(*) FILTER (WHERE r.optout_at IS NOT NULL)"),
    ("credits_spent", "COALESCE(sum(r.cost), 0)"),
    # the sending queue (the engine's, not shown): pending traces no runner has claimed, and those
    # of them waiting for a time (a retry, quiet hours); the claim, the end-of-run trigger and the
    # "done" check read these instead of walking a mailing's traces, which grows with the mailing
    ("unclaimed_count", "count(*) FILTER (WHERE r.state = 'pending' AND r.claim_move_id IS NULL)"),
    (
        "waiting_count",
        "count(*) FILTER (WHERE r.state = 'pending' AND r.claim_move_id IS NULL AND r.next_try_at IS NOT NULL)",
    ),
)
QUEUE_COLUMNS = ("unclaimed_count", "waiting_count")
COUNTER_COLUMNS = (*(name for name, _value in TRACE_COUNTERS), "clicked_count")

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


def drop_counters(cr):
    """Remove the counters (uninstall): the table, and the trigger functions with their triggers."""
    cr.execute(SQL("DROP TABLE IF EXISTS %s CASCADE", SQL.identifier(FIGURE_TABLE)))
    cr.execute("DROP FUNCTION IF EXISTS sms_marketing_trace_count() CASCADE")
    cr.execute("DROP FUNCTION IF EXISTS sms_marketing_click_count() CASCADE")


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
    sent_count = fields.Integer(string="SMS Sent", readonly=True)
    delivered_count = fields.Integer(string="SMS Delivered", readonly=True)
    failed_count = fields.Integer(string="SMS Failed", readonly=True)
    pending_count = fields.Integer(string="Pending", readonly=True)
    unknown_count = fields.Integer(string="Unknown", readonly=True)
    canceled_count = fields.Integer(string="SMS Canceled", readonly=True)
    clicked_count = fields.Integer(string="Clicked", readonly=True)
    optout_count = fields.Integer(string="Opted Out", readonly=True)
    replied_count = fields.Integer(string="Replied", readonly=True, help="Recipients who answered (keywords aside).")
    credits_spent = fields.Float(readonly=True, digits=(16, 4))

    def init(self):
        self._init_counters()
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """CREATE VIEW %s AS (
                    SELECT m.id AS id, m.id AS mailing_id, m.campaign_id, m.company_id, m.user_id, m.state,
                           m.sent_date, m.schedule_date,
                           %s, r.replied_count
                      FROM sms_marketing_mailing m
                     CROSS JOIN LATERAL (SELECT %s FROM %s f WHERE f.mailing_id = m.id) t
                     CROSS JOIN LATERAL (
                           SELECT count(DISTINCT cm.number) AS replied_count
                             FROM sms_marketing_conversation_message cm
                            WHERE cm.mailing_id = m.id AND cm.direction = 'in' AND NOT cm.is_keyword) r
                )""",
                SQL.identifier(self._table),
                SQL(", ").join(SQL.identifier("t", name) for name in COUNTER_COLUMNS if name not in QUEUE_COLUMNS),
                SQL(", ").join(
                    SQL(
                        "COALESCE(sum(f.%s), 0)::%s AS %s",
                        SQL.identifier(name),
                        SQL("numeric" if name == "credits_spent" else "bigint"),
                        SQL.identifier(name),
                    )
                    for name in COUNTER_COLUMNS
                    if name not in QUEUE_COLUMNS
                ),  # fmt: skip
                SQL.identifier(FIGURE_TABLE),
            )
        )

    # ------------------------------------------------------------------ counters
    def _init_counters(self):
        """The counter table, the triggers that keep it, and its first fill (a database of a previous
        release, or a new one): in one transaction, the triggers' lock on the trace and click tables
        keeps writers out until the fill is committed."""
        cr = self.env.cr
        created = not tools.table_exists(cr, FIGURE_TABLE)
        cr.execute(
            SQL(
                """CREATE TABLE IF NOT EXISTS %s (
                       mailing_id integer NOT NULL, %s, credits_spent numeric NOT NULL DEFAULT 0,
                       last_sent_at timestamp, first_sent_at timestamp)""",
                SQL.identifier(FIGURE_TABLE),
                SQL(", ").join(
                    SQL("%s bigint NOT NULL DEFAULT 0", SQL.identifier(name))
                    for name in COUNTER_COLUMNS
                    if name != "credits_spent"
                ),
            )
        )
        table = SQL.identifier(FIGURE_TABLE)
        # a counter added by a later release: its column, and a recount below
        cr.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s",
            [FIGURE_TABLE],
        )
        existing = {row[0] for row in cr.fetchall()}
        added = set(COUNTER_COLUMNS) - existing
        for name in sorted(added):
            cr.execute(SQL("ALTER TABLE %s ADD COLUMN %s bigint NOT NULL DEFAULT 0", table, SQL.identifier(name)))
        if "first_sent_at" not in existing:
            cr.execute(SQL("ALTER TABLE %s ADD COLUMN first_sent_at timestamp", table))
            added.add("first_sent_at")
        cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS %s ON %s (mailing_id)", SQL.identifier(f"{FIGURE_TABLE}_mailing_idx"), table
            )
        )
        # the mailings with a trace sent since a date (the engagement filters' time windows)
        cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS %s ON %s (last_sent_at, mailing_id)",
                SQL.identifier(f"{FIGURE_TABLE}_last_sent_idx"),
                table,
            )
        )
        trace_columns = SQL(", ").join(
            SQL.identifier(name)
            for name in ("mailing_id", *(n for n, _v in TRACE_COUNTERS), "last_sent_at", "first_sent_at")
        )
        totals = [SQL("sum(d.sign * d.%s)", SQL.identifier(name)) for name, _aggregate in TRACE_COUNTERS]

        def trace_delta(*sources):
            """INSERT the differences of the rows of ``sources`` ((sign, transition table)...) per mailing:
            each side's counters per mailing, then new minus old."""
            sides = SQL(" UNION ALL ").join(
                SQL(
                    """SELECT %s AS sign, r.mailing_id, %s, max(r.sent_at) AS last_sent_at,
                              min(r.sent_at) AS first_sent_at
                         FROM %s r GROUP BY r.mailing_id""",
                    SQL(str(sign)),
                    SQL(", ").join(
                        SQL("%s AS %s", SQL(aggregate), SQL.identifier(name)) for name, aggregate in TRACE_COUNTERS
                    ),
                    SQL.identifier(table),
                )
                for sign, table in sources
            )
            return SQL(
                """INSERT INTO %s (%s)
                   SELECT d.mailing_id, %s, max(d.last_sent_at) FILTER (WHERE d.sign > 0),
                          min(d.first_sent_at) FILTER (WHERE d.sign > 0)
                     FROM (%s) d
                    -- a trace deleted with its mailing leaves no counter behind
                    WHERE EXISTS (SELECT 1 FROM sms_marketing_mailing m WHERE m.id = d.mailing_id)
                    GROUP BY d.mailing_id
                   HAVING %s OR max(d.last_sent_at) FILTER (WHERE d.sign > 0)
                                 IS DISTINCT FROM max(d.last_sent_at) FILTER (WHERE d.sign < 0)
                             OR min(d.first_sent_at) FILTER (WHERE d.sign > 0)
                                 IS DISTINCT FROM min(d.first_sent_at) FILTER (WHERE d.sign < 0);""",
                SQL.identifier(FIGURE_TABLE),
                trace_columns,
                SQL(", ").join(totals),
                sides,
                SQL(" OR ").join(SQL("%s != 0", total) for total in totals),
            )

        create_statement_triggers(
            cr,
            "sms_marketing_trace_count",
            "sms_marketing_trace",
            trace_delta((1, "new_rows")),
            trace_delta((-1, "old_rows")),
            trace_delta((1, "new_rows"), (-1, "old_rows")),
        )

        def click_statement(new, old):
            """INSERT the change of each touched trace's "clicked" (+1 to the mailing of its clicks now, -1 to the
            mailing of its clicks before the statement), set-wise: a delete of 50,000 clicks (a mailing's) looked
            each trace up in the transition table, 100 s (docs/benchmark.md)."""
            touched = SQL(" UNION ").join(
                SQL("SELECT trace_id FROM %s", SQL.identifier(table))
                for table, present in (("new_rows", new), ("old_rows", old))
                if present
            )
            # the clicks of the touched traces before the statement: those still there that it did not add, and
            # those it changed or removed
            before = SQL(
                """SELECT c.trace_id, c.mailing_id FROM sms_marketing_link_click c
                     JOIN touched t ON t.trace_id = c.trace_id %s""",
                SQL("WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.id = c.id)") if new else SQL(),
            )
            if old:
                before = SQL("%s UNION ALL SELECT o.trace_id, o.mailing_id FROM old_rows o", before)
            return SQL(
                """WITH touched AS (SELECT DISTINCT u.trace_id FROM (%(touched)s) u WHERE u.trace_id IS NOT NULL),
                        now AS (SELECT DISTINCT ON (c.trace_id) c.mailing_id
                                  FROM sms_marketing_link_click c JOIN touched t ON t.trace_id = c.trace_id
                                 WHERE c.mailing_id IS NOT NULL),
                        before AS (SELECT DISTINCT ON (b.trace_id) b.mailing_id FROM (%(before)s) b
                                    WHERE b.trace_id IS NOT NULL AND b.mailing_id IS NOT NULL)
                   INSERT INTO %(table)s (mailing_id, clicked_count)
                   SELECT d.mailing_id, sum(d.sign) FROM (
                          SELECT mailing_id, 1 AS sign FROM now
                          UNION ALL
                          SELECT mailing_id, -1 FROM before) d
                    WHERE EXISTS (SELECT 1 FROM sms_marketing_mailing m WHERE m.id = d.mailing_id)
                    GROUP BY d.mailing_id HAVING sum(d.sign) != 0;""",
                touched=touched,
                before=before,
                table=SQL.identifier(FIGURE_TABLE),
            )

        # a trace counts as clicked for its mailing once it has a click (the clicks' mailing_id is set
        # with the click or just after it, by the ORM's flush of its stored related field)
        create_statement_triggers(
            cr,
            "sms_marketing_click_count",
            "sms_marketing_link_click",
            click_statement(True, False),
            click_statement(False, True),
            click_statement(True, True),
        )
        if created or added:
            self._recount(SQL("TRUE"))

    def _recount(self, mailing_condition):
        """Replace the counters of the mailings ``m`` matching ``mailing_condition`` by a count of their
        traces and clicks (the first fill; the tests' check that the counters are right)."""
        cr = self.env.cr
        cr.execute(
            SQL(
                "DELETE FROM %s f USING sms_marketing_mailing m WHERE m.id = f.mailing_id AND %s",
                SQL.identifier(FIGURE_TABLE),
                mailing_condition,
            )
        )
        cr.execute(
            SQL(
                """INSERT INTO %s (%s, clicked_count, last_sent_at, first_sent_at)
                   SELECT m.id, %s,
                          (SELECT count(DISTINCT c.trace_id) FROM sms_marketing_link_click c
                            WHERE c.mailing_id = m.id AND c.trace_id IS NOT NULL),
                          max(r.sent_at), min(r.sent_at)
                     FROM sms_marketing_mailing m JOIN sms_marketing_trace r ON r.mailing_id = m.id
                    WHERE %s
                    GROUP BY m.id""",
                SQL.identifier(FIGURE_TABLE),
                SQL(", ").join(SQL.identifier(name) for name in ("mailing_id", *(n for n, _v in TRACE_COUNTERS))),
                SQL(", ").join(SQL(aggregate) for _name, aggregate in TRACE_COUNTERS),
                mailing_condition,
            )
        )

    def _get_queue_counts(self, mailing_ids):
        """{mailing id: QueueCounts(unclaimed, waiting, pending)} of ``mailing_ids`` (zeros for a mailing
        without traces), from the counters: what the engine asks at each claim and each run's end."""
        self.env.cr.execute(
            SQL(
                "SELECT m.id, q.* FROM unnest(%s::int[]) m(id), LATERAL (%s) q",
                list(mailing_ids),
                self._get_queue_counts_sql(SQL("m.id")),
            )
        )
        return {row[0]: QueueCounts(*(int(value) for value in row[1:])) for row in self.env.cr.fetchall()}

    def _get_queue_counts_sql(self, mailing_id):
        """SQL: one row (unclaimed, waiting, pending) of the mailing ``mailing_id`` (an SQL expression),
        for a caller that reads it in the same statement (the same snapshot) as the traces."""
        self.env["sms.marketing.trace"].flush_model(["mailing_id", "state", "claim_move_id", "next_try_at"])
        return SQL(
            """SELECT COALESCE(sum(f.unclaimed_count), 0) AS unclaimed, COALESCE(sum(f.waiting_count), 0) AS waiting,
                      COALESCE(sum(f.pending_count), 0) AS pending
                 FROM %s f WHERE f.mailing_id = %s""",
            SQL.identifier(FIGURE_TABLE),
            mailing_id,
        )

    def _get_nothing_pending_condition(self, mailing_id):
        """SQL: the mailing ``mailing_id`` (an SQL expression) has no pending trace, by its counters.

        The same snapshot as the traces' (the counters are written with them), without reading
        them: at the end of a mailing in a table of millions of earlier traces, the planner took
        ``NOT EXISTS (pending trace)`` for a read of the whole table (17 s, every sender stalled)."""
        return SQL(
            "COALESCE((SELECT sum(f.pending_count) FROM %s f WHERE f.mailing_id = %s), 0) = 0",
            SQL.identifier(FIGURE_TABLE),
            mailing_id,
        )

    def _get_mailings_sent_after(self, date):
        """(ids of the mailings whose traces were all sent after ``date``, ids of those with only some
        sent after it): their counters, no rights, ids only.

        A sending date only grows, and each row of counters keeps the first and last of the dates its
        statement wrote: a mailing whose first is after ``date`` has no trace sent before it."""
        self.env["sms.marketing.trace"].flush_model(["mailing_id", "sent_at"])
        table = SQL.identifier(FIGURE_TABLE)
        self.env.cr.execute(
            SQL(
                """SELECT f.mailing_id, min(f.first_sent_at) > %(date)s
                     FROM %(table)s f
                    WHERE f.mailing_id IN (SELECT mailing_id FROM %(table)s WHERE last_sent_at > %(date)s)
                    GROUP BY f.mailing_id""",
                date=date,
                table=table,
            )
        )
        rows = self.env.cr.fetchall()
        return [mid for mid, inside in rows if inside], [mid for mid, inside in rows if not inside]

    def _cron_fold_figures(self):
        """Fold each mailing's rows of differences into one (their sum), with its clicked traces recounted;
        drop the rows of deleted mailings. One statement: the rows written meanwhile by writers not yet
        committed are not seen, so stay, and count once. Then the engagement summary's rows, likewise."""
        self.env.cr.execute(
            SQL(
                """WITH folded AS (
                       DELETE FROM %(table)s f
                        WHERE f.mailing_id IN (SELECT mailing_id FROM %(table)s GROUP BY mailing_id HAVING count(*) > 1)
                           OR NOT EXISTS (SELECT 1 FROM sms_marketing_mailing m WHERE m.id = f.mailing_id)
                    RETURNING f.*)
                   INSERT INTO %(table)s (mailing_id, %(columns)s, clicked_count, last_sent_at, first_sent_at)
                   SELECT d.mailing_id, %(sums)s,
                          (SELECT count(DISTINCT c.trace_id) FROM sms_marketing_link_click c
                            WHERE c.mailing_id = d.mailing_id AND c.trace_id IS NOT NULL),
                          max(d.last_sent_at), min(d.first_sent_at)
                     FROM folded d
                    WHERE EXISTS (SELECT 1 FROM sms_marketing_mailing m WHERE m.id = d.mailing_id)
                    GROUP BY d.mailing_id""",
                table=SQL.identifier(FIGURE_TABLE),
                columns=SQL(", ").join(SQL.identifier(name) for name, _v in TRACE_COUNTERS),
                sums=SQL(", ").join(SQL("sum(d.%s)", SQL.identifier(name)) for name, _v in TRACE_COUNTERS),
            )
        )
        self.env["sms.marketing.engagement.summary"]._fold()

    def _flush_sources(self):
        """The view reads these tables: what the ORM still holds in memory is written first."""
        self.env["sms.marketing.mailing"].flush_model(
            ["campaign_id", "company_id", "user_id", "state", "sent_date", "schedule_date"]
        )
        # the triggers count what is written: pending ORM writes of traces and clicks first
        self.env["sms.marketing.trace"].flush_model(["mailing_id", "state", "sent_at", "optout_at", "cost"])
        self.env["sms.marketing.link.click"].flush_model(["mailing_id", "trace_id"])
        self.env["sms.marketing.conversation.message"].flush_model(["mailing_id", "direction", "is_keyword", "number"])

    def _get_mailing_figures(self, mailing_ids, columns=FIGURE_COLUMNS, extra_columns=()):
        """{mailing id: {figure: value}} of ``mailing_ids`` (``columns`` of the view, and ``extra_columns``),
        one query on the view, without record rules (the caller's mailings are already the ones it may read)."""
        if not mailing_ids:
            return {}
        columns = (*columns, *extra_columns)
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
