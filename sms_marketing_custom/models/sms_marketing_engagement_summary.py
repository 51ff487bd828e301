"""Each recipient's last click and last failure: what the "ever" engagement filters read instead of the history.

*Last SMS Click*, *Clicked (90 Days)* and *Last Delivery Failure* ask, for each
recipient, the last of its clicks (of its failed traces). Read from the clicks
and the traces, they read every click and every failure of a year of history
(10 mailings of 1,000,000 traces: 450,000 clicks for 50,000 recipients,
docs/benchmark.md). This table keeps one row per recipient (``res_model``,
``res_id``) and company of the mailings (the filters read it with the user's
rights, through the same company rule as the clicks' and the traces'): the
date of its last click and of its last failure.

Kept by statement-level triggers on the clicks and the traces, whoever writes
them (the ORM, the engine's SQL, delivery reports, imports, deletes), and on a
mailing's company:

* a click or a failure added: its recipient's row is added (insert-only, as the
  mailings' counters: senders and clicks never wait for each other's row; a
  recipient's rows are read as their maximum);
* a click or a failure removed or moved (deleted, a trace no longer failed, a
  recipient or mailing changed, a mailing moved to another company): the rows of
  its recipients are computed again from their clicks and failed traces
  (``sms_marketing_engagement_refresh``);
* the cron *fold the mailings' counters* folds each recipient's rows into one;
* each upgrade (``init``) rebuilds it from the clicks and failed traces.

Writers outside Odoo (``psql``) that delete clicks or failures, or move a sent mailing to another
company, while others write them: in REPEATABLE READ, as Odoo does, two recomputations of one
recipient cannot both commit (the second fails with a serialization error); in READ COMMITTED the
second may keep a date the first removed, until the next upgrade rebuilds the table.

The sending's UPDATEs fail few traces or none: their statement's trigger looks
for a failed row among its rows and stops there.
"""

import logging

import psycopg2.errors

from odoo import fields, models
from odoo.tools import SQL, create_index

from .sms_marketing_trace import create_statement_triggers

_logger = logging.getLogger(__name__)

SUMMARY_TABLE = "sms_marketing_engagement_summary"
REFRESH_FUNCTION = "sms_marketing_engagement_refresh"
# (trigger function, its table): the functions are dropped with their triggers on uninstall
TRIGGER_FUNCTIONS = (
    ("sms_marketing_click_engagement", "sms_marketing_link_click"),
    ("sms_marketing_trace_engagement", "sms_marketing_trace"),
)
MAILING_FUNCTION = "sms_marketing_mailing_engagement"


def drop_engagement_summary(cr):
    """Remove the triggers' functions (uninstall; the ORM drops the table)."""
    for name in (REFRESH_FUNCTION, MAILING_FUNCTION, *(function for function, _table in TRIGGER_FUNCTIONS)):
        cr.execute(SQL("DROP FUNCTION IF EXISTS %s CASCADE", SQL.identifier(name)))


def _add_rows(source, date_column, summary_column, condition):
    """INSERT a row per recipient and company of the rows of ``source`` (a transition table ``n``, joined
    to ``o`` for an UPDATE) matching ``condition``, with the last ``date_column`` as ``summary_column``."""
    return SQL(
        """INSERT INTO %(table)s (res_model, res_id, company_id, %(column)s)
           SELECT n.res_model, n.res_id, m.company_id, max(n.%(date)s)
             FROM %(source)s LEFT JOIN sms_marketing_mailing m ON m.id = n.mailing_id
            WHERE n.res_model IS NOT NULL AND n.res_id IS NOT NULL AND n.%(date)s IS NOT NULL AND %(condition)s
            GROUP BY n.res_model, n.res_id, m.company_id;""",
        table=SQL.identifier(SUMMARY_TABLE),
        column=SQL.identifier(summary_column),
        date=SQL.identifier(date_column),
        source=source,
        condition=condition,
    )


def _refresh_rows(source, condition):
    """Recompute the rows of the recipients of the old rows ``o`` of ``source`` matching ``condition``."""
    return SQL(
        """PERFORM %(refresh)s(array_agg(o.res_model), array_agg(o.res_id))
             FROM %(source)s
            WHERE o.res_model IS NOT NULL AND o.res_id IS NOT NULL AND %(condition)s
           HAVING count(*) > 0;""",
        refresh=SQL.identifier(REFRESH_FUNCTION),
        source=source,
        condition=condition,
    )


def _refresh_recipients_of(verb, mailing_condition):
    """``verb`` (SELECT, or PERFORM in a trigger) the refresh of every recipient who has a row: a click or a
    failed trace, of the mailings matching ``mailing_condition`` (on ``mailing_id``)."""
    return SQL(
        """%(verb)s %(refresh)s(array_agg(k.res_model), array_agg(k.res_id))
             FROM (SELECT res_model, res_id FROM sms_marketing_link_click
                    WHERE res_model IS NOT NULL AND res_id IS NOT NULL AND %(condition)s
                   UNION
                   SELECT res_model, res_id FROM sms_marketing_trace
                    WHERE failed_at IS NOT NULL AND %(condition)s) k
           HAVING count(*) > 0""",
        verb=verb,
        refresh=SQL.identifier(REFRESH_FUNCTION),
        condition=mailing_condition,
    )


class SmsMarketingEngagementSummary(models.Model):
    _name = "sms.marketing.engagement.summary"
    _description = "SMS Engagement Summary"
    _log_access = False
    _rec_name = "res_model"

    res_model = fields.Char(string="Recipient Model", required=True, readonly=True)
    res_id = fields.Integer(string="Recipient ID", required=True, readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, ondelete="cascade")
    last_click_at = fields.Datetime(string="Last Click", readonly=True)
    last_failure_at = fields.Datetime(string="Last Failure", readonly=True)

    def init(self):
        cr = self.env.cr
        create_index(cr, f"{SUMMARY_TABLE}_recipient_idx", self._table, ["res_id", "res_model"])
        # the filters' windows (clicked in the last 90 days, failed after a date): the recent rows only
        for column in ("last_click_at", "last_failure_at"):
            create_index(cr, f"{SUMMARY_TABLE}_{column}_idx", self._table, [column], where=f"{column} IS NOT NULL")
        self._init_triggers()
        self._rebuild()

    def _rebuild(self):
        """Every recipient who clicked or failed, from the clicks and failed traces: at install, at the upgrade
        from a release without the table, and at each upgrade after it, which repairs what the triggers could
        not see (writes with triggers disabled, a TRUNCATE, a restore; 2 s for 550,000 clicks and failures,
        docs/benchmark.md)."""
        self.env.cr.execute(SQL("TRUNCATE %s", SQL.identifier(SUMMARY_TABLE)))
        self.env.cr.execute(_refresh_recipients_of(SQL("SELECT"), SQL("TRUE")))

    def _init_triggers(self):
        cr = self.env.cr
        table = SQL.identifier(SUMMARY_TABLE)
        # the rows of recipients (model, id) recomputed from their clicks and failed traces (both by an index
        # on the recipient: the clicks' res_id, the trace table's partial index of failures by recipient)
        cr.execute(
            SQL(
                """CREATE OR REPLACE FUNCTION %(refresh)s(models varchar[], ids integer[]) RETURNS void
                   LANGUAGE plpgsql AS $f$
                   BEGIN
                       DELETE FROM %(table)s s USING unnest(models, ids) k(res_model, res_id)
                        WHERE s.res_id = k.res_id AND s.res_model = k.res_model;
                       INSERT INTO %(table)s (res_model, res_id, company_id, last_click_at, last_failure_at)
                       SELECT e.res_model, e.res_id, e.company_id, max(e.click_at), max(e.failure_at)
                         FROM (SELECT DISTINCT u.res_model, u.res_id FROM unnest(models, ids) u(res_model, res_id)) k
                        CROSS JOIN LATERAL (
                              SELECT c.res_model, c.res_id, m.company_id, c.click_date AS click_at,
                                     NULL::timestamp AS failure_at
                                FROM sms_marketing_link_click c LEFT JOIN sms_marketing_mailing m ON m.id = c.mailing_id
                               WHERE c.res_id = k.res_id AND c.res_model = k.res_model
                              UNION ALL
                              SELECT t.res_model, t.res_id, m.company_id, NULL, t.failed_at
                                FROM sms_marketing_trace t LEFT JOIN sms_marketing_mailing m ON m.id = t.mailing_id
                               WHERE t.res_id = k.res_id AND t.res_model = k.res_model AND t.failed_at IS NOT NULL) e
                        GROUP BY e.res_model, e.res_id, e.company_id;
                   END $f$""",
                refresh=SQL.identifier(REFRESH_FUNCTION),
                table=table,
            )
        )
        both = SQL("new_rows n JOIN old_rows o ON o.id = n.id")
        click_moved = SQL(
            "(n.res_model, n.res_id, n.mailing_id, n.click_date) IS DISTINCT FROM "
            "(o.res_model, o.res_id, o.mailing_id, o.click_date)"
        )
        trace_moved = SQL(
            "(n.res_model, n.res_id, n.mailing_id, n.failed_at) IS DISTINCT FROM "
            "(o.res_model, o.res_id, o.mailing_id, o.failed_at)"
        )
        bodies = {
            "sms_marketing_click_engagement": (
                _add_rows(SQL("new_rows n"), "click_date", "last_click_at", SQL("TRUE")),
                _refresh_rows(SQL("old_rows o"), SQL("TRUE")),
                SQL(
                    "%s %s",
                    _add_rows(both, "click_date", "last_click_at", click_moved),
                    _refresh_rows(both, click_moved),
                ),
            ),
            "sms_marketing_trace_engagement": (
                _add_rows(SQL("new_rows n"), "failed_at", "last_failure_at", SQL("TRUE")),
                _refresh_rows(SQL("old_rows o"), SQL("o.failed_at IS NOT NULL")),
                # the sending's UPDATEs: nothing failed among their rows before or after, one look each
                SQL(
                    """IF EXISTS (SELECT 1 FROM new_rows WHERE failed_at IS NOT NULL)
                          OR EXISTS (SELECT 1 FROM old_rows WHERE failed_at IS NOT NULL) THEN
                           %s %s
                       END IF;""",
                    _add_rows(both, "failed_at", "last_failure_at", trace_moved),
                    _refresh_rows(both, SQL("o.failed_at IS NOT NULL AND %s", trace_moved)),
                ),
            ),
        }
        for function, source in TRIGGER_FUNCTIONS:
            create_statement_triggers(cr, function, source, *bodies[function])
        # a mailing moved to another company: its recipients' rows follow
        cr.execute(
            SQL(
                """CREATE OR REPLACE FUNCTION %(function)s() RETURNS trigger LANGUAGE plpgsql AS $f$
                   BEGIN
                       %(refresh_recipients)s;
                       RETURN NULL;
                   END $f$;
                   DROP TRIGGER IF EXISTS %(function)s ON sms_marketing_mailing;
                   CREATE TRIGGER %(function)s AFTER UPDATE OF company_id ON sms_marketing_mailing
                      FOR EACH ROW WHEN (OLD.company_id IS DISTINCT FROM NEW.company_id)
                      EXECUTE FUNCTION %(function)s()""",
                function=SQL.identifier(MAILING_FUNCTION),
                refresh_recipients=_refresh_recipients_of(SQL("PERFORM"), SQL("mailing_id = NEW.id")),
            )
        )

    def _fold(self):
        """Fold each recipient's rows of one company into one (their last dates). One statement: rows added
        meanwhile by writers not yet committed are not seen, so stay. A recipient recomputed meanwhile by
        another transaction (a click deleted, a failure retried) is left to the next fold."""
        try:
            with self.env.cr.savepoint():
                self.env.cr.execute(
                    SQL(
                        """WITH folded AS (
                               DELETE FROM %(table)s s
                                USING (SELECT res_model, res_id, company_id FROM %(table)s
                                        GROUP BY res_model, res_id, company_id HAVING count(*) > 1) d
                                WHERE s.res_id = d.res_id AND s.res_model = d.res_model
                                  AND s.company_id IS NOT DISTINCT FROM d.company_id
                            RETURNING s.*)
                           INSERT INTO %(table)s (res_model, res_id, company_id, last_click_at, last_failure_at)
                           SELECT res_model, res_id, company_id, max(last_click_at), max(last_failure_at)
                             FROM folded GROUP BY res_model, res_id, company_id""",
                        table=SQL.identifier(SUMMARY_TABLE),
                    )
                )
        except (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected) as error:
            _logger.info("engagement summary: fold left to the next run (%s)", error.pgcode)
