"""The sending engine's builder: a mailing's traces, inserted window after window of ``res_id``.

One set-wise ``INSERT ... SELECT`` per window of what the mailing's audience
answers (``sms.marketing.audience``: canceled traces with their reason for the
records not to send to, each trace's A/B version), each trace's time zone, and
the traces whose sending window is closed held until it opens (docs/design.md,
"Sending", 3).
Only one runner builds a mailing at a time (a transaction advisory lock).
"""

import time

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import quiet_hours
from .sms_marketing_audience import REASONS
from .sms_marketing_trace import NEW_TRACE_UUID_SQL, mailing_being_built_sql

# Namespace of the per-mailing advisory lock of the trace builder ("SMS").
BUILD_LOCK_NAMESPACE = 0x534D53


# One model, one job per file (see models/sms_marketing_engine.py): the split is the point.
class SmsMarketingEngine(models.AbstractModel):
    _inherit = "sms.marketing.engine"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------ building traces
    # one method: the lock, the window's bounds, the insert and the cursor's move are one transaction, in order
    @api.model
    def _build_traces(self, mailing, params):
        """Insert the traces of the next res_id window; returns the rows inserted (or 1 for progress).

        Only one runner builds a mailing at a time (transaction advisory lock);
        the others skip building and send what exists.
        """
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", BUILD_LOCK_NAMESPACE, mailing.id))
        if not cr.fetchone()[0]:
            return 0
        cr.execute(
            SQL(
                "SELECT trace_build_done, trace_build_cursor, trace_build_max FROM sms_marketing_mailing WHERE id = %s",
                mailing.id,
            )
        )
        done, cursor, max_id = cr.fetchone()
        if done:
            return 0
        recipients = self.env["sms.marketing.audience"]._get_recipients_query(mailing)
        first = not max_id
        if first:
            # recipients created after the start of the sending are not part of it
            table = self.env[mailing.recipient_model]._table
            cr.execute(SQL("SELECT COALESCE(max(id), 0) FROM %s", SQL.identifier(table)))
            max_id = cr.fetchone()[0]
        cursor = cursor or 0
        # The next window starts after the last one and grows: a small first one so
        # that the first SMS leaves at once, then four times the span built so far
        # (up to build_max_step), so that the traces already built keep the senders
        # busy while the next window is inserted, and a large audience takes few
        # INSERTs. The first window, and a window after one that found nobody (ids
        # may be sparse), start at the next recipient: that look-up reads the
        # audience in res_id order (a fifth of a window's time at 1,000,000).
        lo = cursor + 1 if not first and cursor < max_id else self._next_recipient_id(recipients, cursor, max_id)
        inserted, hi = 0, max_id
        if lo:
            step = params["build_first_step"]
            if not first:
                # the first trace through the (mailing_id, res_id) index, not a min() over every trace
                # the mailing has built (``mailing_being_built_sql``)
                cr.execute(
                    SQL(
                        """SELECT res_id FROM sms_marketing_trace
                            WHERE mailing_id = %s AND res_id IS NOT NULL
                            ORDER BY res_id LIMIT 1""",
                        mailing_being_built_sql(mailing.id),
                    )
                )
                first_trace = cr.fetchone()
                start = (first_trace and first_trace[0]) or lo
                grown = max(step, 4 * (cursor - start + 1))
                step = min(params["build_max_step"], grown, self._build_step_in_time(params))
            hi = min(lo + step - 1, max_id)
            started = time.monotonic()
            inserted = self._insert_traces(mailing, lo, hi)
            # the claims read the window's traces by the (mailing, id) index only if the planner knows them
            self.env["sms.marketing.trace"]._refresh_statistics(inserted, share=0.1)
            if inserted:  # ids per second of this runner's last window (the next one is sized by it; not a gap's)
                params["_build_ids_per_second"] = (hi - lo + 1) / max(time.monotonic() - started, 0.001)
            elif hi < max_id:  # a gap in the ids: the next window starts at the next recipient
                following = self._next_recipient_id(recipients, hi, max_id)
                hi = following - 1 if following else max_id
        cr.execute(
            SQL(
                """UPDATE sms_marketing_mailing SET trace_build_cursor = %s, trace_build_max = %s,
                          trace_build_done = %s WHERE id = %s""",
                hi,
                max_id,
                hi >= max_id,
                mailing.id,
            )
        )
        mailing.invalidate_recordset(["trace_build_cursor", "trace_build_max", "trace_build_done", "trace_ids"])
        return inserted or 1

    @api.model
    def _get_mailings_being_built(self, mailing_ids):
        """The mailings of ``mailing_ids`` whose next window another runner is building now: it holds
        their build lock, and wakes every sender when its window is committed (``_step``)."""
        if not mailing_ids:
            return set()
        self.env.cr.execute(
            SQL(
                """SELECT objid::bigint FROM pg_locks
                    WHERE locktype = 'advisory' AND classid::bigint = %s AND objsubid = 2 AND granted
                      AND objid::bigint = ANY(%s) AND pid != pg_backend_pid()
                      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())""",
                BUILD_LOCK_NAMESPACE,
                list(mailing_ids),
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _next_recipient_id(self, recipients, after, max_id):
        """The first res_id of the audience ``recipients`` in ]after, max_id], or None."""
        self.env.cr.execute(
            SQL(
                "SELECT q.res_id FROM (%s) q WHERE q.res_id > %s AND q.res_id <= %s ORDER BY q.res_id LIMIT 1",
                recipients,
                after,
                max_id,
            )
        )
        row = self.env.cr.fetchone()
        return row[0] if row else None

    @api.model
    def _build_step_in_time(self, params):
        """The res_id span this runner can build in ``build_window_ms``, from the speed of its last window.

        Nothing is sent by a runner while it builds: with one cron thread, a window
        that takes longer than that is a stretch with no message leaving, whatever
        the machine's load. A runner's first window is ten first windows at most,
        what a loaded machine builds in about that time.
        """
        speed = params.get("_build_ids_per_second")
        if not speed:
            return 10 * params["build_first_step"]
        return max(params["build_first_step"], int(speed * params["build_window_ms"] / 1000))

    @api.model
    def _insert_traces(self, mailing, lo, hi, recipients=None):
        """One set-wise INSERT ... SELECT of the window [lo, hi]: the rows its audience answers
        (``sms.marketing.audience._get_trace_rows_query``), canceled with their reason or pending.
        ``recipients``: the audience's records narrowed by the caller (a journey step's due participants).

        create_uid/write_uid stay empty: traces are made by the system, and each
        of these foreign keys would cost a check per row (a million per mailing).
        """
        reasons = self.env["sms.marketing.trace"]._get_failure_reasons()
        tz_expr, tz_joins = self._get_time_zone_sql(mailing)
        query = SQL(
            """
            INSERT INTO sms_marketing_trace
                   (mailing_id, res_model, res_id, number, country_code, uuid, state, failure_type, failure_reason,
                    try_count, time_zone, create_uid, write_uid, create_date, write_date, variant_id, ab_sample)
            SELECT %(mailing)s, %(model)s, c.res_id, c.number,
                   -- "001" (international networks) is no country: priced as every other country
                   CASE WHEN length(c.country_code) = 2 THEN upper(c.country_code) END,
                   %(new_uuid)s,
                   CASE WHEN c.reason IS NULL THEN 'pending' ELSE 'canceled' END,
                   c.reason,
                   CASE c.reason %(reason_texts)s END,
                   0, %(tz_expr)s, NULL, NULL, %(now)s, %(now)s, c.variant_id, c.ab_sample
              FROM (%(rows)s) c %(tz_joins)s
            ON CONFLICT (mailing_id, res_id) DO NOTHING
            """,
            mailing=mailing.id,
            model=mailing.recipient_model,
            new_uuid=NEW_TRACE_UUID_SQL,
            reason_texts=SQL(" ").join(SQL("WHEN %s THEN %s", reason, reasons[reason]) for reason in REASONS),
            tz_expr=tz_expr,
            now=fields.Datetime.now(),
            rows=self.env["sms.marketing.audience"]._get_trace_rows_query(mailing, lo, hi, recipients),
            tz_joins=tz_joins,
        )
        self.env.cr.execute(query)
        inserted = self.env.cr.rowcount
        if mailing.quiet_hours:
            self._hold_for_window(mailing, lo, hi)
        return inserted

    # ------------------------------------------------------------------ time zones and the sending window
    @api.model
    def _get_time_zone_sql(self, mailing):
        """(expression, joins) of each recipient's zone key, for the INSERT's rows ``c``.

        The record's ``tz`` when its model stores one, else the zones of the
        number's longest prefix in libphonenumber's time-zone table (one hash
        join per prefix length, nine at most: set-wise at any size), else the
        mailing's fallback zone. Empty when the mailing has no sending window.
        """
        if not mailing.quiet_hours:
            return SQL("NULL"), SQL("")
        table = quiet_hours.prefix_table()
        joins, keys = [], []
        for length in quiet_hours.prefix_lengths():
            alias = SQL.identifier(f"zone_{length}")
            joins.append(
                SQL(
                    """LEFT JOIN (SELECT * FROM unnest(%s::varchar[], %s::varchar[]) AS z(prefix, key)) %s
                              ON %s.prefix = substr(c.number, 2, %s)""",
                    [prefix for prefix, _key in table if len(prefix) == length],
                    [key for prefix, key in table if len(prefix) == length],
                    alias,
                    alias,
                    length,
                )
            )
            keys.insert(0, SQL("%s.key", alias))
        Model = self.env[mailing.recipient_model]
        tz_field = Model._fields.get("tz")
        if tz_field and tz_field.store and tz_field.type in ("char", "selection"):
            joins.append(SQL("LEFT JOIN %s rec ON rec.id = c.res_id", SQL.identifier(Model._table)))
            keys.insert(0, SQL("NULLIF(rec.tz, '')"))
        keys.append(SQL("%s", mailing._get_fallback_time_zone()))
        return SQL("COALESCE(%s)", SQL(", ").join(keys)), SQL(" ").join(joins)

    @api.model
    def _get_window_openings(self, mailing, zone_keys):
        """{zone key: next opening (UTC) when later than now}: one computation per distinct key."""
        now = fields.Datetime.now()
        fallback = mailing._get_fallback_time_zone()
        start, end, no_sunday = mailing.window_start, mailing.window_end, mailing.window_no_sunday
        openings = {}
        for key in zone_keys:
            opening = quiet_hours.next_opening(key, now, start, end, no_sunday, fallback)
            if opening is None:  # zones whose windows never overlap: the fallback zone's window decides
                opening = quiet_hours.next_opening(fallback, now, start, end, no_sunday, fallback)
            if opening and opening > now:
                openings[key] = opening
        return openings

    @api.model
    def _hold_for_window(self, mailing, lo, hi):
        """Pending traces of [lo, hi] whose window is closed wait for it: next_try_at = its opening.

        One SELECT DISTINCT of the zone keys, the openings computed per key in
        Python, one UPDATE ... FROM unnest. The trace keeps ``quiet_hours`` as
        its (pending) reason so that the mailing shows how many wait and when.
        """
        cr = self.env.cr
        cr.execute(
            SQL(
                """SELECT DISTINCT time_zone FROM sms_marketing_trace
                    WHERE mailing_id = %s AND res_id BETWEEN %s AND %s AND state = 'pending'""",
                mailing.id,
                lo,
                hi,
            )
        )
        openings = self._get_window_openings(mailing, [row[0] for row in cr.fetchall()])
        if openings:
            cr.execute(
                SQL(
                    """UPDATE sms_marketing_trace t SET next_try_at = v.opening, failure_type = 'quiet_hours',
                              failure_reason = %(reason)s
                         FROM unnest(%(keys)s::varchar[], %(openings)s::timestamp[]) AS v(key, opening)
                        WHERE t.mailing_id = %(mailing)s AND t.res_id BETWEEN %(lo)s AND %(hi)s
                          AND t.state = 'pending' AND t.time_zone = v.key""",
                    reason=self.env["sms.marketing.trace"]._get_failure_reasons()["quiet_hours"],
                    keys=list(openings),
                    openings=list(openings.values()),
                    mailing=mailing.id,
                    lo=lo,
                    hi=hi,
                )
            )
