"""The sending engine's ledger side: a batch's credits and rate slots, reserved or released.

A reservation is a ledger line with a lease (``lease_until``); the batch's
traces carry it as their claim marker (``claim_move_id``). Every reservation
is closed exactly once, by its sender (``_record_batch``, ``_release_batch``)
or by the recovery of its expired lease (``_recover_batches``), through
``sms.marketing.gateway._close_lease``: the ledger always sums to the balance.

A batch of a per-message provider (Twilio, Vonage) lasts as long as its
messages one after the other: its sender moves its lease forward while it
works (``_get_lease_heartbeat``). When a lease is recovered anyway, the
credits of its messages in flight (they may have left) are kept on their
traces, not refunded, until the late sender's record or the look-up settles
them (``_release_batch``).
"""

import logging
import time
from contextlib import nullcontext
from datetime import timedelta

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..tools import pg_arrays, pricing
from .sms_marketing_engine import PARAM_DEFAULTS

_logger = logging.getLogger(__name__)


# One model, one job per file (see models/sms_marketing_engine.py): the split is the point.
class SmsMarketingEngine(models.AbstractModel):
    _inherit = "sms.marketing.engine"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------ reservation
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
            lease_until = fields.Datetime.now() + timedelta(seconds=self._get_lease_seconds(gateway, params))
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
        trace_ids = [message["trace_id"] for message in messages[:count] if message.get("trace_id")]
        if trace_ids:
            self.env.cr.execute(
                SQL(
                    "UPDATE sms_marketing_trace SET claim_move_id = %s WHERE id = ANY(%s::int[])",
                    move_id,
                    pg_arrays.int_array(trace_ids),
                )
            )
        return count, move_id, delay

    @api.model
    def _get_lease_seconds(self, gateway, params):
        """How long a batch's sender may stay silent before it is presumed dead: twice the gateway's
        time-out and ``lease_margin_seconds``."""
        return 2 * (gateway.timeout or 0.0) + params["lease_margin_seconds"]

    @api.model
    def _release_batch(self, mailing, gateway, move_id, reserved, recovered=False):
        """Close a batch's reservation without its answer, its traces back to the queue; False if closed already.

        By its sender (refused for good: nothing left), every credit goes back
        and the in-flight marks are cleared. By the recovery of its expired lease
        (``recovered``), the messages marked in flight (``_mark_in_flight``) may
        have left: their credits stay spent, on their traces' ``cost``, until
        the late sender's record (``_record_late``) or the look-up
        (``_reconcile_unknown``) settles them; the rest goes back. A batch of
        no mailing (Odoo's SMS, a test SMS, a keyword answer) has no trace to
        tell which left: its whole reservation is held for its late record.
        """
        if not gateway._close_lease(move_id):
            return False
        held = 0.0
        if mailing:  # keyword answers: no trace carries the reservation
            if recovered:
                assignments = SQL("claim_move_id = NULL")
            else:
                assignments = SQL(
                    """claim_move_id = NULL, cost = CASE WHEN t.in_flight_at IS NULL THEN t.cost ELSE 0 END,
                       next_try_at = CASE WHEN t.in_flight_at IS NULL THEN t.next_try_at END, in_flight_at = NULL"""
                )
            self.env.cr.execute(
                SQL(
                    """UPDATE sms_marketing_trace t SET %s FROM sms_marketing_trace old
                        WHERE t.mailing_id = %s AND t.claim_move_id = %s AND old.id = t.id
                    RETURNING CASE WHEN old.in_flight_at IS NOT NULL THEN old.cost ELSE 0 END""",
                    assignments,
                    mailing.id,
                    move_id,
                )
            )
            if recovered:
                held = round(sum(cost or 0.0 for (cost,) in self.env.cr.fetchall()), pricing.LEDGER_DIGITS)
        elif recovered and self._marks_in_flight(gateway):
            # no trace tells which of these messages left: every one may have, the late record settles them
            held = reserved
        gateway._settle(reserved, held, mailing=mailing)
        return True

    @api.model
    def _get_lease_heartbeat(self, gateway, move_id, messages, params):
        """The heartbeat of a per-message batch in flight (``providers/per_message.py``), or None.

        Called with the count of messages answered so far. At most every
        ``lease_heartbeat_seconds`` (and four times per lease), it moves the
        batch's lease and the in-flight time of the messages not sent yet
        forward (``_extend_lease``), with what else the sender's session has
        claimed (``_extend_session_claims``): the lease measures that the
        sender is alive, not how long its batch may take. A sender stuck in one call
        beats no more and loses its lease as before. False once the lease is
        gone: the sender stops.
        """
        if not move_id:
            return None
        lease = self._get_lease_seconds(gateway, params)
        in_flight = params.get("in_flight_timeout") or PARAM_DEFAULTS["in_flight_timeout"]
        every = min(params.get("lease_heartbeat_seconds", PARAM_DEFAULTS["lease_heartbeat_seconds"]), lease / 4)
        pid = self.env.cr._cnx.get_backend_pid()  # the in-flight marks' session (``_mark_in_flight``)
        trace_ids = [message.get("trace_id") for message in messages]
        last = [time.monotonic()]

        def beat(answered):
            if time.monotonic() - last[0] < every:
                return True
            last[0] = time.monotonic()
            unsent = [trace_id for trace_id in trace_ids[answered:] if trace_id]
            return self._extend_lease(move_id, unsent, pid, lease, in_flight)

        return beat

    @api.model
    def _extend_lease(self, move_id, trace_ids, pid, lease_seconds, in_flight_seconds):
        """Move the lease of the reservation ``move_id`` and the in-flight time of its unsent traces
        ``trace_ids`` (marked by the session ``pid``) forward; False when the lease is gone (recovered).

        In a transaction of its own, committed at once on a connection of its
        own: the sender's transaction stays closed during its provider calls,
        and a recovery, a webhook or another runner waits at most for these
        two short UPDATEs (the gateway row is not touched). In tests, where
        nothing is committed, on the test's cursor.
        """
        try:
            return self._move_lease(move_id, trace_ids, pid, lease_seconds, in_flight_seconds)
        except psycopg2.Error as error:  # the record decides (its lease may have ended): go on sending
            _logger.warning("batch %s: its lease could not be extended: %s", move_id, error)
            return True

    @api.model
    def _move_lease(self, move_id, trace_ids, pid, lease_seconds, in_flight_seconds):
        with self.env.registry.cursor() if self._commits() else nullcontext(self.env.cr) as cr:
            if self._commits():  # as the engine's transactions: a recovery's commit is re-read, not a conflict
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute(
                SQL(
                    """UPDATE sms_marketing_credit_move
                          SET lease_until = GREATEST(lease_until, now() at time zone 'UTC' + make_interval(secs => %s))
                        WHERE id = %s AND lease_until IS NOT NULL RETURNING id""",
                    lease_seconds,
                    move_id,
                )
            )
            kept = bool(cr.rowcount)
            if kept and trace_ids:
                cr.execute(
                    SQL(
                        """UPDATE sms_marketing_trace
                              SET next_try_at = GREATEST(next_try_at,
                                                         now() at time zone 'UTC' + make_interval(secs => %s))
                            WHERE id = ANY(%s) AND in_flight_pid = %s AND in_flight_at IS NOT NULL
                              AND state = 'pending'""",
                        in_flight_seconds,
                        trace_ids,
                        pid,
                    )
                )
            if kept:
                self._extend_session_claims(cr, pid, in_flight_seconds)
        return kept

    @api.model
    def _extend_session_claims(self, cr, pid, in_flight_seconds):
        """With the heartbeat of a batch sent by the session ``pid``, move forward the other claims that
        session holds (a bridge's: Odoo's ``sms.sms``), on ``cr``; nothing here."""

    # ------------------------------------------------------------------ balances of paused mailings
    @api.model
    def _read_paused_balances(self, mailings):
        """{gateway: True when it can pay for a one-part message} of ``mailings``' gateways, each
        balance read again from its provider.

        The provider is called with no transaction open (``_outside_transaction``; committed after each
        gateway's short balance write): a sender that reserves on the gateway never waits for another
        provider's answer.
        """
        gateways = {self._get_gateway(mailing) for mailing in mailings}
        credit = {}
        for gateway in filter(None, gateways):
            self._commit()
            try:
                gateway._refresh_balance(around_call=lambda gateway=gateway: self._outside_transaction(gateway))
            except UserError:
                _logger.info("gateway %s unreachable: its paused mailings stay paused", gateway.id)
                continue
            prices = gateway._get_prices()
            credit[gateway] = gateway.balance > 0 and gateway.balance >= min(prices.values())
        if credit:
            self._commit()
        return credit
