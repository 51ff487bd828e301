"""The sending engine's ledger side: a batch's credits and rate slots, reserved or released.

A reservation is a ledger line with a lease (``lease_until``); the batch's
traces carry it as their claim marker (``claim_move_id``). Every reservation
is closed exactly once, by its sender (``_record_batch``, ``_release_batch``)
or by the recovery of its expired lease (``_recover_batches``), through
``sms.marketing.gateway._close_lease``: the ledger always sums to the balance.
"""

import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..tools import pricing

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
        trace_ids = [message["trace_id"] for message in messages[:count] if message.get("trace_id")]
        if trace_ids:
            self.env.cr.execute(
                SQL("UPDATE sms_marketing_trace SET claim_move_id = %s WHERE id = ANY(%s)", move_id, trace_ids)
            )
        return count, move_id, delay

    @api.model
    def _release_batch(self, mailing, gateway, move_id, reserved):
        """Give a batch's credits back and its traces to the queue, nothing sent; False if already closed."""
        if not gateway._close_lease(move_id):
            return False
        gateway._settle(reserved, 0.0, mailing=mailing)
        if not mailing:  # keyword answers: no trace carries the reservation
            return True
        self.env.cr.execute(
            SQL(
                """UPDATE sms_marketing_trace SET claim_move_id = NULL
                    WHERE mailing_id = %s AND claim_move_id = %s""",
                mailing.id,
                move_id,
            )
        )
        return True

    # ------------------------------------------------------------------ balances of paused mailings
    @api.model
    def _read_paused_balances(self, mailings):
        """{gateway: True when it can pay for a one-part message} of ``mailings``' gateways, each
        balance read again from its provider.

        The provider is called with no lock of this transaction held (committed
        before, and after each gateway's short balance write): a sender that
        reserves on the gateway never waits for another provider's answer.
        """
        gateways = {self._get_gateway(mailing) for mailing in mailings}
        credit = {}
        for gateway in filter(None, gateways):
            self._commit()
            try:
                gateway._refresh_balance()
            except UserError:
                _logger.info("gateway %s unreachable: its paused mailings stay paused", gateway.id)
                continue
            prices = gateway._get_prices()
            credit[gateway] = gateway.balance > 0 and gateway.balance >= min(prices.values())
        if credit:
            self._commit()
        return credit
