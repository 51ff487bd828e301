"""The sending engine: turns queued mailings into sent messages, exactly once per recipient.

What
    ``_run`` is the queue cron's work (``sms.marketing.mailing._cron_process_queue``,
    woken by ``ir.cron._trigger`` on Send and Schedule). It takes due mailings and
    sends them in batches, each batch in its own transaction.

How (docs/design.md, "Sending", for the steps and why): one abstract model,
``sms.marketing.engine``, one file per job, each readable without the others:
    sms_marketing_engine.py            the runner: the run loop, waking due mailings,
                                       re-triggering, the sender crons, one mailing's step
    sms_marketing_engine_build.py      traces inserted window by window from the audience
                                       (A/B versions, time zones, the sending window's hold)
    sms_marketing_engine_send.py       one batch: claim (frequency cap and window checked
                                       again), prepare, send, route and fail over
    sms_marketing_engine_ledger.py     a batch's credits and rate slots reserved, or released
    sms_marketing_engine_record.py     the answers recorded (lease closed, traces updated,
                                       reservation settled); in-flight marks
    sms_marketing_engine_reconcile.py  expired batches recovered; lost answers looked up
The mailing's state changes are the mailing's own (models/sms_marketing_mailing_state.py).

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
from contextlib import contextmanager
from datetime import timedelta

import psycopg2.extensions

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# Senders that found nothing while another runner builds a window wait for its wake-up, or this long.
BUILDER_WAKE_SECONDS = 5
PARAM_DEFAULTS = {
    "batch_size": 1000,  # traces claimed and sent per transaction
    "build_first_step": 2000,  # res_id window of the first build chunk (first SMS fast)
    "build_max_step": 100000,  # largest res_id window of one build chunk
    "build_window_ms": 500,  # and at most what the runner builds in this time (it sends nothing meanwhile)
    "time_budget": 50,  # seconds one cron run works before re-triggering itself
    "retry_base_seconds": 30,  # backoff: base * 2 ** tries, capped
    "retry_max_seconds": 3600,
    "max_tries": 6,  # transient errors before a trace fails
    "lease_margin_seconds": 60,  # a batch in flight this long past its call's time-out is presumed dead
    "lease_heartbeat_seconds": 10,  # a per-message batch moves its lease forward this often while it is sent
    # a provider without idempotency key: how long a call may take before its in-flight
    # messages are taken for a crash's (sooner when their sender's database session is gone)
    "in_flight_timeout": 900,
}


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
                # what the step writes for the marketer (pause reasons, chatter lines) in the mailing's language
                engine = self.with_context(lang=mailing._get_chatter_lang())
                while time.monotonic() < deadline:
                    progress = engine._step(mailing.with_env(engine.env), params)
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

        JIT compilation is off in these transactions
        (``sms.marketing.trace._disable_jit_for_transaction``).
        """
        self.env.flush_all()
        if self._commits():
            self.env.cr.commit()  # pylint: disable=invalid-commit
            self._begin_transaction()
        self.env.invalidate_all()

    @api.model
    def _begin_transaction(self):
        """Open the engine's next transaction: READ COMMITTED, JIT off (``_commit``)."""
        self.env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        self.env["sms.marketing.trace"]._disable_jit_for_transaction()

    @api.model
    @contextmanager
    def _outside_transaction(self, gateway=None):
        """Run the block with no transaction open: a wait outside the database (a provider call, the rate
        limit's pause). ``gateway``'s values are read first, for its provider; the engine's next
        transaction (``_begin_transaction``) is opened after the block.

        Nothing is written between the reservation's commit and the call, but what was read since (the
        gateway, the traces' prices) kept a transaction open across it, "idle in transaction" with the
        share locks of the tables it read: a schema change (an upgrade's ALTER TABLE) queued behind a
        slow call, and every sender behind the schema change, and an administrator's
        ``idle_in_transaction_session_timeout`` ended the sender's session in the middle of its batch.
        A read in the block of a value not cached opens a transaction again, ended after the block.
        """
        if not self._commits():
            yield
            return
        cr = self.env.cr
        if gateway:
            # what a provider reads of its gateway during the call, cached now (sudo: its credentials): its
            # row's columns, not its lists (the credit ledger alone grows by a line per batch)
            gateway = gateway.sudo()
            gateway.fetch(
                [name for name, field in gateway._fields.items() if field.column_type and field.type != "binary"]
            )
            gateway._get_webhook_url()  # web.base.url, into the parameters' cache
        cr.flush()
        # the connection's own COMMIT: Odoo's would empty the cache just filled; the rest of what Odoo's does
        # after it (nothing is written here: the engine committed just before)
        cr._cnx.commit()
        cr._now = None
        cr.prerollback.clear()
        cr.postrollback.clear()
        cr.postcommit.run()
        try:
            yield
        finally:
            if cr._cnx.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                cr.commit()  # pylint: disable=invalid-commit
            self._begin_transaction()

    @api.model
    def _commits(self):
        """True where the engine commits (a cron worker, a request, a sending worker), False in tests."""
        return not self.env.registry.in_test_mode() and not getattr(threading.current_thread(), "testing", False)

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
        credit = self._read_paused_balances(paused)
        for mailing in paused:
            if credit.get(self._get_gateway(mailing)):
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
    def _get_sending_mailing_ids(self):
        self.env.cr.execute("SELECT id FROM sms_marketing_mailing WHERE state = 'sending' ORDER BY id")
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _retrigger(self, started_at):
        """Wake the senders again: now while work is ready, else at the next retry/schedule/lease end.

        Ready work is a mailing still to be built that nobody is building now, or
        a pending trace nobody has claimed (the counters): a trace in flight in
        another runner's batch is that runner's (recorded by it, or recovered at
        its lease's end, which is triggered below), and a window being built is
        its builder's (it wakes the senders), so a runner with nothing claimable
        does not spin on them.
        """
        now = fields.Datetime.now()
        self.env.cr.execute("SELECT id, trace_build_done FROM sms_marketing_mailing WHERE state = 'sending'")
        built = dict(self.env.cr.fetchall())
        queue = self.env["sms.marketing.campaign.report"]._get_queue_counts(built)
        # a mailing whose window another runner is building is not work for now: that runner wakes
        # the senders when its window is committed (they spun meanwhile, taking the cores it needed)
        being_built = self._get_mailings_being_built([mid for mid, done in built.items() if not done])
        ready = any(
            (not built[mid] and mid not in being_built) or counts.unclaimed > counts.waiting
            for mid, counts in queue.items()
        )
        next_retry = None
        waiting = [mid for mid, counts in queue.items() if counts.waiting]
        if waiting:  # retries and quiet hours: the partial index on next_try_at
            self.env.cr.execute(
                SQL(
                    """SELECT min(next_try_at) FROM sms_marketing_trace
                        WHERE mailing_id = ANY(%s) AND next_try_at IS NOT NULL
                          AND state = 'pending' AND claim_move_id IS NULL""",
                    waiting,
                )
            )
            first_try = self.env.cr.fetchone()[0]
            if first_try and first_try <= now:
                ready = True
            else:
                next_retry = first_try
        ats = []
        if ready:
            # Now, so that Odoo notifies the idle cron threads at once (it only
            # notifies for a trigger that is due; a later one waits for their next
            # poll, up to a minute). The cron runner deletes the triggers older than
            # the start of the run that ends: the second one keeps this cron's own
            # trigger when this run lasted less than a second.
            ats += [now, max(now, started_at + timedelta(seconds=1))]
        if next_retry:
            ats.append(next_retry)
        if being_built and not ready:  # and in case its builder dies before it commits
            ats.append(now + timedelta(seconds=BUILDER_WAKE_SECONDS))
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
        state, build_done = self.env.cr.fetchone() or (None, None)
        if state != "sending":
            return False
        built = 0
        if not build_done:
            access_error = mailing._get_sender_access_error()
            if access_error:
                mailing._set_paused("sender_access", access_error)
                self._commit()
                return False
            try:
                with self.env.cr.savepoint():
                    built = self._build_traces(mailing, params)
            except ValidationError as error:
                # a filter that cannot be read (stored by an older release, a field since removed): this
                # mailing waits for its marketer with the reason, the others keep sending
                mailing._set_paused("invalid_filter", error.args[0])
                self._commit()
                return False
            if built:
                # the senders that found nothing to claim while this window was being
                # built have ended their run: wake them for the traces it made claimable
                self._trigger_senders()
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
        Report = self.env["sms.marketing.campaign.report"]
        if Report._get_queue_counts([mailing.id])[mailing.id].pending:
            return False
        sent = SQL("m.trace_build_done AND %s", Report._get_nothing_pending_condition(SQL("m.id")))
        finished = mailing._set_testing(where=sent) or mailing._set_done(where=sent)
        if finished:
            self._commit()
            if self.env["sms.marketing.trace"]._refresh_statistics_after(finished):
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
