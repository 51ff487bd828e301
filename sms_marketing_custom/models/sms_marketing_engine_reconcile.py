"""The sending engine's recovery: what a dead sender or a lost answer left open.

``_recover_batches`` settles the reservations whose lease expired (refund,
traces released, sent again under the same uuids; the credits of messages
in flight at a provider without idempotency key are kept, since they may
have left); ``_reconcile_unknown`` asks the provider what became of messages
whose answer was lost (docs/design.md, "Sending": providers without
idempotency key). A trace's ``cost`` is what the ledger holds for it: a
look-up charges or gives back the difference.
"""

import logging
from collections import namedtuple
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..providers import SERVER_ERROR, SmsGatewayError
from ..tools import pricing
from ..tools.messages import new_message
from .sms_marketing_engine import PARAM_DEFAULTS

_logger = logging.getLogger(__name__)

# A trace to reconcile, as ``_reconcile_unknown`` selects it (``since``: when it was sent, or last written;
# ``cost``: the credits the ledger holds for it).
UnknownRow = namedtuple(
    "UnknownRow",
    "id uuid number body country_code segments provider_message_id since state mailing_id try_count gateway_id cost",
)

# What ``_update_reconciled`` writes per trace (``_write_traces``).
RECONCILED_COLUMNS = (
    ("id", "int"),
    ("state", "varchar"),
    ("cost", "numeric"),
    ("ftype", "varchar"),
    ("reason", "varchar"),
    ("tries", "int"),
    ("pid", "varchar"),
    ("next_try", "timestamp"),
)


# One model, one job per file (see models/sms_marketing_engine.py): the split is the point.
class SmsMarketingEngine(models.AbstractModel):
    _inherit = "sms.marketing.engine"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------ expired batches
    @api.model
    def _recover_batches(self, now=None):
        """Settle the reservations whose lease expired (their sender died): refund, release the traces.

        The traces go back to the queue with their uuids: the next send of a
        message the gateway had accepted is answered ``duplicate`` and
        accounted once. Messages in flight at a provider without idempotency
        key keep their credits (``_release_batch``): the late sender's record
        or the look-up settles them. Expired leases being settled by a live sender are
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
            if self._release_batch(mailing, gateway, move_id, reserved, recovered=True):
                recovered += 1
                _logger.warning(
                    "mailing %s: the sender of batch %s stopped before recording it; its messages go back to the queue",
                    mailing_id,
                    move_id,
                )
        if rows:
            self._commit()
        return recovered

    # ------------------------------------------------------------------ lost answers
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
                          COALESCE(t.gateway_id, m.gateway_id), t.cost
                     FROM sms_marketing_trace t JOIN sms_marketing_mailing m ON m.id = t.mailing_id
                    WHERE t.in_flight_at IS NOT NULL AND t.claim_move_id IS NULL
                      AND ((t.state = 'pending'
                            AND (t.next_try_at <= %(now)s
                                 OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = t.in_flight_pid)))
                           OR (t.state = 'unknown' AND (t.next_try_at IS NULL OR t.next_try_at <= %(now)s)))
                    ORDER BY t.id LIMIT %(limit)s
                      FOR NO KEY UPDATE OF t SKIP LOCKED""",
                now=now,
                limit=limit,
            )
        )
        rows = [UnknownRow(*row) for row in cr.fetchall()]
        if not rows:
            return 0
        self._mark_looked_up(rows, params, now)
        self._commit()  # no trace stays locked during the look-ups: delivery reports apply meanwhile
        Gateway = self.env["sms.marketing.gateway"].sudo()  # sudo: the engine accounts credits on any gateway
        by_gateway = {}
        for row in rows:
            by_gateway.setdefault(row.gateway_id, []).append(row)
        settled = 0
        for gateway_id, gateway_rows in by_gateway.items():
            gateway = Gateway.browse(gateway_id) if gateway_id else Gateway._get_default()
            settled += self._reconcile_gateway(gateway, gateway_rows, params, now)
            self._commit()  # the gateway row, locked by its charge, is free before the next look-up
        return settled

    @api.model
    def _mark_looked_up(self, rows, params, now):
        """Keep other runs off ``rows`` while this one looks them up, without holding their locks.

        Their ``next_try_at`` is the end of the look-up's allowed time and their
        session this one: ``_reconcile_unknown`` selects neither a pending trace
        of a live session before that time nor an unknown one before it, and a
        run that dies leaves them to the next (its session is gone, or the time is over).
        """
        until = now + timedelta(seconds=params.get("in_flight_timeout") or PARAM_DEFAULTS["in_flight_timeout"])
        self.env.cr.execute(
            SQL(
                """UPDATE sms_marketing_trace SET next_try_at = %s, in_flight_pid = pg_backend_pid()
                    WHERE id = ANY(%s)""",
                until,
                [row.id for row in rows],
            )
        )

    @api.model
    def _reconcile_gateway(self, gateway, rows, params, now):
        """Look ``rows`` (see ``_reconcile_unknown``) up at ``gateway``'s provider and apply the answers."""
        found, can_look_up = self._look_up_unknown(gateway, rows)
        update, spent = self._get_reconciled_values(rows, found, can_look_up, params)
        self._update_reconciled(gateway, update, params, now)
        Mailing = self.env["sms.marketing.mailing"]
        for mailing_id, cost in spent.items():
            cost = round(cost, pricing.LEDGER_DIGITS)
            if gateway and cost > 0:
                gateway._change_balance(-cost, "spend", mailing=Mailing.browse(mailing_id), allow_partial=True)
            elif gateway and cost < 0:  # held for a message the provider never took
                gateway._change_balance(-cost, "refund", mailing=Mailing.browse(mailing_id))
        back = {row.mailing_id for row, state in zip(rows, update["state"], strict=False) if state == "pending"}
        # a mailing that ended meanwhile has messages to send again
        Mailing.browse(sorted(back))._set_sending(from_state="done")
        self._log_reconciled(gateway, rows, update["state"])
        self.env["sms.marketing.trace"].invalidate_model()
        return len(rows)

    @api.model
    def _look_up_unknown(self, gateway, rows):
        """({uuid: the provider's result}, whether the provider can look messages up at all)."""
        provider = gateway._get_provider(raise_if_unknown=False) if gateway else None
        prices = gateway._get_prices() if gateway else {False: pricing.FALLBACK_PRICE}
        sender = gateway.sender if gateway else ""
        messages = [
            new_message(
                row.uuid,
                row.number,
                row.body or "",
                sender,
                row.country_code,
                prices,
                row.segments or None,
                provider_id=row.provider_message_id,
                since=row.since,
            )
            for row in rows
        ]
        found = {}
        if provider:
            try:
                looker = gateway.with_context(sms_marketing_prices=prices)
                provider = looker._get_provider()
                with self._outside_transaction(looker):
                    found = provider.lookup(messages) or {}
            except SmsGatewayError as error:  # the provider cannot be asked now: next time
                _logger.info("gateway %s: look-up failed, messages stay unknown for now: %s", gateway.id, error)
        return found, bool(provider) and type(provider).overrides("lookup")

    @api.model
    def _get_reconciled_values(self, rows, found, can_look_up, params):
        """(the columns of ``_update_reconciled``, {mailing id: credits to spend, negative to give back}) from
        the look-up's answers: each trace's new cost less what the ledger holds for it already (its ``cost``,
        kept by the recovery of a batch in flight)."""
        reasons = self.env["sms.marketing.trace"]._get_failure_reasons()
        now = fields.Datetime.now()
        base, cap = params["retry_base_seconds"], params["retry_max_seconds"]
        update = {column: [] for column, _kind in RECONCILED_COLUMNS}
        spent = {}
        for row in rows:
            result = found.get(row.uuid) or {}
            tries = row.try_count + 1 if can_look_up else params["max_tries"]  # nothing more to learn without look-up
            held = row.cost or 0.0
            if result.get("state") == "sent":
                state, cost, ftype, reason = "sent", result.get("credits") or 0.0, None, None
            elif result.get("state") == SERVER_ERROR:  # the provider never took it: send it normally
                state, cost, ftype, reason = "pending", 0.0, None, None
                tries = row.try_count
            else:  # what the ledger holds for it stays: it may have left
                state, cost, ftype, reason = "unknown", held, "unknown_outcome", reasons["unknown_outcome"]
            spent[row.mailing_id] = spent.get(row.mailing_id, 0.0) + cost - held
            update["id"].append(row.id)
            update["state"].append(state)
            update["cost"].append(cost)
            update["ftype"].append(ftype)
            update["reason"].append(reason)
            update["tries"].append(tries)
            update["pid"].append(result.get("provider_id") or row.provider_message_id)
            # not answered: asked again later, with the engine's backoff, not at every run
            backoff = timedelta(seconds=min(base * 2**row.try_count, cap))
            update["next_try"].append(now + backoff if state == "unknown" and tries < params["max_tries"] else None)
        return update, spent

    @api.model
    def _update_reconciled(self, gateway, update, params, now):
        # No lock was held during the look-up: a delivery report that came meanwhile
        # (delivered, failed) is the later news and keeps its state; cost and id are the look-up's.
        keep = SQL("(t.state IN ('delivered', 'failed'))")
        self._write_traces(
            RECONCILED_COLUMNS,
            update,
            SQL(
                """state = CASE WHEN %(keep)s THEN t.state ELSE v.state END, cost = v.cost,
                   failure_type = CASE WHEN %(keep)s THEN t.failure_type ELSE v.ftype END,
                   failure_reason = CASE WHEN %(keep)s THEN t.failure_reason ELSE v.reason END,
                   try_count = v.tries, provider_message_id = v.pid,
                   next_try_at = CASE WHEN %(keep)s THEN NULL ELSE v.next_try END,
                   gateway_id = %(gateway)s,
                   -- an unknown one is looked up again at the next runs, up to max_tries
                   in_flight_at = CASE WHEN v.state = 'unknown' AND v.tries < %(max_tries)s AND NOT %(keep)s
                                       THEN COALESCE(t.in_flight_at, %(now)s) END,
                   sent_at = CASE WHEN v.state = 'sent' THEN COALESCE(t.sent_at, %(now)s) ELSE t.sent_at END,
                   write_date = %(now)s""",
                keep=keep,
                gateway=gateway.id if gateway else None,
                now=now,
                max_tries=params["max_tries"],
            ),
        )

    @api.model
    def _log_reconciled(self, gateway, rows, states):
        """Tell each mailing what became of its messages (``states``: the new state of each row)."""
        Mailing = self.env["sms.marketing.mailing"]
        for mailing_id in {row.mailing_id for row in rows}:
            counts = {}
            for row, state in zip(rows, states, strict=False):
                if row.mailing_id == mailing_id and state != row.state:  # only what changed is news
                    counts[state] = counts.get(state, 0) + 1
            if counts:
                mailing = Mailing.browse(mailing_id)
                context = {"lang": mailing._get_chatter_lang()}  # noqa: F841 -- read by _(), Odoo's way
                mailing._message_log(
                    body=_(
                        "Messages whose gateway answer was lost, checked with %(gateway)s: %(sent)s sent, "
                        "%(pending)s to send again, %(unknown)s unknown (never sent twice).",
                        gateway=gateway.name if gateway else "-",
                        sent=counts.get("sent", 0),
                        pending=counts.get("pending", 0),
                        unknown=counts.get("unknown", 0),
                    )
                )
