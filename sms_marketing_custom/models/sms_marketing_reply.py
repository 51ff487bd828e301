"""Keyword answers waiting to leave: the inbound webhook queues them, a cron sends them.

Why
    The inbound webhook answers its provider at once and holds nothing a
    sender needs: no provider call, no reservation on the gateway row inside
    its request (a provider that waits too long for the webhook's answer
    sends the inbound SMS again).

How
    ``_queue`` inserts the answers in the webhook's transaction and wakes the
    cron; ``_cron_send`` sends what is queued gateway by gateway through the
    one way out (``sms.marketing.blacklist._send_keyword_replies``, the
    engine's ``_deliver``). Each answer is marked sent in the transaction
    that reserves its credits, before the provider call, and failed after
    when the provider did not take it: an answer is never sent twice, and
    one whose sender died during the call is not sent again.

Nobody but the webhook and the cron (sudo) reads or writes it: numbers and texts of every company.
"""

from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

KEEP_DAYS = 30  # the answers sent or failed stay that long, for whoever asks what was answered
CRON_BATCH = 500  # answers per gateway and transaction


class SmsMarketingReply(models.Model):
    _name = "sms.marketing.reply"
    _description = "SMS Keyword Answer"
    _order = "id desc"

    gateway_id = fields.Many2one("sms.marketing.gateway", required=True, ondelete="cascade", readonly=True)
    number = fields.Char(required=True, readonly=True)
    content = fields.Text(required=True, readonly=True)
    state = fields.Selection(
        [("queued", "Queued"), ("sent", "Sent"), ("failed", "Not Sent")],
        default="queued",
        required=True,
        readonly=True,
        index=True,
    )

    @api.model
    def _queue(self, gateway, replies):
        """Queue ``replies`` ([{number, content}]) to leave through ``gateway``; the cron is woken."""
        if not replies:
            return self.browse()
        queued = self.sudo().create(
            [{"gateway_id": gateway.id, "number": reply["number"], "content": reply["content"]} for reply in replies]
        )
        self.env.ref("sms_marketing_custom.ir_cron_sms_marketing_send_replies").sudo()._trigger()
        return queued

    @api.model
    def _cron_send(self):
        """Send the queued answers, one gateway and transaction at a time."""
        self.env.flush_all()
        self.env.cr.execute("SELECT DISTINCT gateway_id FROM sms_marketing_reply WHERE state = 'queued'")
        Gateway = self.env["sms.marketing.gateway"].sudo()  # sudo: answers are charged on any gateway
        for (gateway_id,) in self.env.cr.fetchall():
            self._send_queued(Gateway.browse(gateway_id))
            self.env["sms.marketing.engine"]._commit()

    @api.model
    def _send_queued(self, gateway):
        """Send up to ``CRON_BATCH`` queued answers of ``gateway``; marked sent before the call."""
        self.env.cr.execute(
            SQL(
                """UPDATE sms_marketing_reply SET state = 'sent', write_date = %s
                    WHERE id IN (SELECT id FROM sms_marketing_reply
                                  WHERE gateway_id = %s AND state = 'queued'
                                  ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
                RETURNING id, number, content""",
                fields.Datetime.now(),
                gateway.id,
                CRON_BATCH,
            )
        )
        rows = sorted(self.env.cr.fetchall())
        if not rows:
            return
        replies = [{"number": number, "content": content} for _id, number, content in rows]
        results = self.env["sms.marketing.blacklist"]._send_keyword_replies(gateway, replies)
        Trace = self.env["sms.marketing.trace"]
        failed = [
            row[0]
            for row, result in zip(rows, results, strict=True)
            if Trace._get_outcome(result.get("state"))[0] != "sent"
        ]
        if failed:
            self.env.cr.execute(SQL("UPDATE sms_marketing_reply SET state = 'failed' WHERE id = ANY(%s)", failed))
        self.invalidate_model(["state"])

    @api.autovacuum
    def _gc_replies(self):
        self.search(
            [("state", "!=", "queued"), ("create_date", "<", fields.Datetime.now() - timedelta(days=KEEP_DAYS))]
        ).unlink()
