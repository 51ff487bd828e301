"""The webhook calls already applied: a captured call cannot be played again.

Why
    A signed webhook stays valid: whoever captures one (a proxy's log, a
    leaked request dump) could post it again, and a replayed START, YES or
    HELP would re-subscribe someone or spend credits on a second answer.
    Each provider gives the identity of a call (our protocol: its nonce;
    Twilio: MessageSid; Vonage: messageId), which ``_claim`` records once
    per gateway, in the webhook's own transaction, before its effects.

How
    One ``INSERT ... ON CONFLICT DO NOTHING`` on the unique (gateway, key):
    of two concurrent deliveries of the same call, the second waits for the
    first's transaction on that index entry only (no lock a sender takes)
    and is refused once the first commits (or passes if it rolled back, its
    effects with it). A key is kept until ``expires_at``: the end of the
    signed timestamp's tolerance, or longer where the provider signs no time;
    the daily autovacuum deletes the expired ones.

Nobody but the webhook route (sudo) reads or writes it.
"""

from datetime import datetime, timezone

from odoo import api, fields, models
from odoo.tools import SQL

KEY_SIZE = 200  # a provider's ids and nonces are far shorter; longer keys are cut, not refused


class SmsMarketingWebhookReplay(models.Model):
    _name = "sms.marketing.webhook.replay"
    _description = "SMS Webhook Call Already Applied"
    _log_access = False

    gateway_id = fields.Many2one("sms.marketing.gateway", required=True, ondelete="cascade", readonly=True)
    key = fields.Char(required=True, size=KEY_SIZE, readonly=True)
    expires_at = fields.Datetime(required=True, index=True, readonly=True)

    _sql_constraints = [("gateway_key_unique", "unique(gateway_id, key)", "This webhook call was already applied.")]

    @api.model
    def _claim(self, gateway, key, until):
        """True the first time ``key`` comes for ``gateway``; False for a replay.

        ``until``: unix seconds up to which a replay must be refused.
        """
        expires_at = datetime.fromtimestamp(until, timezone.utc).replace(tzinfo=None)
        self.env.cr.execute(
            SQL(
                """INSERT INTO sms_marketing_webhook_replay (gateway_id, key, expires_at)
                   VALUES (%s, %s, %s)
                   ON CONFLICT (gateway_id, key) DO NOTHING
                   RETURNING id""",
                gateway.id,
                str(key)[:KEY_SIZE],
                expires_at,
            )
        )
        return bool(self.env.cr.fetchone())

    @api.autovacuum
    def _gc_expired_keys(self):
        self.env.cr.execute(
            SQL("DELETE FROM sms_marketing_webhook_replay WHERE expires_at < %s", fields.Datetime.now())
        )
