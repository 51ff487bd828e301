from odoo import _, fields, models
from odoo.tools import SQL


class SmsMarketingMailing(models.Model):
    _inherit = "sms.marketing.mailing"

    # ------------------------------------------------------------------ statistics
    recipient_count = fields.Integer(compute="_compute_statistics", string="Number of Recipients")
    pending_count = fields.Integer(compute="_compute_statistics", string="Pending")
    sent_count = fields.Integer(
        compute="_compute_statistics", string="Sent", help="Accepted by the gateway (delivered or not)."
    )
    delivered_count = fields.Integer(compute="_compute_statistics", string="Delivered")
    failed_count = fields.Integer(compute="_compute_statistics", string="Failed")
    canceled_count = fields.Integer(compute="_compute_statistics", string="Canceled")
    sent_ratio = fields.Float(compute="_compute_statistics", string="Sent (%)")
    delivered_ratio = fields.Float(compute="_compute_statistics", string="Delivered (%)")
    failed_ratio = fields.Float(compute="_compute_statistics", string="Failed (%)")
    canceled_ratio = fields.Float(compute="_compute_statistics", string="Canceled (%)")
    credits_spent = fields.Float(compute="_compute_statistics", digits=(16, 4))

    def _compute_statistics(self):
        """All counters of a batch of mailings with one grouped query."""
        stats = {}
        ids = [mid for mid in self.ids if isinstance(mid, int)]
        if ids:
            self.env["sms.marketing.trace"].flush_model(["mailing_id", "state", "cost", "sent_at"])
            self.env.cr.execute(
                SQL(
                    """SELECT mailing_id, state, sent_at IS NOT NULL, count(*), COALESCE(sum(cost), 0)
                         FROM sms_marketing_trace WHERE mailing_id = ANY(%s) GROUP BY 1, 2, 3""",
                    ids,
                )
            )
            for mailing_id, state, was_sent, count, cost in self.env.cr.fetchall():
                mailing_stats = stats.setdefault(mailing_id, {"_sent": 0, "_cost": 0.0})
                mailing_stats[state] = mailing_stats.get(state, 0) + count
                # a message failed by its delivery report was sent all the same
                mailing_stats["_sent"] += count if was_sent else 0
                mailing_stats["_cost"] += float(cost)
        for mailing in self:
            counts = stats.get(mailing.id, {"_sent": 0, "_cost": 0.0})
            total = sum(counts.get(s, 0) for s in ("pending", "sent", "delivered", "failed", "canceled"))
            sent = counts["_sent"]
            mailing.recipient_count = total
            mailing.pending_count = counts.get("pending", 0)
            mailing.sent_count = sent
            mailing.delivered_count = counts.get("delivered", 0)
            mailing.failed_count = counts.get("failed", 0)
            mailing.canceled_count = counts.get("canceled", 0)
            mailing.sent_ratio = 100.0 * sent / total if total else 0.0
            mailing.delivered_ratio = 100.0 * mailing.delivered_count / sent if sent else 0.0
            mailing.failed_ratio = 100.0 * mailing.failed_count / total if total else 0.0
            mailing.canceled_ratio = 100.0 * mailing.canceled_count / total if total else 0.0
            mailing.credits_spent = counts["_cost"]

    # ------------------------------------------------------------------ actions
    def _action_view_traces(self, name, domain):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": "sms.marketing.trace",
            "view_mode": "tree,form,graph,pivot",
            "domain": [("mailing_id", "=", self.id), *domain],
            "context": {"create": False},
        }

    def action_view_traces_all(self):
        return self._action_view_traces(_("Recipients"), [])

    def action_view_traces_sent(self):
        return self._action_view_traces(_("Sent"), [("sent_at", "!=", False)])

    def action_view_traces_delivered(self):
        return self._action_view_traces(_("Delivered"), [("state", "=", "delivered")])

    def action_view_traces_failed(self):
        return self._action_view_traces(_("Failed"), [("state", "=", "failed")])

    def action_view_traces_canceled(self):
        return self._action_view_traces(_("Canceled"), [("state", "=", "canceled")])
