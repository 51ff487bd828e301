"""SMS trace: one message of a mailing to one recipient, its whole life.

A trace is created ``pending`` (or ``canceled`` with its reason) by the
engine, moves to ``sent``/``failed`` with the gateway's answer, and to
``delivered``/``failed`` with a delivery report; states never move backwards.
How a gateway's answer maps to a trace state and a reason has one definition
here (``_get_outcome``, ``_get_failure_reasons``), used by the engine, the
test SMS and the delivery reports.

Tokens: a click or opt-out token is the trace id plus a truncated HMAC-SHA256
of it keyed with the database secret: nobody can build the token of another
trace, and no token is stored (one HMAC per SMS at send time, one to check it).
"""

import hmac
import logging
import secrets
import time
import uuid
from datetime import timedelta

import psycopg2

from odoo import _, _lt, api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL, create_index, create_unique_index

from ..providers import ACCEPTED, FINAL_ERRORS, INSUFFICIENT_CREDIT, UNKNOWN
from ..tools import links
from ..tools.empty_view import empty_view_help
from .sms_marketing_consent import ConsentDetails

_logger = logging.getLogger(__name__)

# A trace's uuid is the provider's idempotency key and what its delivery reports name: a UUID
# version 7 (RFC 9562) in 32 hex digits, the time in milliseconds first, then 74 random bits.
# Ordered by time, a mailing's new uuids go to the end of the unique index, which stays in memory,
# instead of each to a random page of a year's traces: with 10,000,000 traces, an INSERT of
# 100,000 took half the time and wrote 250 MB of WAL instead of 870 MB (docs/benchmark.md).
# The random bits keep them unguessable. In SQL, gen_random_uuid's hex digits 14-16 and 17-32
# (the variant's digit included) follow the time and the version digit.
NEW_TRACE_UUID_SQL = SQL(
    "lpad(to_hex(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7'"
    " || substr(replace(gen_random_uuid()::text, '-', ''), 14)"
)


# Fewer new traces than this never re-analyze the trace table (``_refresh_statistics``).
TRACE_ANALYZE_MIN_ROWS = 10_000
# how long an ANALYZE of the trace table waits for a vacuum that does not yield (one that yields is
# canceled by PostgreSQL after deadlock_timeout, 1 s by default)
ANALYZE_LOCK_WAIT_MS = 5000


def new_trace_uuid():
    milliseconds = int(time.time() * 1000) & ((1 << 48) - 1)
    random_a, random_b = secrets.randbits(12), secrets.randbits(62)
    return uuid.UUID(int=milliseconds << 80 | 0x7 << 76 | random_a << 64 | 0b10 << 62 | random_b).hex


STATEMENT_TRIGGER_EVENTS = (
    ("INSERT", SQL("NEW TABLE AS new_rows")),
    ("UPDATE", SQL("OLD TABLE AS old_rows NEW TABLE AS new_rows")),
    ("DELETE", SQL("OLD TABLE AS old_rows")),
)


def create_statement_triggers(cr, function, table, on_insert, on_delete, on_update):
    """The PL/pgSQL ``function`` running ``on_insert`` / ``on_delete`` / ``on_update`` (SQL statements over the
    transition tables ``new_rows`` and ``old_rows``) once per statement that writes ``table``, and its three
    triggers (``<function>_insert``, ...): what keeps the mailings' counters and the engagement summary, set-wise,
    whoever writes the traces and clicks."""
    cr.execute(
        SQL(
            """CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $f$
               BEGIN
                   IF TG_OP = 'INSERT' THEN %s
                   ELSIF TG_OP = 'DELETE' THEN %s
                   ELSE %s
                   END IF;
                   RETURN NULL;
               END $f$""",
            SQL.identifier(function),
            on_insert,
            on_delete,
            on_update,
        )
    )
    for event, referencing in STATEMENT_TRIGGER_EVENTS:
        name = SQL.identifier(f"{function}_{event.lower()}")
        cr.execute(SQL("DROP TRIGGER IF EXISTS %s ON %s", name, SQL.identifier(table)))
        cr.execute(
            SQL(
                "CREATE TRIGGER %s AFTER %s ON %s REFERENCING %s FOR EACH STATEMENT EXECUTE FUNCTION %s()",
                name,
                SQL(event),
                SQL.identifier(table),
                referencing,
                SQL.identifier(function),
            )
        )


def drop_trace_functions(cr):
    """Remove the trace table's trigger function (uninstall: its triggers go with the table)."""
    cr.execute("DROP FUNCTION IF EXISTS sms_marketing_trace_set_failed_at() CASCADE")


def mailing_being_built_sql(mailing_id):
    """SQL: the id of a mailing whose traces are being built, for a look-up of its traces by index.

    The statistics of a large trace table do not know a mailing being built (a build window never
    re-analyzes it) and count it as one row: any plan on (mailing_id, id), the smallest index, then
    looks cheapest, and walks every trace the mailing has built so far, at each window (quadratic:
    0.4 s for the second window of 5,000 with 10,000,000 traces in the table, 53 s for the tenth in
    a per-number form). Given as a sub-select, the mailing is estimated as an average one, and the
    index of the look-up's other column is kept."""
    return SQL("(SELECT %s::int)", mailing_id)


FAILURE_TYPES = [
    # canceled before sending
    ("invalid_number", "Invalid Number"),
    ("blacklisted", "Blacklisted"),
    ("opted_out", "Already Opted Out"),
    ("duplicate", "Duplicate Number"),
    ("frequency_capped", "Frequency Cap"),
    # pending, not a failure: waits for the recipient's sending window
    ("quiet_hours", "Outside the Sending Window"),
    ("mailing_canceled", "Mailing Canceled"),
    # refused by the gateway
    ("wrong_number_format", "Wrong Number Format"),
    ("country_not_supported", "Country Not Supported"),
    ("rejected", "Rejected"),
    ("gateway_error", "Gateway Unavailable"),
    ("insufficient_credit", "Insufficient Credit"),
    # delivery reports
    ("undelivered", "Undelivered"),
    ("expired", "Expired"),
    # a provider without idempotency key took the request but its answer was lost
    ("unknown_outcome", "Outcome Unknown"),
]


class SmsMarketingTrace(models.Model):
    _name = "sms.marketing.trace"
    _description = "SMS Trace"
    _order = "id desc"
    _rec_name = "number"

    mailing_id = fields.Many2one("sms.marketing.mailing", required=True, ondelete="cascade")
    res_model = fields.Char()
    # not a measure of the analysis: an id, not a quantity
    res_id = fields.Integer(string="Recipient ID", group_operator=None)
    number = fields.Char()
    country_code = fields.Char(size=2, help="Country of the number, for its price.")
    uuid = fields.Char(required=True, copy=False, default=lambda self: new_trace_uuid(), readonly=True)
    body = fields.Text()
    segments = fields.Integer(string="SMS Parts")
    cost = fields.Float(digits=(16, 4))
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("sent", "Sent"),
            ("delivered", "Delivered"),
            ("failed", "Failed"),
            ("canceled", "Canceled"),
            ("unknown", "Unknown"),
        ],
        default="pending",
        required=True,
    )
    failure_type = fields.Selection(FAILURE_TYPES)
    failure_reason = fields.Char()
    failure_message = fields.Char(
        string="Reason",
        compute="_compute_failure_message",
        help="The failure reason in the reader's language (a gateway's own text as the gateway wrote it).",
    )
    # no index: the sending UPDATEs stay HOT (see init)
    gateway_id = fields.Many2one("sms.marketing.gateway", readonly=True, help="The gateway the message left through.")
    in_flight_at = fields.Datetime(readonly=True, copy=False, help="Handed to a provider without idempotency key.")
    in_flight_pid = fields.Integer(readonly=True, copy=False, group_operator=None)
    provider_message_id = fields.Char(
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The provider's id of the message (e.g. Twilio's SM...).",
    )
    # Set by the table's trigger when the state becomes failed (cleared if it leaves it), whoever writes it:
    # the engagement filters find the failures through its partial index (see init)
    failed_at = fields.Datetime(string="Failed On", readonly=True, copy=False)
    try_count = fields.Integer(readonly=True, help="Sending attempts that met a transient gateway error.")
    next_try_at = fields.Datetime(readonly=True, help="Not sent before this time (retry after a gateway error).")
    sent_at = fields.Datetime()
    # sent_at searched through the mailings: sent_at has no index (the sending UPDATE writes it)
    recent_sent_at = fields.Datetime(
        string="Sent On (Recent)",
        compute="_compute_recent_sent_at",
        search="_search_recent_sent_at",
        help="When the message left; searched after a date, it reads the traces of the mailings that sent "
        "since then only (the SMS analysis's last days), not the whole history.",
    )
    delivered_at = fields.Datetime()
    time_zone = fields.Char(
        readonly=True, help="Time zones of the recipient (comma-separated) whose sending window applies."
    )
    optout_at = fields.Datetime(string="Opted Out On", readonly=True, copy=False, index="btree_not_null")
    # The reservation (sms.marketing.credit.move id) of the batch this trace is
    # in flight with: set and committed before the provider call, cleared when
    # the answer is recorded. No foreign key and no index: the sending UPDATEs
    # stay HOT, and only a crash recovery looks traces up by it.
    claim_move_id = fields.Integer(readonly=True, copy=False, group_operator=None)
    # A/B test: the version this recipient got, and whether as part of the test share (set at insert, never
    # updated; no index: the statistics read them by mailing)
    variant_id = fields.Many2one("sms.marketing.mailing.variant", string="Version", readonly=True, ondelete="set null")
    ab_sample = fields.Boolean(string="In A/B Test Share", readonly=True)

    _sql_constraints = [("uuid_unique", "unique(uuid)", "The trace UUID must be unique.")]

    def init(self):
        cr = self.env.cr
        # One trace per recipient per mailing: the arbiter of the engine's
        # INSERT ... ON CONFLICT DO NOTHING (a re-run after a crash adds nothing).
        create_unique_index(cr, "sms_marketing_trace_mailing_res_uniq", self._table, ["mailing_id", "res_id"])
        # What a number received lately, across mailings (the frequency cap, the inbound
        # keywords), and in one mailing (duplicate numbers across build windows): one index,
        # the number first. Numbers come in no order, so each entry lands on a random page of
        # the index; with two (the mailing first, the number alone) an INSERT of 20,000 traces
        # took 567 ms instead of 499 (docs/benchmark.md). The sending UPDATE never changes the
        # number: still HOT.
        cr.execute("DROP INDEX IF EXISTS sms_marketing_trace_mailing_number_idx, sms_marketing_trace_number_idx")
        create_index(cr, "sms_marketing_trace_number_mailing_idx", self._table, ["number", "mailing_id"])
        # The claims walk a mailing's traces in id order (and find its first one).
        create_index(cr, "sms_marketing_trace_mailing_id_idx", self._table, ["mailing_id", "id"])
        # The engine looks for messages in flight or of unknown outcome at every run; only
        # providers without idempotency key set in_flight_at, so the others' UPDATEs stay HOT.
        create_index(cr, "sms_marketing_trace_in_flight_idx", self._table, ["id"], where="in_flight_at IS NOT NULL")
        # The traces waiting for a time (retries, quiet hours): the sending UPDATE leaves
        # next_try_at NULL as it was, so it stays HOT; only a retried trace's UPDATE writes the index.
        create_index(
            cr, "sms_marketing_trace_next_try_idx", self._table, ["mailing_id", "next_try_at"],
            where="next_try_at IS NOT NULL",
        )  # fmt: skip
        # Delivery reports come by uuid: the unique constraint's index.
        # No index involves a column the sending UPDATE changes (state, body,
        # costs, dates), and pages keep room for the new row versions: the
        # UPDATE of each batch is HOT (no index write), several times faster.
        cr.execute("ALTER TABLE sms_marketing_trace SET (fillfactor = 35)")
        cr.execute("DROP INDEX IF EXISTS sms_marketing_trace_pending_idx")
        self._init_failed_at()

    @api.model
    def _get_figure_action(self, figure, mailing_ids, empty_text):
        """The list of the traces behind a figure ("all", "sent", "delivered", "failed", "canceled",
        "clicked", "optout") of ``mailing_ids``: what a mailing's and a campaign's figure buttons open,
        each counted as the figure counts (docs/design.md, "A mailing's figures are counters");
        ``empty_text`` says whose recipients an empty list is about."""
        title, domain = {
            "all": (_("Recipients"), []),
            "sent": (_("Sent Messages"), [("sent_at", "!=", False)]),
            "delivered": (_("Delivered Messages"), [("state", "=", "delivered")]),
            "failed": (_("Failed Messages"), [("state", "=", "failed")]),
            "canceled": (_("Canceled Messages"), [("state", "=", "canceled")]),
            # the recipients, not the clicks' chart: a marketer wants to know who
            "clicked": (_("Recipients Who Clicked"), [("clicked", "=", True)]),
            "optout": (_("Recipients Who Opted Out"), [("optout_at", "!=", False)]),
        }[figure]
        return {
            "type": "ir.actions.act_window",
            "name": title,
            "res_model": self._name,
            "view_mode": "tree,form,graph,pivot",
            "domain": [("mailing_id", "in", list(mailing_ids)), *domain],
            "context": {"create": False},
            "help": empty_view_help(_("Nobody here yet"), empty_text),
        }

    @api.depends("number")
    def _compute_display_name(self):
        # a trace refused for its number has none: its breadcrumb says so rather than Odoo's "Unnamed"
        for trace in self:
            trace.display_name = trace.number or _("No number")

    def _init_failed_at(self):
        """``failed_at``: when the trace failed, kept by a trigger, and the index of the failures.

        "Last Delivery Failure" looks for failed traces among all of them: no index can involve
        ``state`` (every sending UPDATE changes it: none would stay HOT), so the filter read the whole
        table (1.9 s at 10,000,000 traces, docs/benchmark.md). ``failed_at`` changes only when a trace
        enters or leaves ``failed``: the UPDATEs of the others stay HOT, those of the failures (a few
        in a hundred) are not and write every index. A BEFORE trigger keeps the rule for every writer
        (the engine's SQL, delivery reports, reconciliation, the ORM, an RPC write of the date alone),
        called only for a row that breaks it: its WHEN is evaluated by PostgreSQL without calling the
        function. The time is the failing write's ``write_date``, unless the writer gives one with the
        state (the demo data's, in the past)."""
        cr = self.env.cr
        cr.execute(
            """CREATE OR REPLACE FUNCTION sms_marketing_trace_set_failed_at() RETURNS trigger
               LANGUAGE plpgsql AS $f$
               BEGIN
                   NEW.failed_at := CASE WHEN NEW.state = 'failed'
                                         THEN COALESCE(NEW.write_date, now() AT TIME ZONE 'UTC') END;
                   RETURN NEW;
               END $f$"""
        )
        # called only when a written row breaks the rule (failed <=> failed_at set): a trace entering failed
        # without a date, leaving it with one, a date written on a trace that did not fail
        cr.execute(
            """DROP TRIGGER IF EXISTS sms_marketing_trace_failed_at ON sms_marketing_trace;
               CREATE TRIGGER sms_marketing_trace_failed_at
                   BEFORE INSERT OR UPDATE OF state, failed_at ON sms_marketing_trace
                  FOR EACH ROW WHEN ((NEW.state = 'failed') IS DISTINCT FROM (NEW.failed_at IS NOT NULL))
                  EXECUTE FUNCTION sms_marketing_trace_set_failed_at()"""
        )
        # by mailing first: the company rule joins the mailings on it (a merge join in mailing order would
        # otherwise take the (mailing_id, id) index and read every trace); the rest of what the filters read
        # is in the index too
        cr.execute(
            """CREATE INDEX IF NOT EXISTS sms_marketing_trace_failed_idx
                   ON sms_marketing_trace (mailing_id, res_model, res_id) INCLUDE (failed_at)
                WHERE failed_at IS NOT NULL"""
        )
        # the failures of a recipient: the engagement summary recomputes a recipient's last failure from them
        # (sms.marketing.engagement.summary)
        cr.execute(
            """CREATE INDEX IF NOT EXISTS sms_marketing_trace_failed_recipient_idx
                   ON sms_marketing_trace (res_id, res_model) INCLUDE (failed_at, mailing_id)
                WHERE failed_at IS NOT NULL"""
        )

    @api.model
    def _refresh_statistics(self, new_traces, share=0.0):
        """ANALYZE the trace table after ``new_traces`` were made, when they are TRACE_ANALYZE_MIN_ROWS or
        more and at least ``share`` of the rows its statistics know; True if it did.

        Autovacuum re-analyzes a table once a tenth of it changed, a minute later at best. Until then
        the planner counts a new mailing as one row:
        - a build window: the claims find the mailing's pending traces through the (mailing, id) index
          only if the planner knows they are there; with statistics taken before the window they read
          the whole table and sort it for every batch (``share``: a table of many earlier mailings is
          barely changed by one window and is not analyzed again);
        - a mailing done (``sms.marketing.engine._check_done``): with a year of history (10,000,000
          traces) autovacuum does not come after a mailing of 100,000, and its SMS analysis and the
          engagement filters that name it or its days read its traces with nested loops meant for a
          few (0.31 s instead of 0.15 s for the contacts who received it, docs/benchmark.md). Worth the
          sample's read (about 1 s at 10,000,000 traces) once per large mailing.

        ANALYZE waits for a vacuum of the table. An autovacuum yields: PostgreSQL cancels it once the
        ANALYZE has waited ``deadlock_timeout`` (1 s by default), and it starts again later. Skipping
        instead left the statistics stale for as long as the autovacuum ran (minutes on a large table:
        the 30-day analysis took 0.37 s instead of 0.07 s, docs/benchmark.md). A vacuum that does not
        yield (an administrator's, one against wraparound) is not waited for beyond
        ANALYZE_LOCK_WAIT_MS: the sender goes on, without the refresh.
        """
        if new_traces < TRACE_ANALYZE_MIN_ROWS:
            return False
        cr = self.env.cr
        if share:
            cr.execute("SELECT reltuples FROM pg_class WHERE oid = 'sms_marketing_trace'::regclass")
            known = cr.fetchone()[0]
            if known >= 0 and new_traces < share * known:  # -1: never analyzed
                return False
        cr.execute("SELECT current_setting('lock_timeout')")
        lock_timeout = cr.fetchone()[0]
        try:
            with cr.savepoint(flush=False):
                cr.execute(SQL("SELECT set_config('lock_timeout', %s, true)", f"{ANALYZE_LOCK_WAIT_MS}ms"))
                cr.execute(SQL("ANALYZE %s", SQL.identifier(self._table)), log_exceptions=False)
                # SET LOCAL outlives a released savepoint: the rest of the transaction waits as before
                cr.execute(SQL("SELECT set_config('lock_timeout', %s, true)", lock_timeout))
        except psycopg2.OperationalError as error:
            # a lock time-out, an administrator's statement_timeout, a deadlock: the refresh only helps the
            # planner, the sender's work (a build window's traces) stays
            _logger.info("The trace table's statistics were not refreshed: %s", error)
            return False
        return True

    @api.model
    def _refresh_statistics_after(self, mailings):
        """``_refresh_statistics`` after ``mailings`` were sent: their traces, from their counters, if the
        planner does not know them yet (it counts under half of them: a mailing reopened and done again,
        a journey's step mailing done at each run, is analyzed once, not each time)."""
        figures = self.env["sms.marketing.campaign.report"]._get_mailing_figures(mailings.ids, ("recipient_count",))
        unknown = 0
        for mailing_id, row in figures.items():
            if row["recipient_count"] >= TRACE_ANALYZE_MIN_ROWS:
                plan = SQL("SELECT id FROM %s WHERE mailing_id = %s", SQL.identifier(self._table), mailing_id)
                self.env.cr.execute(SQL("EXPLAIN (FORMAT JSON) %s", plan))
                if self.env.cr.fetchone()[0][0]["Plan"]["Plan Rows"] < row["recipient_count"] / 2:
                    unknown += row["recipient_count"]
        return self._refresh_statistics(unknown)

    @api.model_create_multi
    def create(self, vals_list):
        traces = super().create(vals_list)
        traces.invalidate_recordset(["failed_at"], flush=False)  # the table's trigger may have set it
        return traces

    def write(self, vals):
        result = super().write(vals)
        if "state" in vals or "failed_at" in vals:
            # the table's trigger sets or clears failed_at when the state is written
            self.flush_recordset(["state", "failed_at"])
            self.invalidate_recordset(["failed_at"], flush=False)
        return result

    @api.model
    def _disable_jit_for_transaction(self):
        """Turn PostgreSQL's JIT off until this transaction ends (``SET LOCAL``), before the queries of the
        trace table: none of them runs long enough to win its compilation back.

        - the engine's transactions (``sms.marketing.engine._commit``): the planner turned JIT on for
          the audience INSERT and for queries whose estimates were stale while a mailing filled the
          table, and compiled for longer (0.5 s for a 100,000-recipient window) than they ran;
        - the readers of the history (the SMS analysis, the engagement filters): on a year of history
          their planned cost passes ``jit_above_cost`` and each compiles first (15 ms): measured on
          10,100,000 traces, the 30-day analysis took 74-77 ms without JIT and 86-94 ms with it, the
          whole history's 2.8 s either way, every engagement filter as long or longer with it
          (docs/benchmark.md)."""
        self.env.cr.execute("SET LOCAL jit = off")

    @api.model
    def _read_group(self, domain, groupby=(), aggregates=(), having=(), offset=0, limit=None, order=None):
        self._disable_jit_for_transaction()
        return super()._read_group(domain, groupby, aggregates, having, offset, limit, order)

    # ------------------------------------------------------------------ computes
    @api.depends("sent_at")
    def _compute_recent_sent_at(self):
        for trace in self:
            trace.recent_sent_at = trace.sent_at

    def _search_recent_sent_at(self, operator, value):
        since = None
        if operator in (">", ">=") and value not in (False, None):
            try:
                since = fields.Datetime.to_datetime(value)
            except (TypeError, ValueError):
                since = None  # refused by the plain domain below, as a stored field would
        if since is None:
            return [("sent_at", operator, value)]
        if operator == ">=":
            since -= timedelta(microseconds=1)
        return self._get_sent_after_domain(since)

    @api.model
    def _get_sent_after_domain(self, since):
        """Domain of the traces sent after ``since``, read in the mailings that sent since then only (their
        counters' sending dates, ``sms.marketing.campaign.report``) through the trace index by mailing:
        a window of the last days does not read a year of history.

        The mailings sent in the window entirely are given without a date condition: the planner
        multiplies the share of a mailing's traces by the share of the table's sent in the window (a
        hundredth of a year's), and counted a mailing of 100,000 as 1,100 traces, for a nested loop
        and a sort on disk instead of a hash (the SMS analysis of the last 30 days: 0.17 s instead of
        0.06 s with a year of history, docs/benchmark.md)."""
        # the ids, not a subquery: PostgreSQL estimates the rows of each mailing named (its statistics),
        # where it would guess a subquery's mailings to be an average share of the table
        inside, partly = self.env["sms.marketing.campaign.report"]._get_mailings_sent_after(since)
        domains = []
        if inside:
            domains.append([("mailing_id", "in", inside), ("sent_at", "!=", False)])
        if partly:
            domains.append([("mailing_id", "in", partly), ("sent_at", ">", since)])
        return expression.OR(domains) if domains else expression.FALSE_DOMAIN

    @api.depends("failure_type", "failure_reason")
    @api.depends_context("lang")
    def _compute_failure_message(self):
        # The sending stores the sentence of a failure type in the language it ran in (the cron's):
        # such a sentence is shown in the reader's; a gateway's own text is shown as it came; a trace
        # with a type and no text (a delivery report without reason, an import) shows its type's sentence.
        stored = {}
        for lang, _name in self.env["res.lang"].get_installed():
            for failure_type, sentence in self.with_context(lang=lang)._get_failure_reasons().items():
                stored[sentence] = failure_type
        reasons = self._get_failure_reasons()
        for trace in self:
            reason = trace.failure_reason
            if (reason and stored.get(reason) == trace.failure_type) or (not reason and trace.failure_type):
                reason = reasons.get(trace.failure_type, reason)
            trace.failure_message = reason

    # ------------------------------------------------------------------ outcomes
    @api.model
    def _get_failure_reasons(self):
        """{failure type: the sentence a marketer reads on the trace}, in the user's language."""
        return {
            "invalid_number": _("The phone number is missing or invalid."),
            "blacklisted": _("The number is in the blacklist."),
            "opted_out": _("The recipient opted out of the mailing lists."),
            "duplicate": _("Another recipient of this mailing has the same number."),
            "frequency_capped": _("The number already received the most marketing SMS the frequency cap allows."),
            "quiet_hours": _("Waits for the sending window to open in the recipient's time zone."),
            "mailing_canceled": _("The mailing was canceled before this message was sent."),
            "wrong_number_format": _("The gateway says the number is not a valid phone number."),
            "country_not_supported": _("The gateway does not send to this country."),
            "rejected": _("The gateway rejected the message."),
            "gateway_error": _("The gateway could not take the message."),
            "insufficient_credit": _("Not sent: the gateway has not enough credits."),
            "undelivered": _("The operator could not deliver the message."),
            "expired": _("The message expired before it could be delivered."),
            "unknown_outcome": _(
                "The gateway's answer was lost after the message was handed over: it may have been sent. "
                "It is not sent again, so that nobody gets it twice."
            ),
        }

    @api.model
    def _get_outcome(self, result_state):
        """(trace state, failure type) of a gateway's answer for one message.

        Accepted (``sent``, or ``duplicate``: accepted before) is ``sent``; a
        final refusal fails the trace with its type; insufficient credit and
        server errors leave it ``pending`` (the engine pauses or retries).
        """
        if result_state in ACCEPTED:
            return "sent", False
        if result_state in FINAL_ERRORS:
            return "failed", result_state
        if result_state == INSUFFICIENT_CREDIT:
            return "pending", INSUFFICIENT_CREDIT
        if result_state == UNKNOWN:
            return "unknown", "unknown_outcome"
        return "pending", "gateway_error"

    @api.model
    def _describe_result(self, result_state):
        """One line for a person about a gateway's answer (the test SMS shows it per number)."""
        state, failure_type = self._get_outcome(result_state)
        if state == "sent":
            return _("Sent")
        return self._get_failure_reasons()[failure_type]

    # ------------------------------------------------------------------ tokens
    @api.model
    def _get_token_key(self):
        # sudo: the database secret is a system parameter; it never leaves this method
        return self.env["ir.config_parameter"].sudo().get_param("database.secret").encode()

    @api.model
    def _get_tokens(self, trace_ids, key=None):
        """{trace_id: (click token, opt-out token)}: one HMAC per trace."""
        key = key or self._get_token_key()
        return {trace_id: links.trace_tokens(key, trace_id) for trace_id in trace_ids}

    @api.model
    def _check_token(self, token, kind):
        """The trace id carried by a valid ``kind`` ("click"/"optout") token, else None."""
        mac_length = links.CLICK_MAC_LENGTH if kind == "click" else links.OPTOUT_MAC_LENGTH
        trace_id, _mac = links.split_token(token, mac_length)
        if not trace_id or trace_id > 2**31 - 1:
            return None
        expected = self._get_tokens([trace_id])[trace_id][0 if kind == "click" else 1]
        return trace_id if hmac.compare_digest(expected, token) else None

    @api.model
    def _check_click_token(self, token):
        return self._check_token(token, "click")

    @api.model
    def _get_test_optout_token(self, mailing_id):
        """The opt-out token of the test SMS of a mailing (the length of a trace's): it opens a preview
        of the mailing's opt-out page that records nothing."""
        return links.test_optout_token(self._get_token_key(), mailing_id)

    @api.model
    def _get_mailing_from_test_optout_token(self, token):
        """The mailing of a valid test SMS opt-out token (sudo: read by the public page), or an empty recordset."""
        mailing_id, _mac = links.split_token(token, links.OPTOUT_MAC_LENGTH)
        Mailing = self.env["sms.marketing.mailing"].sudo()
        if not mailing_id or mailing_id > 2**31 - 1:
            return Mailing
        if not hmac.compare_digest(self._get_test_optout_token(mailing_id), token):
            return Mailing
        # sudo: the visitor is anonymous; the valid HMAC proves they received the test SMS
        return Mailing.browse(mailing_id).exists()

    @api.model
    def _get_from_optout_token(self, token):
        """The trace of a valid opt-out token (sudo: read by the public page), or an empty recordset."""
        trace_id = self._check_token(token, "optout")
        # sudo: the visitor is anonymous; the valid HMAC proves they received this SMS
        return self.sudo().browse(trace_id).exists() if trace_id else self.sudo().browse()

    # ------------------------------------------------------------------ opt-out
    @api.model
    def _route_optout(self, token, record=True, choice=None, keep_list_ids=()):
        """Values of the opt-out page of ``/o/<token>``; None when the token is not valid.

        With ``record`` (the page's POST) the opt-out is recorded (idempotent); without (any
        GET: a person's browser then posts by script, a scanner does not), the page only asks
        for confirmation. A person's later choices on the page:
        ``choice`` "undo" (subscribed again: "I unsubscribed by mistake"), "lists"
        (of the person's other lists, stay in ``keep_list_ids`` and leave the rest),
        "all" (no marketing SMS at all: the blacklist). Each lands in the consent log.
        """
        trace = self._get_from_optout_token(token)
        if not trace:
            mailing = self._get_mailing_from_test_optout_token(token)
            return self._get_optout_preview_values(token, mailing, record, choice) if mailing else None
        if choice == "undo":
            trace._optout_undo()
        elif choice == "lists":
            trace._optout_choose_lists(keep_list_ids)
        elif choice == "all" and trace.number:
            self.env["sms.marketing.blacklist"]._add_numbers(
                [trace.number], "optout_link", details=trace._get_optout_details(_lt("Stop all SMS"))
            )
            trace.optout_at = trace.optout_at or fields.Datetime.now()
        elif record and choice is None:
            trace._optout()
        mailing = trace.mailing_id
        company = mailing.company_id or self.env.company
        return {
            "token": token,
            "done": bool(trace.optout_at),
            "choice": choice,
            "number": links.mask_number(trace.number),
            "list_names": mailing._get_optout_lists().mapped("name"),
            "other_subscriptions": [
                {"id": sub.list_id.id, "name": sub.list_id.name, "subscribed": not sub.opt_out}
                for sub in trace._get_other_subscriptions()
            ],
            "blacklisted": bool(self.env["sms.marketing.blacklist"]._get_blacklisted_numbers([trace.number])),
            "company_name": company.name,
            "company_id": company.id,
            "lang": trace._get_recipient_lang(),
        }

    @api.model
    def _get_optout_preview_values(self, token, mailing, record, choice):
        """The opt-out page of a test SMS: what the mailing's recipients see (the same steps, one
        tap included), labelled as a preview; nothing is recorded."""
        company = mailing.company_id or self.env.company
        lang = mailing._get_team_lang(company)
        return {
            "token": token,
            "preview": True,
            "done": choice != "undo" and (record or choice is not None),
            "choice": choice,
            "number": _("the number of the test SMS"),
            "list_names": mailing._get_optout_lists().mapped("name"),
            "other_subscriptions": [],
            "blacklisted": choice == "all",
            "company_name": company.name,
            "company_id": company.id,
            "lang": lang,
        }

    def _get_optout_details(self, evidence):
        """Consent-log details (``ConsentDetails``) of a choice made on this trace's opt-out page."""
        self.ensure_one()
        # written once for the company's readers of the log, in the mailing's Responsible's language
        # (the visitor's request has the public user's, English)
        lang = self.mailing_id._get_chatter_lang()
        return ConsentDetails(
            source="optout_link",
            mailing_id=self.mailing_id.id,
            evidence=self.with_context(lang=lang)._get_optout_evidence(evidence),
        )

    def _get_optout_evidence(self, choice):
        """The consent log's line of a choice (``choice``: a term, translated in this context's language)."""
        return _(
            "Opt-out page of the SMS sent to %(number)s: %(choice)s", number=self.number or "?", choice=str(choice)
        )

    def _get_recipient_contacts(self):
        """The mailing-list contacts this trace's recipient is: by number, and the record itself."""
        self.ensure_one()
        Contact = self.env["sms.marketing.contact"]
        contacts = Contact._find_by_numbers([self.number]) if self.number else Contact
        if self.res_model == "sms.marketing.contact" and self.res_id:
            contacts |= Contact.browse(self.res_id).exists()
        company = self.mailing_id.company_id
        return contacts.filtered(lambda c: not company or not c.company_id or c.company_id == company)

    def _get_other_subscriptions(self):
        """The person's subscriptions to lists other than the ones this mailing left, one per list."""
        self.ensure_one()
        left = self.mailing_id._get_optout_lists()
        subscriptions = self._get_recipient_contacts().subscription_ids.filtered(
            lambda sub: sub.list_id not in left and sub.list_id.active
        )
        by_list = {}
        for subscription in subscriptions.sorted(lambda sub: (sub.list_id.name, sub.id)):
            by_list.setdefault(subscription.list_id, subscription)
        return self.env["sms.marketing.subscription"].union(*by_list.values())

    def _get_recipient_lang(self):
        """The language of the page: the recipient record's when it has one, else the company's."""
        self.ensure_one()
        record = self.env[self.res_model].browse(self.res_id).exists() if self.res_model in self.env else None
        lang = record and "lang" in record._fields and record.lang
        company = self.mailing_id.company_id or self.env.company
        lang = lang or company.partner_id.lang
        return lang if lang and self.env["res.lang"]._lang_get(lang) else None

    def _optout_undo(self):
        """ "I unsubscribed by mistake": back in the mailing's lists, or out of the blacklist."""
        self.ensure_one()
        details = self._get_optout_details(_lt("I unsubscribed by mistake"))
        lists = self.mailing_id._get_optout_lists()
        if lists:
            subscriptions = self._get_recipient_contacts().subscription_ids.filtered(
                lambda sub: sub.list_id in lists and sub.opt_out
            )
            subscriptions.with_context(sms_marketing_consent=details).write({"opt_out": False})
        if self.number:
            self.env["sms.marketing.blacklist"]._remove_numbers([self.number], "optout_link", details=details)
        self.optout_at = False

    def _optout_choose_lists(self, keep_list_ids):
        """Of the person's other lists, stay in ``keep_list_ids`` and leave the others (each change logged)."""
        self.ensure_one()
        keep = {int(list_id) for list_id in keep_list_ids if str(list_id).isdigit()}
        details = self._get_optout_details(_lt("Choice of lists"))
        Subscription = self.env["sms.marketing.subscription"].with_context(sms_marketing_consent=details)
        others = self._get_recipient_contacts().subscription_ids.filtered(
            lambda sub: sub.list_id not in self.mailing_id._get_optout_lists()
        )
        Subscription.browse(others.filtered(lambda sub: sub.list_id.id in keep and sub.opt_out).ids).write(
            {"opt_out": False}
        )
        Subscription.browse(others.filtered(lambda sub: sub.list_id.id not in keep and not sub.opt_out).ids).write(
            {"opt_out": True}
        )

    def _optout(self):
        """Record that this trace's recipient left: the mailing's lists, or all SMS marketing."""
        self.ensure_one()
        lists = self.mailing_id._get_optout_lists()
        details = self._get_optout_details(_lt("Unsubscribe"))
        if lists:
            contact_domain = [("contact_id.phone_sanitized", "=", self.number)] if self.number else []
            if self.res_model == "sms.marketing.contact" and self.res_id:
                contact_domain = expression.OR([contact_domain, [("contact_id", "=", self.res_id)]])
            if contact_domain:
                subscriptions = (
                    self.env["sms.marketing.subscription"]
                    .with_context(sms_marketing_consent=details)
                    .search(expression.AND([[("list_id", "in", lists.ids), ("opt_out", "=", False)], contact_domain]))
                )
                subscriptions.write({"opt_out": True})
        elif self.number:
            self.env["sms.marketing.blacklist"]._add_numbers([self.number], "optout_link", details=details)
        if not self.optout_at:
            self.optout_at = fields.Datetime.now()
        return True

    # ------------------------------------------------------------------ display
    # Shown in the trace views; computed so that the engine's set-wise inserts
    # and updates of the table stay as they are.
    recipient_ref = fields.Reference(
        selection="_selection_recipient_models", string="Recipient", compute="_compute_recipient_ref"
    )
    country_id = fields.Many2one("res.country", compute="_compute_country_id")
    # one message's yes or no, in words apart from the Clicked and Opted Out figures (plural in most languages)
    clicked = fields.Boolean(
        string="Has Clicked",
        compute="_compute_clicked",
        search="_search_clicked",
        help="The recipient opened a tracked link of this SMS.",
    )
    opted_out = fields.Boolean(string="Has Opted Out", compute="_compute_opted_out")

    @api.model
    def _selection_recipient_models(self):
        # sudo: the names of the SMS-enabled models are not secret, ir.model is for managers
        configs = self.env["sms.marketing.recipient.model"].sudo().search([])
        return [(config.model_id.model, config.model_id.name) for config in configs]

    @api.depends("res_model", "res_id")
    def _compute_recipient_ref(self):
        models_ = {model for model, _name in self._selection_recipient_models()}
        for trace in self:
            valid = trace.res_model in models_ and trace.res_id
            trace.recipient_ref = f"{trace.res_model},{trace.res_id}" if valid else False

    @api.depends("country_code")
    def _compute_country_id(self):
        countries = self.env["res.country"]._sms_marketing_by_code(self.mapped("country_code"))
        for trace in self:
            trace.country_id = countries.get(trace.country_code or "", False)

    def _compute_clicked(self):
        ids = [trace_id for trace_id in self.ids if isinstance(trace_id, int)]
        clicked = set()
        if ids:
            groups = self.env["sms.marketing.link.click"].sudo()._read_group([("trace_id", "in", ids)], ["trace_id"])
            clicked = {trace.id for (trace,) in groups}
        for trace in self:
            trace.clicked = trace.id in clicked

    def _search_clicked(self, operator, value):
        if operator not in ("=", "!="):
            raise UserError(_("Clicked can only be searched as set or not set."))
        clicked = self.env["sms.marketing.link.click"].sudo()._search([("trace_id", "!=", False)])
        # sudo: clicks are read for their trace only; the traces themselves keep the user's rules
        wanted = (operator == "=") == bool(value)
        return [("id", "in" if wanted else "not in", clicked.subselect("trace_id"))]

    @api.depends("optout_at")
    def _compute_opted_out(self):
        for trace in self:
            trace.opted_out = bool(trace.optout_at)

    def action_open_recipient(self):
        """The recipient's record (list contact, partner...), read with the user's own rights."""
        self.ensure_one()
        if not self.recipient_ref:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
            "target": "current",
        }
