from odoo import fields, models


class SmsMarketingCreditMove(models.Model):
    """One line of the credit ledger of a gateway.

    Lines are written only by ``sms.marketing.gateway._change_balance``, in the
    same transaction as the balance change, so the balance of a gateway is
    always the sum of its lines: purchases (+), reservations (-, credits held
    for a batch about to be sent), refunds (+, the part of a reservation the
    gateway did not charge: refused messages, cheaper than estimated) and
    spends (-, credits taken without a reservation: test SMS, corrections).
    A batch's reservation is written even when it costs 0 credits: it is the
    batch's record while its provider call is in flight (``lease_until``).
    """

    _name = "sms.marketing.credit.move"
    _description = "SMS Credit Ledger Entry"
    _order = "id desc"

    gateway_id = fields.Many2one("sms.marketing.gateway", required=True, ondelete="cascade", index=True)
    mailing_id = fields.Many2one("sms.marketing.mailing", ondelete="set null", index="btree_not_null")
    move_type = fields.Selection(
        [("purchase", "Purchase"), ("reservation", "Reservation"), ("spend", "Spend"), ("refund", "Refund")],
        required=True,
    )
    amount = fields.Float(digits=(16, 4), required=True, help="Credits added (positive) or taken (negative).")
    note = fields.Char()
    # A reservation whose batch is in flight (credits taken, provider call not
    # yet recorded) carries a lease; settling the batch clears it. A lease
    # past its end is a sender that died: the engine refunds it and releases
    # its traces (sms.marketing.engine._recover_batches).
    lease_until = fields.Datetime(readonly=True, copy=False, index="btree_not_null")
