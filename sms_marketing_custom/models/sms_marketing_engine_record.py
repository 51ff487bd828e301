"""The sending engine's record: a batch's answers moved onto its traces.

``_record_batch`` closes the batch's lease (the arbiter with a recovery),
maps each answer to a trace state (``sms.marketing.trace._get_outcome``),
updates the traces in one ``UPDATE ... FROM unnest`` and settles the
reservation. Providers without idempotency key get their messages marked in
flight before the call (``_mark_in_flight``), cleared here; when the batch's
lease was recovered meanwhile, the answers of those still in flight are
recorded all the same (``_record_late``): the ledger charges what left.
"""

import contextlib
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..providers import PROVIDERS
from ..tools import pg_arrays, pricing
from .sms_marketing_engine import PARAM_DEFAULTS

# What ``_update_traces`` writes per trace (``_write_traces``).
RECORD_COLUMNS = (
    ("id", "int"),
    ("state", "varchar"),
    ("body", "text"),
    ("segments", "int"),
    ("cost", "numeric"),
    ("ftype", "varchar"),
    ("reason", "varchar"),
    ("next_try", "timestamp"),
    ("tries", "int"),
    ("estimate", "numeric"),
)
# The element types of ``_write_traces``'s columns: {type: array cast}; numbers go as one array literal.
ARRAY_CASTS = {
    name: SQL(f"::{name}[]")  # sql-safe: the names of this tuple, constants
    for name in ("int", "numeric", "varchar", "text", "timestamp")
}
NUMBER_ARRAYS = {"int": pg_arrays.int_array, "numeric": pg_arrays.number_array}


# One model, one job per file (see models/sms_marketing_engine.py): the split is the point.
class SmsMarketingEngine(models.AbstractModel):
    _inherit = "sms.marketing.engine"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------ recording a batch
    @api.model
    def _record_batch(self, mailing, gateway, move_id, reserved, messages, results, transient_error, params):
        """Close the batch's lease, record its answers, settle its reservation; (spent, insufficient).

        Closing the lease comes first: it is the arbiter between this sender
        and a recovery of its expired lease (``sms.marketing.gateway._close_lease``).
        (None, False) when the recovery won: the messages marked in flight are
        recorded by ``_record_late``; the others' answer is dropped, they are
        sent again under the same uuids.
        """
        if not gateway._close_lease(move_id):
            self._record_late(mailing, gateway, messages, results, transient_error, params, reserved)
            return None, False
        spent, insufficient = self._record(mailing, messages, results, transient_error, params)
        gateway._settle(reserved, spent, mailing=mailing)
        return spent, insufficient

    @api.model
    def _record_late(self, mailing, gateway, messages, results, transient_error, params, reserved=0.0):
        """Record the answers of a batch whose lease was recovered during its call; returns the credits spent.

        Only the messages this sender marked in flight and that are still in
        flight under its session are its to record: the recovery kept their
        credits on their ``cost`` (``_release_batch``), which this answer
        settles now (a message that left is charged its price, one never
        taken is given back and sent again, an unknown one is looked up). A
        message a look-up has taken over carries that run's session and is
        left to it; a batch without mark (an idempotent provider) has its
        answer dropped: its resend is answered ``duplicate`` and charged then.
        A batch of no mailing sent without mark had its whole reservation
        (``reserved``) held by the recovery: its answer settles it.
        """
        if not mailing:
            if not self._marks_in_flight(gateway):
                return 0.0
            spent, _insufficient = self._record(mailing, messages, results, transient_error, params)
            gateway._settle(reserved, spent, mailing=mailing)
            return spent
        ids = [message["trace_id"] for message in messages if message.get("trace_id")]
        if not ids:
            return 0.0
        self.env.cr.execute(
            SQL(
                """SELECT id, cost FROM sms_marketing_trace
                    WHERE id = ANY(%s) AND in_flight_at IS NOT NULL AND claim_move_id IS NULL
                      AND in_flight_pid = pg_backend_pid()
                      FOR NO KEY UPDATE""",
                ids,
            )
        )
        held = dict(self.env.cr.fetchall())
        if not held:
            return 0.0
        mine = [message for message in messages if message.get("trace_id") in held]
        spent, _insufficient = self._record(mailing, mine, results, transient_error, params)
        gateway._settle(round(sum(held.values()), pricing.LEDGER_DIGITS), spent, mailing=mailing)
        return spent

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
        update = {column: [] for column, _kind in RECORD_COLUMNS}
        spent, insufficient = 0.0, False
        for message in messages:
            result = results.get(message["uuid"]) or {}
            result_state = "server_error" if transient_error else result.get("state") or "server_error"
            state, failure_type = Trace._get_outcome(result_state)
            reason, next_try, cost, tries = None, None, 0.0, message.get("tries", 0)
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
                    next_try = now + timedelta(seconds=min(base * 2 ** message.get("tries", 0), cap))
            if not message.get("trace_id"):  # a test SMS, a keyword answer: only its cost is recorded
                continue
            if failure_type and not reason:
                reason = reasons[failure_type]
            update["id"].append(message["trace_id"])
            update["state"].append(state)
            update["body"].append(message["content"] if state != "pending" else None)
            update["segments"].append(segments)
            update["cost"].append(cost)
            update["ftype"].append(failure_type or None)
            update["reason"].append(reason)
            update["next_try"].append(next_try)
            update["tries"].append(tries)
            update["estimate"].append(message["cost"])
        if update["id"]:
            spent += self._update_traces(update, now)
        return spent, insufficient

    @api.model
    def _update_traces(self, update, now):
        """Write the answers ``update`` (``RECORD_COLUMNS``) on their traces; returns the credits of
        the messages a delivery report proved sent while their answer said otherwise.

        No lock is held during the provider call: a delivery report that
        overtook this record has moved its trace to delivered or failed,
        which is later news than the send's answer. States never move
        backwards: such a trace keeps its state, and one whose answer was
        lost or failed (``pending``, ``unknown``) is charged its estimate
        instead of being sent again.
        """
        keep = SQL("(t.state IN ('delivered', 'failed'))")
        rows = self._write_traces(
            RECORD_COLUMNS,
            update,
            SQL(
                """state = CASE WHEN %(keep)s THEN t.state ELSE v.state END,
                   body = COALESCE(v.body, t.body), segments = v.segments,
                   cost = CASE WHEN %(keep)s AND v.state IN ('pending', 'unknown') THEN v.estimate ELSE v.cost END,
                   failure_type = CASE WHEN %(keep)s THEN t.failure_type ELSE v.ftype END,
                   failure_reason = CASE WHEN %(keep)s THEN t.failure_reason ELSE v.reason END,
                   next_try_at = CASE WHEN %(keep)s THEN NULL ELSE v.next_try END,
                   try_count = v.tries, claim_move_id = NULL,
                   in_flight_at = CASE WHEN v.state = 'unknown' AND NOT %(keep)s THEN t.in_flight_at END,
                   sent_at = CASE WHEN %(keep)s THEN t.sent_at
                                  WHEN v.state IN ('sent', 'delivered') OR v.ftype = 'undelivered'
                                  THEN %(now)s ELSE t.sent_at END,
                   delivered_at = CASE WHEN v.state = 'delivered' AND NOT %(keep)s THEN %(now)s
                                       ELSE t.delivered_at END,
                   write_date = %(now)s""",
                keep=keep,
                now=now,
            ),
            returning=SQL("t.cost - v.cost"),
        )
        return round(sum(float(extra) for (extra,) in rows if extra), pricing.LEDGER_DIGITS)

    @api.model
    def _write_traces(self, columns, values, assignments, returning=None):
        """The one set-wise writer of traces from per-trace values (a batch's record, reconciliation).

        ``UPDATE sms_marketing_trace t SET <assignments> FROM unnest(...) AS v(...) WHERE t.id = v.id``:
        ``columns`` are the (name, element type of ``ARRAY_CASTS``) of ``v``, the first ``("id", "int")``;
        ``values`` {name: list, one item per trace}; ``assignments`` the SET clause (``t``: the
        trace as it is, ``v``: its new values). With ``returning``, the rows it returns.
        """

        def array(name, kind):
            items = values[name]
            if kind in NUMBER_ARRAYS:
                # a value of another type (a provider's own): the list, adapted item by item by psycopg2
                with contextlib.suppress(TypeError):
                    items = NUMBER_ARRAYS[kind](items)
            return SQL("%s%s", items, ARRAY_CASTS[kind])

        self.env.cr.execute(
            SQL(
                "UPDATE sms_marketing_trace t SET %s FROM unnest(%s) AS v(%s) WHERE t.id = v.id %s",
                assignments,
                SQL(", ").join(array(name, kind) for name, kind in columns),
                SQL(", ").join(SQL.identifier(name) for name, _kind in columns),
                SQL("RETURNING %s", returning) if returning else SQL(),
            )
        )
        return self.env.cr.fetchall() if returning else None

    # ------------------------------------------------------------------ providers without idempotency key
    @api.model
    def _marks_in_flight(self, gateway):
        """True when ``gateway``'s provider has no idempotency key: what it may have sent is never
        sent again blindly nor refunded before it says it did not."""
        cls = PROVIDERS.get(gateway.provider)
        return bool(cls and not cls.idempotent)

    @api.model
    def _mark_in_flight(self, gateway, messages, params):
        """Before a provider that is not idempotent (Twilio, Vonage) is called, mark its messages in flight.

        The mark (time, this database session, the text, the gateway and the
        message's reserved credits as its ``cost``, which a recovery of the
        batch keeps: see ``_release_batch``) is
        committed before the call and cleared by ``_record``; meanwhile the
        traces are not claimed again (``next_try_at`` is the end of the
        call's allowed time). Should the runner die during the call, the
        messages are neither lost nor sent again blindly: ``_reconcile_unknown``
        asks the provider what became of them.
        """
        ids = [message["trace_id"] for message in messages if message.get("trace_id")]
        if not self._marks_in_flight(gateway) or not ids:  # without trace, nothing can be looked up later
            return
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """UPDATE sms_marketing_trace t
                      SET in_flight_at = %(now)s, in_flight_pid = pg_backend_pid(), gateway_id = %(gateway)s,
                          next_try_at = %(until)s, body = v.body, cost = v.cost
                     FROM unnest(%(ids)s::int[], %(bodies)s::text[], %(costs)s::numeric[]) AS v(id, body, cost)
                    WHERE t.id = v.id""",
                now=now,
                until=now + timedelta(seconds=params.get("in_flight_timeout") or PARAM_DEFAULTS["in_flight_timeout"]),
                gateway=gateway.id,
                ids=ids,
                bodies=[message["content"] for message in messages if message.get("trace_id")],
                costs=[message["cost"] for message in messages if message.get("trace_id")],
            )
        )
        self._commit()
