"""The engine's heartbeat keeps Odoo's SMS claimed while they are sent (models/sms_sms.py)."""

from odoo import api, models
from odoo.tools import SQL


class SmsMarketingEngine(models.AbstractModel):
    _inherit = "sms.marketing.engine"

    @api.model
    def _extend_session_claims(self, cr, pid, in_flight_seconds):
        """Move the live claims of Odoo's SMS taken by the session ``pid`` (``sms.sms._claim_outgoing``)
        as far as a message in flight: while its batch's lease is alive, a queue run never takes a
        claimed SMS for a dead runner's (whatever the batch's length, and the parts of the run after it)."""
        cr.execute(
            SQL(
                """UPDATE sms_sms
                      SET sms_marketing_claim_until = GREATEST(sms_marketing_claim_until,
                                                   now() at time zone 'UTC' + make_interval(secs => %s))
                    WHERE sms_marketing_claim_pid = %s AND state = 'outgoing'
                      AND sms_marketing_claim_until > now() at time zone 'UTC'""",
                in_flight_seconds,
                pid,
            )
        )
        return super()._extend_session_claims(cr, pid, in_flight_seconds)
