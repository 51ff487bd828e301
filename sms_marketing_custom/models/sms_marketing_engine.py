"""The sending engine: turns queued mailings into sent messages, exactly once per recipient.

What
    ``_run`` is the queue cron's work (``sms.marketing.mailing._cron_process_queue``,
    woken by ``ir.cron._trigger`` on Send and Schedule). It takes due mailings and
    sends them in batches, each batch in its own transaction.

How (docs/design.md, "Sending"), one unit per step:
    ``_wake_due_mailings``
        ``scheduled`` and due -> ``sending``; paused for credit -> ``sending``
        once the gateway has credit; canceled -> their pending traces closed.
    ``_build_traces``
        ``INSERT ... SELECT`` from the mailing's audience query
        (``_get_recipients_query``, the one definition of who receives it),
        window after window of ``res_id`` (a small first window so the first
        SMS leaves within seconds), under a per-mailing advisory lock.
        Blacklisted, opted-out, duplicate and invalid numbers become
        ``canceled`` traces with their reason. ``ON CONFLICT (mailing_id,
        res_id) DO NOTHING``: a window re-run after a crash adds nothing.
    ``_claim``
        the next batch of ``pending`` traces, ``FOR NO KEY UPDATE SKIP LOCKED``
        (several runners share a mailing).
    ``_prepare``
        each message's text (``mailing._render_messages``), parts and price
        (``tools.pricing``, the gateway's ``_get_prices``).
    ``_reserve``
        credits for the longest prefix of the batch the balance allows, as a
        ledger line with a lease; the gateway's rate limit slots; the traces
        marked with that line (``claim_move_id``). Committed: no lock is held
        during the provider call.
    ``_send``
        the gateway's provider, which answers per message (after waiting for
        the rate limit slot, outside any transaction).
    ``_record_batch``
        the lease closed (the arbiter with a recovery), traces updated with
        one ``UPDATE ... FROM unnest(...)`` from the answers
        (``sms.marketing.trace._get_outcome``), reservation settled.
    ``_recover_batches``
        a lease past its end (its sender died): credits refunded, traces
        released, to be sent again under the same uuids.

Invariants: a trace is sent at most once per uuid (the idempotency key); no
trace is lost (a killed batch's traces come back with its expired lease, and
the next run sends the same uuids again, which the gateway answers
``duplicate``); every reservation is closed exactly once, so the ledger sums
to the balance; credits are never spent on a refused message and the balance
never goes negative.

Caveats
    A killed sender's batch waits for its lease to end (twice the gateway's
    time-out plus ``lease_margin_seconds``) before it is resent. Batch sizes,
    the time budget and the lease margin are ir.config_parameter's
    ``sms_marketing_custom.*`` (``_get_params``); the number of sender crons
    is ``sms_marketing_custom.sender_crons`` (``_sync_sender_crons``).
"""

import logging
import threading
import time
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..providers import PROVIDERS, SERVER_ERROR, SmsGatewayError, SmsGatewayTransientError
from ..tools import pricing, quiet_hours
from ..tools.sms_encoding import segment_count

_logger = logging.getLogger(__name__)

PARAM_DEFAULTS = {
    "batch_size": 1000,  # traces claimed and sent per transaction
    "build_first_step": 2000,  # res_id window of the first build chunk (first SMS fast)
    "build_max_step": 100000,  # largest res_id window of one build chunk
    "time_budget": 50,  # seconds one cron run works before re-triggering itself
    "retry_base_seconds": 30,  # backoff: base * 2 ** tries, capped
    "retry_max_seconds": 3600,
    "max_tries": 6,  # transient errors before a trace fails
    "lease_margin_seconds": 60,  # a batch in flight this long past its call's time-out is presumed dead
    # a provider without idempotency key: how long a call may take before its in-flight
    # messages are taken for a crash's (sooner when their sender's database session is gone)
    "in_flight_timeout": 900,
}
# A build window of fewer traces never re-analyzes the trace table (see _refresh_trace_statistics).
TRACE_ANALYZE_MIN_ROWS = 10000
# Namespace of the per-mailing advisory lock of the trace builder ("SMS").
BUILD_LOCK_NAMESPACE = 0x534D53
# Namespace of the per-number advisory locks of the frequency cap at claim time ("SMF").
CAP_LOCK_NAMESPACE = 0x534D46


class SmsMarketingEngine(models.AbstractModel):
    _name = "sms.marketing.engine"
    _description = "SMS Sending Engine"

    # ------------------------------------------------------------------ run
    @api.model
    def _run(self, time_budget=None, loop=False, idle_sleep=1.0, batch_size=None):
        """Send due mailings for ``time_budget`` seconds; callable from any process.

        With ``loop=True`` (a dedicated worker process), it keeps polling until
        the budget is spent; otherwise it returns as soon as nothing is left
        to do now. Several runners may work on one database at once.
        """
        self._commit()  # from here on, one transaction per batch (see _commit)
        params = self._get_params()
        if batch_size:
            params["batch_size"] = batch_size
        started_at = fields.Datetime.now()
        deadline = time.monotonic() + (time_budget if time_budget is not None else params["time_budget"])
        Mailing = self.env["sms.marketing.mailing"]
        while True:
            self._recover_batches()
            self._wake_due_mailings()
            worked = False
            for mailing_id in self._get_sending_mailing_ids():
                mailing = Mailing.browse(mailing_id)
                while time.monotonic() < deadline:
                    progress = self._step(mailing, params)
                    worked = worked or progress
                    if not progress:
                        break
                if time.monotonic() >= deadline:
                    break
            if time.monotonic() >= deadline or (not worked and not loop):
                break
            if not worked:
                time.sleep(idle_sleep)
        self._retrigger(started_at)
        return True

    @api.model
    def _get_params(self):
        get = self.env["ir.config_parameter"].sudo().get_param
        return {key: int(get(f"sms_marketing_custom.{key}", default)) for key, default in PARAM_DEFAULTS.items()}

    @api.model
    def _commit(self):
        """End the current batch's transaction and start the next one in READ COMMITTED.

        The cron and worker own their transaction: committing per batch makes
        progress durable and releases the claims and the gateway row. Never in
        tests. Odoo's cursors are REPEATABLE READ, where a claim or a balance
        UPDATE meeting a row another runner changed since the snapshot fails
        with a serialization error; in READ COMMITTED the claim skips or
        re-checks the row and the conditional UPDATE waits and re-evaluates,
        which is what several runners at once need.

        JIT compilation is off in these transactions: the planner turns it on
        for the audience INSERT and for queries whose row estimates are stale
        while a mailing fills the trace table, and compiling took longer (0.5 s
        for a 100,000-recipient window) than running them.
        """
        self.env.flush_all()
        if not self.env.registry.in_test_mode() and not getattr(threading.current_thread(), "testing", False):
            self.env.cr.commit()  # pylint: disable=invalid-commit
            self.env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED; SET LOCAL jit = off")
        self.env.invalidate_all()

    # ------------------------------------------------------------------ queue
    @api.model
    def _wake_due_mailings(self):
        """scheduled & due -> sending; paused for credit -> sending once the gateway has credit;
        A/B tests past their decision time -> sending to the rest."""
        self._reconcile_unknown()
        self._decide_ab_tests()
        Mailing = self.env["sms.marketing.mailing"]
        now = fields.Datetime.now()
        due = Mailing.search([("state", "=", "scheduled"), ("schedule_date", "<=", now)])
        due._set_sending()
        paused = Mailing.search([("state", "=", "paused"), ("pause_code", "=", "insufficient_credit")])
        for mailing in paused:
            gateway = self._get_gateway(mailing)
            if gateway and self._gateway_has_credit(gateway):
                mailing._set_sending(from_state="paused", pause_code="insufficient_credit")
        # A canceled mailing sends nothing more: its pending traces are closed,
        # once (trace_build_cursor -1 marks it; a canceled mailing builds no more).
        self.env.cr.execute(
            """UPDATE sms_marketing_mailing SET trace_build_done = TRUE, trace_build_cursor = -1
                WHERE state = 'canceled' AND trace_build_cursor != -1 AND trace_build_max > 0 RETURNING id"""
        )
        closed = [row[0] for row in self.env.cr.fetchall()]
        if closed:
            self.env.cr.execute(
                SQL(
                    """UPDATE sms_marketing_trace SET state = 'canceled', failure_type = 'mailing_canceled',
                              failure_reason = %s
                        WHERE mailing_id = ANY(%s) AND state = 'pending'""",
                    self.env["sms.marketing.trace"]._get_failure_reasons()["mailing_canceled"],
                    closed,
                )
            )
        if due or paused or closed:
            self._commit()

    @api.model
    def _gateway_has_credit(self, gateway):
        """True when ``gateway`` can pay for one one-part message, its balance read again from the provider."""
        try:
            gateway._refresh_balance()
        except UserError:
            _logger.info("gateway %s unreachable: its paused mailings stay paused", gateway.id)
            return False
        prices = gateway._get_prices()
        return gateway.balance > 0 and gateway.balance >= min(prices.values())

    @api.model
    def _get_sending_mailing_ids(self):
        self.env.cr.execute("SELECT id FROM sms_marketing_mailing WHERE state = 'sending' ORDER BY id")
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _retrigger(self, started_at):
        """Wake the cron again: now while work is ready, else at the next retry/schedule."""
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """SELECT bool_or(NOT m.trace_build_done OR t.next_try_at IS NULL OR t.next_try_at <= %(now)s),
                          min(t.next_try_at) FILTER (WHERE t.next_try_at > %(now)s)
                     FROM sms_marketing_mailing m
                     LEFT JOIN LATERAL (
                          SELECT next_try_at FROM sms_marketing_trace
                           WHERE mailing_id = m.id AND state = 'pending'
                           ORDER BY next_try_at NULLS FIRST LIMIT 1) t ON TRUE
                    WHERE m.state = 'sending'""",
                now=now,
            )
        )
        ready, next_retry = self.env.cr.fetchone()
        ats = []
        if ready:
            # The cron runner deletes the triggers older than the start of this
            # run when it ends: never trigger at a time before it.
            ats.append(max(now, started_at + timedelta(seconds=1)))
        if next_retry:
            ats.append(next_retry)
        self.env.cr.execute(
            "SELECT min(schedule_date) FROM sms_marketing_mailing WHERE state = 'scheduled' AND schedule_date > %s",
            [now],
        )
        next_schedule = self.env.cr.fetchone()[0]
        if next_schedule:
            ats.append(next_schedule)
        # a batch whose sender died is recovered when its lease ends
        self.env.cr.execute("SELECT min(lease_until) FROM sms_marketing_credit_move WHERE lease_until IS NOT NULL")
        lease_end = self.env.cr.fetchone()[0]
        if lease_end:
            ats.append(max(lease_end, started_at + timedelta(seconds=1)))
        if ats:
            self._trigger_senders(ats)
            self._commit()

    # ------------------------------------------------------------------ sender crons
    @api.model
    def _get_sender_count(self):
        """How many sender crons share the queue: ``sms_marketing_custom.sender_crons`` (default 2, at least 1)."""
        value = self.env["ir.config_parameter"].sudo().get_param("sms_marketing_custom.sender_crons", "2")
        try:
            return max(1, int(value))
        except ValueError:
            _logger.warning("sms_marketing_custom.sender_crons is not a number (%r): 2 sender crons", value)
            return 2

    @api.model
    def _sync_sender_crons(self):
        """The active sender crons, made to match ``sms_marketing_custom.sender_crons``.

        Odoo runs one instance of a cron job at a time: each sender is a job
        of its own (``ir_cron_sms_marketing_process_queue`` plus
        ``ir_cron_sms_marketing_sender_<n>``, created on demand, archived when
        the setting goes down), so that as many cron threads of as many
        servers as there are senders work on the queue at once.
        """
        main = self.env.ref("sms_marketing_custom.ir_cron_sms_marketing_process_queue", raise_if_not_found=False)
        if not main:
            return self.env["ir.cron"]
        main = main.sudo()  # sudo: marketers wake the queue, crons are the system's
        wanted = self._get_sender_count()
        data = self.env["ir.model.data"].sudo()
        extras = {
            int(record.name.rsplit("_", 1)[1]): record.res_id
            for record in data.search(
                [("module", "=", "sms_marketing_custom"), ("name", "=like", "ir_cron_sms_marketing_sender_%")]
            )
        }
        Cron = self.env["ir.cron"].sudo().with_context(active_test=False)
        senders = main
        for number in range(2, max([wanted, *extras]) + 1):
            cron = Cron.browse(extras.get(number)).exists() if number in extras else Cron
            if number <= wanted:
                if not cron:
                    cron = main.copy({"name": _("%(name)s (sender %(number)s)", name=main.name, number=number)})
                    data.create(
                        {
                            "module": "sms_marketing_custom",
                            "name": f"ir_cron_sms_marketing_sender_{number}",
                            "model": "ir.cron",
                            "res_id": cron.id,
                            "noupdate": True,  # made at run time: module updates keep it
                        }
                    )
                if not cron.active:
                    cron.active = True
                senders |= cron
            elif cron.active:
                cron.active = False
        return senders

    @api.model
    def _trigger_senders(self, at=None):
        """Wake every sender cron (``ir.cron._trigger``) at ``at`` (a datetime or a list), now by default."""
        for cron in self._sync_sender_crons():
            cron._trigger(at)

    # ------------------------------------------------------------------ one mailing
    @api.model
    def _get_gateway(self, mailing):
        return mailing._get_gateway().sudo()  # sudo: the engine accounts credits on gateways marketers only read

    @api.model
    def _step(self, mailing, params):
        """Build one window of traces if needed, then send one batch. True if anything happened."""
        self.env.cr.execute(SQL("SELECT state, trace_build_done FROM sms_marketing_mailing WHERE id = %s", mailing.id))
        row = self.env.cr.fetchone()
        if not row or row[0] != "sending":
            return False
        built = 0
        if not row[1]:
            access_error = mailing._get_sender_access_error()
            if access_error:
                self._pause(mailing, "sender_access", access_error)
                self._commit()
                return False
            built = self._build_traces(mailing, params)
            self._commit()
        sent = self._send_batch(mailing, params)
        self._commit()
        if not sent and not built:
            return self._check_done(mailing)
        return True

    @api.model
    def _check_done(self, mailing):
        """Mark the mailing done when it is built and no trace is pending any more; an A/B test's
        test share, once sent, waits for its winner (``testing``)."""
        sent = SQL(
            """m.trace_build_done
               AND NOT EXISTS (SELECT 1 FROM sms_marketing_trace t WHERE t.mailing_id = m.id AND t.state = 'pending')"""
        )
        finished = mailing._set_testing(where=sent) or mailing._set_done(where=sent)
        if finished:
            self._commit()
        return bool(finished)

    @api.model
    def _decide_ab_tests(self):
        """A/B tests past their decision time: the best version goes to the rest of the audience."""
        self.env.cr.execute(
            SQL(
                """SELECT id FROM sms_marketing_mailing
                    WHERE state = 'testing' AND ab_winner_metric != 'manual' AND ab_winner_variant_id IS NULL
                      AND ab_test_sent_at + make_interval(hours => ab_decision_hours) <= %s""",
                fields.Datetime.now(),
            )
        )
        mailings = self.env["sms.marketing.mailing"].browse([row[0] for row in self.env.cr.fetchall()])
        for mailing in mailings:
            winner = self.env["sms.marketing.mailing.variant"]._pick_winner(mailing)
            if winner and mailing._start_rest(winner):
                self._commit()
        return mailings

    @api.model
    def _pause(self, mailing, code, reason):
        mailing._set_paused(code, reason)

    # ------------------------------------------------------------------ building traces
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
        recipients = mailing._get_recipients_query()
        first = not max_id
        if first:
            # recipients created after the start of the sending are not part of it
            table = self.env[mailing.recipient_model]._table
            cr.execute(SQL("SELECT COALESCE(max(id), 0) FROM %s", SQL.identifier(table)))
            max_id = cr.fetchone()[0]
        cursor = cursor or 0
        # The next window starts at the next recipient (ids may be sparse) and
        # grows: a small first one so that the first SMS leaves at once, then
        # four times the span built so far (up to build_max_step), so that the
        # traces already built keep the senders busy while the next window is
        # inserted, and a large audience takes few INSERTs.
        cr.execute(
            SQL(
                "SELECT q.res_id FROM (%s) q WHERE q.res_id > %s AND q.res_id <= %s ORDER BY q.res_id LIMIT 1",
                recipients,
                cursor,
                max_id,
            )
        )
        row = cr.fetchone()
        inserted, hi = 0, max_id
        if row:
            step = params["build_first_step"]
            if not first:
                cr.execute(SQL("SELECT min(res_id) FROM sms_marketing_trace WHERE mailing_id = %s", mailing.id))
                start = cr.fetchone()[0] or row[0]
                step = min(params["build_max_step"], max(step, 4 * (cursor - start + 1)))
            lo, hi = row[0], min(row[0] + step - 1, max_id)
            inserted = self._insert_traces(mailing, recipients, lo, hi)
            self._refresh_trace_statistics(inserted)
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
    def _refresh_trace_statistics(self, inserted):
        """ANALYZE the trace table after a window that changed it by a tenth or more.

        The claims find a mailing's pending traces through the (mailing, id)
        index only if the planner knows they are there: with statistics taken
        before the window (autovacuum comes a minute later at best), it reads
        the whole table and sorts it for every batch. A table of many earlier
        mailings is barely changed by one window and is not analyzed again.
        """
        if inserted < TRACE_ANALYZE_MIN_ROWS:
            return
        cr = self.env.cr
        cr.execute("SELECT reltuples FROM pg_class WHERE oid = 'sms_marketing_trace'::regclass")
        known = cr.fetchone()[0]
        if known < 0 or inserted >= 0.1 * known:  # -1: never analyzed
            cr.execute("ANALYZE sms_marketing_trace")

    @api.model
    def _insert_traces(self, mailing, recipients, lo, hi):
        """One set-wise INSERT ... SELECT of the window [lo, hi] of the audience.

        create_uid/write_uid stay empty: traces are made by the system, and each
        of these foreign keys would cost a check per row (a million per mailing).
        """
        reasons = self.env["sms.marketing.trace"]._get_failure_reasons()
        now = fields.Datetime.now()
        tz_expr, tz_joins = self._get_time_zone_sql(mailing)
        query = SQL(
            """
            WITH src AS (
                SELECT q.res_id, NULLIF(q.number, '') AS number, q.country_code,
                       COALESCE(q.opted_out, FALSE) AS opted_out
                  FROM (%(query)s) q
                 WHERE q.res_id BETWEEN %(lo)s AND %(hi)s
            ), flagged AS (
                SELECT src.*, (bl.id IS NOT NULL) AS blacklisted,
                       (src.number IS NOT NULL AND bl.id IS NULL AND NOT src.opted_out AND %(capped)s) AS capped
                  FROM src
                  LEFT JOIN sms_marketing_blacklist bl ON bl.number = src.number AND bl.active
            ), ranked AS (
                SELECT flagged.*,
                       row_number() OVER (PARTITION BY number ORDER BY (opted_out OR blacklisted OR capped), res_id)
                       AS rn,
                       EXISTS (SELECT 1 FROM sms_marketing_trace t
                                WHERE t.mailing_id = %(mailing)s AND t.number = flagged.number
                                  AND t.state != 'canceled' AND t.res_id != flagged.res_id) AS seen
                  FROM flagged
            ), classified AS (
                SELECT ranked.*,
                       CASE WHEN number IS NULL THEN 'invalid_number'
                            WHEN blacklisted THEN 'blacklisted'
                            WHEN opted_out THEN 'opted_out'
                            WHEN capped THEN 'frequency_capped'
                            WHEN rn > 1 OR seen THEN 'duplicate' END AS failure_type
                  FROM ranked
            ), versioned AS (%(versioned)s)
            INSERT INTO sms_marketing_trace
                   (mailing_id, res_model, res_id, number, country_code, uuid, state, failure_type, failure_reason,
                    try_count, time_zone, create_uid, write_uid, create_date, write_date, variant_id, ab_sample)
            SELECT %(mailing)s, %(model)s, c.res_id, c.number,
                   -- "001" (international networks) is no country: priced as every other country
                   CASE WHEN length(c.country_code) = 2 THEN upper(c.country_code) END,
                   replace(gen_random_uuid()::text, '-', ''),
                   CASE WHEN c.failure_type IS NULL THEN 'pending' ELSE 'canceled' END,
                   c.failure_type,
                   CASE c.failure_type WHEN 'invalid_number' THEN %(r_invalid)s
                                       WHEN 'blacklisted' THEN %(r_blacklisted)s
                                       WHEN 'opted_out' THEN %(r_opted_out)s
                                       WHEN 'frequency_capped' THEN %(r_capped)s
                                       WHEN 'duplicate' THEN %(r_duplicate)s END,
                   0, %(tz_expr)s, NULL, NULL, %(now)s, %(now)s, c.variant_id, c.ab_sample
              FROM versioned c %(tz_joins)s
            ON CONFLICT (mailing_id, res_id) DO NOTHING
            """,
            query=recipients,
            lo=lo,
            hi=hi,
            mailing=mailing.id,
            model=mailing.recipient_model,
            now=now,
            r_invalid=reasons["invalid_number"],
            r_blacklisted=reasons["blacklisted"],
            r_opted_out=reasons["opted_out"],
            r_capped=reasons["frequency_capped"],
            tz_expr=tz_expr,
            tz_joins=tz_joins,
            capped=mailing._get_frequency_cap_condition(SQL("src.number")),
            r_duplicate=reasons["duplicate"],
            versioned=self._get_versioned_sql(mailing),
        )
        self.env.cr.execute(query)
        inserted = self.env.cr.rowcount
        if mailing.quiet_hours:
            self._hold_for_window(mailing, lo, hi)
        return inserted

    @api.model
    def _get_versioned_sql(self, mailing):
        """The ``versioned`` step of ``_insert_traces``: rows of ``classified`` with their A/B version.

        No A/B test: every row, no version. Test phase (no winner yet): only the
        test share — of the window's rows to send to, the first ``ab_test_share``
        % (rounded up) by md5(mailing, record), a draw that is random and the
        same on every run — dealt round-robin to the versions, continuing from the
        test rows already built so that the versions stay even across windows.
        Rest phase: every row, with the winner; the test share's rows are
        already there (the insert's ON CONFLICT skips them) and their numbers
        make the rest's same numbers duplicates.
        """
        if not mailing.ab_testing:
            return SQL("SELECT classified.*, NULL::int AS variant_id, FALSE AS ab_sample FROM classified")
        if mailing.ab_winner_variant_id:
            return SQL(
                "SELECT classified.*, %s::int AS variant_id, FALSE AS ab_sample FROM classified",
                mailing.ab_winner_variant_id.id,
            )
        versions = mailing.variant_ids.sorted(lambda v: (not v.is_main, v.sequence, v.id)).ids
        return SQL(
            """SELECT d.*, (%(versions)s::int[])[mod(d.draw - 1 + %(dealt)s, %(count)s) + 1] AS variant_id,
                      TRUE AS ab_sample
                 FROM (SELECT classified.*,
                              row_number() OVER (ORDER BY md5(%(seed)s || classified.res_id::text)) AS draw,
                              count(*) OVER () AS eligible
                         FROM classified WHERE classified.failure_type IS NULL) d
                WHERE d.draw <= ceil(d.eligible * %(share)s / 100.0)""",
            versions=versions,
            count=len(versions),
            dealt=SQL("(SELECT count(*) FROM sms_marketing_trace WHERE mailing_id = %s AND ab_sample)", mailing.id),
            seed=f"{mailing.id}:",
            share=mailing.ab_test_share,
        )

    @api.model
    def _get_time_zone_sql(self, mailing):
        """(expression, joins) of each recipient's zone key, for the INSERT's ``classified c`` rows.

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

    @api.model
    def _apply_window(self, mailing, rows):
        """(rows to send, count held back): the sending window checked again at claim time.

        A trace built while its window was open may be claimed after it closed
        (a long mailing, a retry): it waits for the next opening instead.
        """
        if not rows or not mailing.quiet_hours:
            return rows, 0
        cr = self.env.cr
        ids = [row[0] for row in rows]
        cr.execute(SQL("SELECT id, time_zone FROM sms_marketing_trace WHERE id = ANY(%s)", ids))
        zone_by_id = dict(cr.fetchall())
        openings = self._get_window_openings(mailing, set(zone_by_id.values()))
        held = [trace_id for trace_id in ids if zone_by_id.get(trace_id) in openings]
        if held:
            cr.execute(
                SQL(
                    """UPDATE sms_marketing_trace t SET next_try_at = v.opening, failure_type = 'quiet_hours',
                              failure_reason = %s
                         FROM unnest(%s::int[], %s::timestamp[]) AS v(id, opening)
                        WHERE t.id = v.id""",
                    self.env["sms.marketing.trace"]._get_failure_reasons()["quiet_hours"],
                    held,
                    [openings[zone_by_id[trace_id]] for trace_id in held],
                )
            )
            self.env["sms.marketing.trace"].invalidate_model(["next_try_at", "failure_type", "failure_reason"])
        held = set(held)
        return [row for row in rows if row[0] not in held], len(held)

    # ------------------------------------------------------------------ sending one batch
    @api.model
    def _send_batch(self, mailing, params):
        """Claim, prepare, reserve, send and record one batch. Returns the traces claimed, 0 to stop.

        Two transactions, none open during the provider call: the claim, the
        reservation (a ledger line with a lease) and the traces' claim marker
        are committed first; the answer is recorded and the reservation settled
        in a second one. A sender killed in between leaves a lease that
        ``_recover_batches`` settles once it has expired.
        """
        self.env.flush_all()
        gateway = self._get_gateway(mailing)
        params.setdefault("_after", {})  # the claim's position is the runner's, shared by the copy below
        rows = self._claim(mailing, dict(params, batch_size=self._get_batch_size(gateway, params)))
        if not rows:
            return 0
        gateway = self._route_batch(mailing, rows, params)
        if not gateway:
            self._pause(mailing, "gateway_error", _("No SMS gateway is configured: add one in the configuration."))
            return 0
        messages = self._prepare(mailing, gateway, rows, params)
        count, move_id, delay = self._reserve(mailing, gateway, messages, params)
        if count < len(messages):  # the rest of the batch stays pending, untouched
            self._pause_for_credit(mailing, gateway)
        if not count:
            return 0
        batch = messages[:count]
        reserved = round(sum(message["cost"] for message in batch), pricing.LEDGER_DIGITS)
        self._commit()  # claim marker + reservation durable, every lock released before the call
        if delay > 0:
            self._wait(delay)
        try:
            results, transient_error = self._send(gateway, batch, params)
        except SmsGatewayError as error:  # refused for good: nothing was sent, nothing is charged
            if self._release_batch(mailing, gateway, move_id, reserved):
                self._pause(mailing, "gateway_error", str(error))
            return 0
        spent, insufficient = self._record_batch(
            mailing, gateway, move_id, reserved, batch, results, transient_error, params
        )
        if spent is None:
            _logger.warning(
                "mailing %s: batch %s was recovered by another runner; its answer is dropped", mailing.id, move_id
            )
            return len(rows)
        if insufficient:
            self._pause_for_credit(mailing, gateway)
        if transient_error:
            _logger.info("mailing %s: gateway error, batch retried later: %s", mailing.id, transient_error)
            return 0  # stop hammering a failing gateway in this run; the cron comes back at next_try_at
        return len(rows)

    @api.model
    def _get_batch_size(self, gateway, params):
        """``batch_size``, and at most one second of the gateway's rate limit: a batch leaves at once."""
        size = params["batch_size"]
        if gateway and gateway.rate_limit > 0:
            size = min(size, max(1, int(gateway.rate_limit)))
        return size

    @api.model
    def _record_batch(self, mailing, gateway, move_id, reserved, messages, results, transient_error, params):
        """Close the batch's lease, record its answers, settle its reservation; (spent, insufficient).

        Closing the lease comes first: it is the arbiter between this sender
        and a recovery of its expired lease (``sms.marketing.gateway._close_lease``).
        (None, False) when the recovery won: the answer is dropped, the
        messages are sent again under the same uuids.
        """
        if not gateway._close_lease(move_id):
            return None, False
        spent, insufficient = self._record(mailing, messages, results, transient_error, params)
        gateway._settle(reserved, spent, mailing=mailing)
        return spent, insufficient

    @api.model
    def _release_batch(self, mailing, gateway, move_id, reserved):
        """Give a batch's credits back and its traces to the queue, nothing sent; False if already closed."""
        if not gateway._close_lease(move_id):
            return False
        gateway._settle(reserved, 0.0, mailing=mailing)
        self.env.cr.execute(
            SQL(
                """UPDATE sms_marketing_trace SET claim_move_id = NULL
                    WHERE mailing_id = %s AND claim_move_id = %s""",
                mailing.id,
                move_id,
            )
        )
        return True

    @api.model
    def _recover_batches(self, now=None):
        """Settle the reservations whose lease expired (their sender died): refund, release the traces.

        The traces go back to the queue with their uuids: the next send of a
        message the gateway had accepted is answered ``duplicate`` and
        accounted once. Expired leases being settled by a live sender are
        skipped (``SKIP LOCKED``) and lost to it or to this recovery
        (``sms.marketing.gateway._close_lease``). Returns the number of batches recovered.
        """
        now = now or fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """SELECT id, gateway_id, mailing_id, -amount FROM sms_marketing_credit_move
                    WHERE lease_until < %s ORDER BY id LIMIT 100 FOR NO KEY UPDATE SKIP LOCKED""",
                now,
            )
        )
        rows = self.env.cr.fetchall()
        recovered = 0
        for move_id, gateway_id, mailing_id, reserved in rows:
            gateway = self.env["sms.marketing.gateway"].sudo().browse(gateway_id)
            mailing = self.env["sms.marketing.mailing"].browse(mailing_id)
            if self._release_batch(mailing, gateway, move_id, reserved):
                recovered += 1
                _logger.warning(
                    "mailing %s: the sender of batch %s stopped before recording it; its messages go back to the queue",
                    mailing_id,
                    move_id,
                )
        if rows:
            self._commit()
        return recovered

    @api.model
    def _pause_for_credit(self, mailing, gateway):
        self._pause(
            mailing,
            "insufficient_credit",
            _(
                "Paused: the gateway %(gateway)s has not enough credits left. "
                "The mailing resumes by itself once credits are added.",
                gateway=gateway.name,
            ),
        )

    @api.model
    def _wait(self, seconds):
        """Pace the sender (rate limit), outside any transaction."""
        time.sleep(seconds)

    @api.model
    def _claim(self, mailing, params):
        """The next batch to send: ``_claim_rows``, less what the frequency cap holds back or cancels
        and what waits for its sending window.

        A batch emptied by canceling or deferring its traces is progress: the
        next batch is claimed at once. An empty answer means nothing can be sent now.
        """
        while True:
            rows = self._claim_rows(mailing, params)
            kept, canceled = self._apply_frequency_cap(mailing, rows)
            kept, held = self._apply_window(mailing, kept)
            if kept or not (canceled or held):
                return kept

    @api.model
    def _apply_frequency_cap(self, mailing, rows):
        """(rows to send, count canceled): the frequency cap checked again at claim time.

        The audience query and the INSERT only see what was sent when they ran:
        two mailings sending to the same number at once would both pass a cap
        of 1. So each claimed number takes a transaction advisory lock (the
        lock ends with the commit of the reservation, which commits the traces'
        claim markers too, and the cap counts a claimed trace as sent); a
        number another runner holds is left pending for a later claim, and a
        locked number is checked with ``_get_frequency_cap_condition`` in a
        statement run after the lock was taken, which in READ COMMITTED
        (``_commit``) sees every batch committed before. Traces over the cap
        are canceled with their reason. Mailings without a cap take no lock.
        """
        if not rows or mailing.frequency_cap_count <= 0:
            return rows, 0
        cr = self.env.cr
        numbers = sorted({row[2] for row in rows if row[2]})
        cr.execute(
            SQL(
                "SELECT n FROM unnest(%s::varchar[]) n WHERE pg_try_advisory_xact_lock(%s, hashtext(n))",
                numbers,
                CAP_LOCK_NAMESPACE,
            )
        )
        locked = [row[0] for row in cr.fetchall()]
        capped = set()
        if locked:
            cr.execute(
                SQL(
                    "SELECT n FROM unnest(%s::varchar[]) n WHERE %s",
                    locked,
                    mailing._get_frequency_cap_condition(SQL("n")),
                )
            )
            capped = {row[0] for row in cr.fetchall()}
        locked = set(locked)
        cancel_ids = [row[0] for row in rows if row[2] in capped]
        if cancel_ids:
            cr.execute(
                SQL(
                    """UPDATE sms_marketing_trace SET state = 'canceled', failure_type = 'frequency_capped',
                              failure_reason = %s, write_date = %s
                        WHERE id = ANY(%s) AND state = 'pending'""",
                    self.env["sms.marketing.trace"]._get_failure_reasons()["frequency_capped"],
                    fields.Datetime.now(),
                    cancel_ids,
                )
            )
            self.env["sms.marketing.trace"].invalidate_model(["state", "failure_type", "failure_reason"])
        kept = [row for row in rows if not row[2] or (row[2] in locked and row[2] not in capped)]
        return kept, len(cancel_ids)

    @api.model
    def _claim_rows(self, mailing, params):
        """Lock the next batch of pending traces; rows locked by other runners are skipped.

        Each runner walks the mailing forward from the last id it claimed (the
        index entries of rows already sent are not scanned again), and starts
        over from the beginning when it reaches the end (retries, skipped rows).
        Returns rows (id, res_id, number, uuid, country_code, try_count).
        """
        cursors = params.setdefault("_after", {})
        after = cursors.get(mailing.id, 0)
        while True:
            if not after:  # start from the mailing's first trace, not from the table's
                self.env.cr.execute(
                    SQL("SELECT COALESCE(min(id), 1) - 1 FROM sms_marketing_trace WHERE mailing_id = %s", mailing.id)
                )
                after = start = self.env.cr.fetchone()[0]
            else:
                start = None
            self.env.cr.execute(
                SQL(
                    """SELECT id, res_id, number, uuid, country_code, try_count FROM sms_marketing_trace
                        WHERE mailing_id = %(mailing)s AND state = 'pending' AND id > %(after)s
                          AND claim_move_id IS NULL AND (next_try_at IS NULL OR next_try_at <= %(now)s)
                        ORDER BY id LIMIT %(limit)s
                          FOR NO KEY UPDATE SKIP LOCKED""",
                    mailing=mailing.id,
                    after=after,
                    now=fields.Datetime.now(),
                    limit=params["batch_size"],
                )
            )
            rows = self.env.cr.fetchall()
            if rows or start is not None:
                break
            after = 0
        cursors[mailing.id] = rows[-1][0] if rows else 0
        return rows

    @api.model
    def _prepare(self, mailing, gateway, rows, params):
        """The messages of the claimed ``rows``: text, parts and cost, in claim order.

        Each message is the provider's input (uuid, number, content, sender,
        country_code, segments) plus what the engine keeps: trace_id, tries, cost.
        """
        if not any(row[5] for row in rows):  # first attempt of these traces: their links are needed
            mailing._prepare_tracking()
        bodies = self._render_batch(mailing, rows)
        prices = params.setdefault("_prices", {}).get(gateway.id)
        if prices is None:  # once per run: prices change rarely, a run lasts a minute
            prices = params["_prices"][gateway.id] = gateway._get_prices()
        sender = gateway.sender or ""
        segments_by_text = {}
        messages = []
        for trace_id, _res_id, number, uuid, country, tries in rows:
            body = bodies.get(trace_id, "")
            segments = segments_by_text.get(body)
            if segments is None:
                segments = segments_by_text[body] = segment_count(body)
            messages.append(
                {
                    "uuid": uuid,
                    "number": number,
                    "content": body,
                    "sender": sender,
                    "country_code": country,
                    "segments": segments,
                    "trace_id": trace_id,
                    "tries": tries,
                    "cost": pricing.message_cost(segments, pricing.price_for(prices, country)),
                }
            )
        return messages

    @api.model
    def _render_batch(self, mailing, rows):
        """{trace id: text} of claimed ``rows``: the mailing's text, or each trace's A/B version's."""
        if not mailing.ab_testing:
            return mailing._render_messages([row[0] for row in rows], [row[1] for row in rows])
        self.env.cr.execute(
            SQL("SELECT id, variant_id FROM sms_marketing_trace WHERE id = ANY(%s)", [row[0] for row in rows])
        )
        version_of = dict(self.env.cr.fetchall())
        Variant = self.env["sms.marketing.mailing.variant"]
        bodies = {}
        for variant_id in set(version_of.values()):
            group = [row for row in rows if version_of.get(row[0]) == variant_id]
            text = Variant.browse(variant_id).body if variant_id else None
            bodies.update(mailing._render_messages([row[0] for row in group], [row[1] for row in group], text))
        return bodies

    @api.model
    def _reserve(self, mailing, gateway, messages, params):
        """Reserve credits and rate slots for the longest prefix of ``messages`` the balance allows.

        Returns (its length, the reservation's ledger line id, seconds to wait
        for the rate limit). The prefix's traces are marked with the ledger
        line (``claim_move_id``): committed together, they keep other runners
        off the batch while its provider call is in flight, and the line's
        lease (the wait, twice the gateway's time-out and
        ``lease_margin_seconds``) tells how long before a silent sender is
        presumed dead.
        """
        costs = [message["cost"] for message in messages]
        for _attempt in range(3):
            self.env.cr.execute(SQL("SELECT balance FROM sms_marketing_gateway WHERE id = %s", gateway.id))
            balance = self.env.cr.fetchone()[0] or 0.0
            total, count = 0.0, 0
            for cost in costs:
                if total + cost > balance + 1e-9:
                    break
                total += cost
                count += 1
            if not count:
                return 0, None, 0.0
            lease = 2 * (gateway.timeout or 0.0) + params["lease_margin_seconds"]
            lease_until = fields.Datetime.now() + timedelta(seconds=lease)
            move_id = gateway._reserve_batch(round(total, pricing.LEDGER_DIGITS), lease_until, mailing=mailing)
            if move_id:
                break
        else:
            return 0, None, 0.0
        delay = gateway._take_rate_slots(count)
        if delay > 0:  # the lease covers the wait for the rate limit too
            self.env.cr.execute(
                SQL(
                    "UPDATE sms_marketing_credit_move SET lease_until = %s WHERE id = %s",
                    lease_until + timedelta(seconds=delay),
                    move_id,
                )
            )
        self.env.cr.execute(
            SQL(
                "UPDATE sms_marketing_trace SET claim_move_id = %s WHERE id = ANY(%s)",
                move_id,
                [message["trace_id"] for message in messages[:count]],
            )
        )
        return count, move_id, delay

    @api.model
    def _send(self, gateway, messages, params):
        """({uuid: result}, transient error text or None) of the provider's answer.

        A transient error (time-out, 429, 5xx) answers for the whole batch: every
        message is retried later with the same uuid. SmsGatewayError (refused
        credentials) propagates: the caller pauses the mailing.
        """
        if not messages:
            return {}, None
        self._mark_in_flight(gateway, messages, params)
        prices = params["_prices"][gateway.id]
        try:
            results = gateway.with_context(sms_marketing_prices=prices)._send_batch(messages)
        except SmsGatewayTransientError as error:
            self._note_gateway_call(gateway, str(error), params)
            return {}, str(error)
        except SmsGatewayError as error:
            if self._note_gateway_call(gateway, str(error), params):
                return {}, str(error)  # another gateway of the route takes these messages over
            raise
        self._note_gateway_call(gateway, self._batch_failure(results), params)
        return {result["uuid"]: result for result in results}, None

    @api.model
    def _record(self, mailing, messages, results, transient_error, params):
        """Move the traces of ``messages`` by the gateway's answers; returns (credits spent, insufficient).

        The one mapping of an answer to a trace is ``sms.marketing.trace._get_outcome``;
        what stays pending is retried with a backoff, and fails after ``max_tries``.
        """
        Trace = self.env["sms.marketing.trace"]
        reasons = Trace._get_failure_reasons()
        now = fields.Datetime.now()
        base, cap, max_tries = params["retry_base_seconds"], params["retry_max_seconds"], params["max_tries"]
        columns = ("id", "state", "body", "segments", "cost", "ftype", "reason", "next", "tries")
        update = {column: [] for column in columns}
        spent, insufficient = 0.0, False
        for message in messages:
            result = results.get(message["uuid"]) or {}
            result_state = "server_error" if transient_error else result.get("state") or "server_error"
            state, failure_type = Trace._get_outcome(result_state)
            reason, next_try, cost, tries = None, None, 0.0, message["tries"]
            segments = result.get("segments") or message["segments"]
            if state == "sent":
                cost = result.get("credits") or 0.0
                if result_state == "duplicate" and not cost:
                    cost = message["cost"]  # the first, lost acceptance was charged: account it now
                spent += cost
                delivery = result.get("delivery")
                if delivery == "delivered":
                    state = "delivered"
                elif delivery:
                    state, failure_type = "failed", "undelivered"
            elif failure_type == "insufficient_credit":
                insufficient = True
                failure_type = False
            elif state == "pending":  # transient: time-out, 429, 5xx, per-message server_error or no result
                tries += 1
                if tries >= max_tries:
                    state = "failed"
                    reason = _(
                        "The gateway could not take the message after %(tries)s attempts (%(error)s).",
                        tries=tries,
                        error=transient_error or result_state,
                    )
                else:
                    failure_type = False
                    next_try = now + timedelta(seconds=min(base * 2 ** message["tries"], cap))
            if failure_type and not reason:
                reason = reasons[failure_type]
            update["id"].append(message["trace_id"])
            update["state"].append(state)
            update["body"].append(message["content"] if state != "pending" else None)
            update["segments"].append(segments)
            update["cost"].append(cost)
            update["ftype"].append(failure_type or None)
            update["reason"].append(reason)
            update["next"].append(next_try)
            update["tries"].append(tries)
        if update["id"]:
            self._update_traces(update, now)
        return spent, insufficient

    @api.model
    def _update_traces(self, update, now):
        # A delivery report that overtook this record (no lock is held during the
        # provider call) has moved a trace further: states never move backwards.
        self.env.cr.execute(
            SQL(
                """UPDATE sms_marketing_trace t
                      SET state = CASE WHEN %(keep)s THEN t.state ELSE v.state END,
                          body = COALESCE(v.body, t.body), segments = v.segments, cost = v.cost,
                          failure_type = CASE WHEN %(keep)s THEN t.failure_type ELSE v.ftype END,
                          failure_reason = CASE WHEN %(keep)s THEN t.failure_reason ELSE v.reason END,
                          next_try_at = v.next_try,
                          try_count = v.tries, claim_move_id = NULL,
                          in_flight_at = CASE WHEN v.state = 'unknown' THEN t.in_flight_at END,
                          sent_at = CASE WHEN %(keep)s THEN t.sent_at
                                         WHEN v.state IN ('sent', 'delivered') OR v.ftype = 'undelivered'
                                         THEN %(now)s ELSE t.sent_at END,
                          delivered_at = CASE WHEN v.state = 'delivered' AND NOT %(keep)s THEN %(now)s
                                              ELSE t.delivered_at END,
                          write_date = %(now)s
                     FROM unnest(%(ids)s::int[], %(states)s::varchar[], %(bodies)s::text[], %(segments)s::int[],
                                 %(costs)s::numeric[], %(ftypes)s::varchar[], %(reasons)s::varchar[],
                                 %(nexts)s::timestamp[], %(tries)s::int[])
                          AS v(id, state, body, segments, cost, ftype, reason, next_try, tries)
                    WHERE t.id = v.id""",
                now=now,
                keep=SQL("(v.state = 'sent' AND t.state IN ('delivered', 'failed'))"),
                ids=update["id"],
                states=update["state"],
                bodies=update["body"],
                segments=update["segments"],
                costs=update["cost"],
                ftypes=update["ftype"],
                reasons=update["reason"],
                nexts=update["next"],
                tries=update["tries"],
            )
        )

    # ------------------------------------------------------------------ providers without idempotency key
    @api.model
    def _mark_in_flight(self, gateway, messages, params):
        """Before a provider that is not idempotent (Twilio, Vonage) is called, mark its messages in flight.

        The mark (time, this database session, the text and the gateway) is
        committed before the call and cleared by ``_record``; meanwhile the
        traces are not claimed again (``next_try_at`` is the end of the
        call's allowed time). Should the runner die during the call, the
        messages are neither lost nor sent again blindly: ``_reconcile_unknown``
        asks the provider what became of them.
        """
        cls = PROVIDERS.get(gateway.provider)
        if not cls or cls.idempotent:
            return
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """UPDATE sms_marketing_trace t
                      SET in_flight_at = %(now)s, in_flight_pid = pg_backend_pid(), gateway_id = %(gateway)s,
                          next_try_at = %(until)s, body = v.body
                     FROM unnest(%(ids)s::int[], %(bodies)s::text[]) AS v(id, body)
                    WHERE t.id = v.id""",
                now=now,
                until=now + timedelta(seconds=params.get("in_flight_timeout") or PARAM_DEFAULTS["in_flight_timeout"]),
                gateway=gateway.id,
                ids=[message["trace_id"] for message in messages],
                bodies=[message["content"] for message in messages],
            )
        )
        self._commit()

    @api.model
    def _reconcile_unknown(self, limit=1000):
        """Settle the messages whose fate a provider without idempotency key left open.

        Two kinds: messages still in flight whose sender died (its database
        session is gone, or the call's allowed time is over), and ``unknown``
        ones (the answer was lost). The gateway's provider looks them up
        (``lookup``): found, they are ``sent`` and charged; never taken, they
        go back to ``pending`` and are sent normally; not answered, they stay
        (or become) ``unknown`` with their reason, counted apart by the
        mailing, never sent twice. A provider that cannot look up (Vonage)
        leaves them ``unknown``. Returns the number of traces settled.
        """
        cr = self.env.cr
        # Every run asks: a look at the partial index answers "nothing" at once, where the
        # query below may be planned as a scan of the whole table while its statistics are stale.
        cr.execute("SELECT EXISTS (SELECT 1 FROM sms_marketing_trace WHERE in_flight_at IS NOT NULL)")
        if not cr.fetchone()[0]:
            return 0
        params = self._get_params()
        now = fields.Datetime.now()
        cr.execute(
            SQL(
                """SELECT t.id, t.uuid, t.number, t.body, t.country_code, t.segments, t.provider_message_id,
                          COALESCE(t.in_flight_at, t.sent_at, t.write_date), t.state, t.mailing_id, t.try_count,
                          COALESCE(t.gateway_id, m.gateway_id)
                     FROM sms_marketing_trace t JOIN sms_marketing_mailing m ON m.id = t.mailing_id
                    WHERE t.in_flight_at IS NOT NULL AND t.claim_move_id IS NULL
                      AND ((t.state = 'pending'
                            AND (t.next_try_at <= %(now)s
                                 OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = t.in_flight_pid)))
                           OR t.state = 'unknown')
                    ORDER BY t.id LIMIT %(limit)s
                      FOR NO KEY UPDATE OF t SKIP LOCKED""",
                now=now,
                limit=limit,
            )
        )
        rows = cr.fetchall()
        if not rows:
            return 0
        Gateway = self.env["sms.marketing.gateway"].sudo()  # sudo: the engine accounts credits on any gateway
        by_gateway = {}
        for row in rows:
            by_gateway.setdefault(row[11], []).append(row)
        settled = 0
        for gateway_id, gateway_rows in by_gateway.items():
            gateway = Gateway.browse(gateway_id) if gateway_id else Gateway._get_default()
            settled += self._reconcile_gateway(gateway, gateway_rows, params, now)
        self._commit()
        return settled

    @api.model
    def _reconcile_gateway(self, gateway, rows, params, now):
        """Look ``rows`` (see ``_reconcile_unknown``) up at ``gateway``'s provider and apply the answers."""
        provider = gateway._get_provider(raise_if_unknown=False) if gateway else None
        prices = gateway._get_prices() if gateway else {False: pricing.FALLBACK_PRICE}
        messages = [
            {
                "uuid": row[1],
                "number": row[2],
                "content": row[3] or "",
                "country_code": row[4],
                "segments": row[5] or segment_count(row[3] or ""),
                "sender": gateway.sender or "" if gateway else "",
                "provider_id": row[6],
                "since": row[7],
            }
            for row in rows
        ]
        found = {}
        if provider:
            try:
                found = gateway.with_context(sms_marketing_prices=prices)._get_provider().lookup(messages) or {}
            except SmsGatewayError as error:  # the provider cannot be asked now: next time
                _logger.info("gateway %s: look-up failed, messages stay unknown for now: %s", gateway.id, error)
        can_look_up = bool(provider) and type(provider).overrides("lookup")
        reasons = self.env["sms.marketing.trace"]._get_failure_reasons()
        update = {"id": [], "state": [], "cost": [], "ftype": [], "reason": [], "tries": [], "pid": []}
        spent = {}
        for row, message in zip(rows, messages, strict=False):
            result = found.get(message["uuid"]) or {}
            tries = row[10] + 1 if can_look_up else params["max_tries"]  # nothing more to learn without look-up
            if result.get("state") == "sent":
                state, cost, ftype, reason = "sent", result.get("credits") or 0.0, None, None
                # its batch was settled without it (recorded unknown, or released by the recovery)
                spent[row[9]] = spent.get(row[9], 0.0) + cost
            elif result.get("state") == SERVER_ERROR:  # the provider never took it: send it normally
                state, cost, ftype, reason = "pending", 0.0, None, None
                tries = row[10]
            else:
                state, cost, ftype, reason = "unknown", 0.0, "unknown_outcome", reasons["unknown_outcome"]
            update["id"].append(row[0])
            update["state"].append(state)
            update["cost"].append(cost)
            update["ftype"].append(ftype)
            update["reason"].append(reason)
            update["tries"].append(tries)
            update["pid"].append(result.get("provider_id") or row[6])
        self.env.cr.execute(
            SQL(
                """UPDATE sms_marketing_trace t
                      SET state = v.state, cost = v.cost, failure_type = v.ftype, failure_reason = v.reason,
                          try_count = v.tries, provider_message_id = v.pid, next_try_at = NULL,
                          gateway_id = %(gateway)s,
                          -- an unknown one is looked up again at the next runs, up to max_tries
                          in_flight_at = CASE WHEN v.state = 'unknown' AND v.tries < %(max_tries)s
                                              THEN COALESCE(t.in_flight_at, %(now)s) END,
                          sent_at = CASE WHEN v.state = 'sent' THEN COALESCE(t.sent_at, %(now)s) ELSE t.sent_at END,
                          write_date = %(now)s
                     FROM unnest(%(ids)s::int[], %(states)s::varchar[], %(costs)s::numeric[], %(ftypes)s::varchar[],
                                 %(reasons)s::varchar[], %(tries)s::int[], %(pids)s::varchar[])
                          AS v(id, state, cost, ftype, reason, tries, pid)
                    WHERE t.id = v.id""",
                gateway=gateway.id if gateway else None,
                now=now,
                max_tries=params["max_tries"],
                ids=update["id"],
                states=update["state"],
                costs=update["cost"],
                ftypes=update["ftype"],
                reasons=update["reason"],
                tries=update["tries"],
                pids=update["pid"],
            )
        )
        Mailing = self.env["sms.marketing.mailing"]
        for mailing_id, cost in spent.items():
            if gateway and cost:
                gateway._change_balance(-cost, "spend", mailing=Mailing.browse(mailing_id), allow_partial=True)
        back = {row[9] for row, state in zip(rows, update["state"], strict=False) if state == "pending"}
        # a mailing that ended meanwhile has messages to send again
        Mailing.browse(sorted(back))._set_sending(from_state="done")
        for mailing_id in {row[9] for row in rows}:
            counts = {}
            for row, state in zip(rows, update["state"], strict=False):
                if row[9] == mailing_id and state != row[8]:  # only what changed is news
                    counts[state] = counts.get(state, 0) + 1
            if counts:
                Mailing.browse(mailing_id)._message_log(
                    body=_(
                        "Messages whose gateway answer was lost, checked with %(gateway)s: %(sent)s sent, "
                        "%(pending)s to send again, %(unknown)s unknown (never sent twice).",
                        gateway=gateway.name if gateway else "-",
                        sent=counts.get("sent", 0),
                        pending=counts.get("pending", 0),
                        unknown=counts.get("unknown", 0),
                    )
                )
        self.env["sms.marketing.trace"].invalidate_model()
        return len(rows)

    # ------------------------------------------------------------------ routing and failover
    @api.model
    def _route_batch(self, mailing, rows, params):
        """The gateway of this batch; with routes, the batch keeps only the claimed rows of one gateway.

        A mailing with its own gateway, or of a company without routes, sends
        through ``_get_gateway``. Otherwise each row's destination country
        picks a gateway (``sms.marketing.gateway.route._get_gateway``: the
        first of its route that is up); the rows of the first row's gateway
        stay in ``rows`` (changed in place), the others stay pending and the
        next claim starts again at the first of them.
        """
        params.pop("_route", None)
        Route = self.env["sms.marketing.gateway.route"]
        company = mailing.company_id or self.env.company
        if mailing.gateway_id or not rows or not Route._has_routes(company):
            return self._get_gateway(mailing)
        chains = params.setdefault("_chains", {})
        default = self._get_gateway(mailing)
        picked = {}
        for row in rows:
            code = (row[4] or "").upper() or False
            if (company.id, code) not in chains:
                chains[company.id, code] = Route._get_chain(company, code)
            chain = chains[company.id, code]
            if code not in picked:
                picked[code] = (Route._get_gateway(company, code, chain) or default, chain)
        gateway, chain = picked[(rows[0][4] or "").upper() or False]
        kept = [row for row in rows if picked[(row[4] or "").upper() or False][0] == gateway]
        dropped = [row[0] for row in rows if picked[(row[4] or "").upper() or False][0] != gateway]
        if dropped:
            params.setdefault("_after", {})[mailing.id] = min(dropped) - 1
        rows[:] = kept
        self.env.cr.execute(
            SQL(
                "UPDATE sms_marketing_trace SET gateway_id = %s WHERE id = ANY(%s) AND gateway_id IS DISTINCT FROM %s",
                gateway.id,
                [row[0] for row in kept],
                gateway.id,
            )
        )
        params["_route"] = {"mailing": mailing, "next": chain.filtered(lambda g: g != gateway)[:1]}
        return gateway.sudo()

    @api.model
    def _batch_failure(self, results):
        """The error of a batch the gateway answered without taking any message (None otherwise)."""
        states = {result.get("state") for result in results}
        if results and states <= {SERVER_ERROR, "unknown"}:
            return _("The gateway took none of the messages.")
        return None

    @api.model
    def _note_gateway_call(self, gateway, error, params):
        """Count the gateway's consecutive failures; True when its route has another gateway to take over.

        When the count reaches the gateway's ``failover_threshold``, the
        mailing being sent says where its messages go now.
        """
        count = gateway._note_call(bool(error))
        route = params.get("_route")
        if not error or not route or not route["next"]:
            return False
        if count == gateway.failover_threshold:
            route["mailing"]._message_log(
                body=_(
                    "The gateway %(gateway)s failed %(count)s times in a row (%(error)s): its messages go through "
                    "%(next)s until it answers again.",
                    gateway=gateway.name,
                    count=count,
                    error=error,
                    next=route["next"].name,
                )
            )
        return True
