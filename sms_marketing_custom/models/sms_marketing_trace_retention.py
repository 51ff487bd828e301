"""Retention of the message texts: a year of history without a year of bodies.

A trace keeps what every figure, filter, consent proof and the credit ledger
read (mailing, recipient, number, state, dates, cost, failure, opt-out; the
clicks and consents are other tables) for ever; its text is the heavy part
(the rendered message, with its links), needed only while it may be sent or
looked up. An administrator sets how many months texts are kept
(``sms_marketing_custom.body_retention_months``, Settings; 0 = for ever) and a
daily cron empties the text of the final traces (sent, delivered, failed,
canceled) that left, or were closed, before that, and of the traces still
unknown long after it (their state stays).

How: the trace table is walked in id ranges from where the last run stopped
(``sms_marketing_custom.body_retention_cursor``) to its end, one short
transaction per range (read through the primary key: no index on the dates,
the sending UPDATE stays HOT), so that senders and delivery reports never wait
long: a row another transaction holds is skipped (``SKIP LOCKED``) and done at
a later run. The cursor stays at the first trace still holding a text or still
to get one (a pending trace gets its text when sent: a mailing paused for months), so that
nothing is left behind and a run reads the traces of the retention period only (written once per run: a parameter
written clears the caches of every server). The counters of the mailings do not
change: the text is no figure.
"""

from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.tools import SQL

RETENTION_PARAM = "sms_marketing_custom.body_retention_months"
CURSOR_PARAM = "sms_marketing_custom.body_retention_cursor"
RANGE_SIZE = 10_000
# a pending or unknown trace may still be sent or looked up with its text
FINAL_STATES = ("sent", "delivered", "failed", "canceled")


class SmsMarketingTrace(models.Model):
    _inherit = "sms.marketing.trace"

    @api.model
    def _get_body_retention_cutoff(self):
        """The date before which texts are dropped, or None (kept for ever)."""
        try:
            months = int(self.env["ir.config_parameter"].sudo().get_param(RETENTION_PARAM) or 0)
        except ValueError:
            months = 0
        return fields.Datetime.now() - relativedelta(months=months) if months > 0 else None

    @api.model
    def _cron_drop_old_bodies(self, range_size=RANGE_SIZE):
        """Empty the texts of the final traces older than the retention; -> the number of texts emptied."""
        cutoff = self._get_body_retention_cutoff()
        if cutoff is None:
            return 0
        cr = self.env.cr
        params = self.env["ir.config_parameter"].sudo()
        start = int(params.get_param(CURSOR_PARAM) or 0)
        cr.execute("SELECT max(id) FROM sms_marketing_trace")
        last_id = cr.fetchone()[0] or 0
        cursor, dropped, low = start, 0, start
        # a trace's age: when it left, else (canceled before) when it was made
        age = SQL("COALESCE(t.sent_at, t.create_date, t.write_date)")
        # An unknown trace is looked up a few times within hours (max_tries, capped backoff); one still
        # unknown past the retention (plus a look-up's allowed time) keeps its state, not its text: a
        # look-up finds it by its ids, and were it found never taken, sending it again renders it anew.
        timeout = self.env["sms.marketing.engine"]._get_params()["in_flight_timeout"]
        settled = SQL(
            "(t.state IN %s OR (t.state = 'unknown' AND %s < %s))",
            FINAL_STATES,
            age,
            cutoff - timedelta(seconds=timeout),
        )
        while low <= last_id:
            high = low + range_size
            cr.execute(
                SQL(
                    """WITH done AS (
                           UPDATE sms_marketing_trace t SET body = NULL
                            WHERE t.id IN (SELECT t.id FROM sms_marketing_trace t
                                            WHERE t.id >= %(low)s AND t.id < %(high)s AND t.body IS NOT NULL
                                              AND %(settled)s AND %(age)s < %(cutoff)s
                                              FOR NO KEY UPDATE SKIP LOCKED)
                        RETURNING t.id)
                       SELECT (SELECT count(*) FROM done),
                              (SELECT min(t.id) FROM sms_marketing_trace t
                                WHERE t.id >= %(low)s AND t.id < %(high)s
                                  -- a text to empty later, or one to come (a trace not sent yet)
                                  AND (t.body IS NOT NULL OR NOT %(settled)s)
                                  AND NOT EXISTS (SELECT 1 FROM done d WHERE d.id = t.id)),
                              (SELECT min(t.id) FROM sms_marketing_trace t WHERE t.id >= %(high)s)""",
                    low=low,
                    high=high,
                    settled=settled,
                    age=age,
                    cutoff=cutoff,
                )  # fmt: skip
            )
            count, kept, next_low = cr.fetchone()
            dropped += count
            if cursor == low:
                # the traces of this range that keep their text (too young, not final, locked) or will get
                # one (pending) hold the cursor; else it moves past the range and the gap of ids after it
                cursor = kept if kept is not None else (next_low or high)
            self.env["sms.marketing.engine"]._commit()
            if next_low is None:
                break
            low = next_low  # over a gap of ids (deleted mailings, rolled back inserts) at once
        if cursor != start:
            # once per run: a parameter written clears every worker's caches
            params.set_param(CURSOR_PARAM, str(cursor))
        return dropped
