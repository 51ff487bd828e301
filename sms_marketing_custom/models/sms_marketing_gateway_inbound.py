"""Inbound SMS of a gateway: STOP / START keywords.

The gateway posts ``{"messages": [{"number": "+E164", "content": "STOP"}, ...]}`` to
``/sms_marketing/inbound/<gateway_id>``, signed like delivery reports
(``X-Signature``: hex HMAC-SHA256 of the raw body with the gateway's webhook secret).
An opt-out keyword blacklists the sender (source "keyword") and marks the last SMS
sent to that number as opted out (for the mailing's statistics); START/UNSTOP
removes the number from the blacklist. Other messages are ignored.
"""

import re

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import links, phone


class SmsMarketingGateway(models.Model):
    _inherit = "sms.marketing.gateway"

    @api.model
    def _process_inbound_messages(self, messages):
        """Apply the keywords of inbound ``messages``; one result per message."""
        results, last_action = [], {}
        for message in messages:
            number = self._normalize_inbound_number(message.get("number") or message.get("from"))
            action = links.classify_keyword(str(message.get("content") or "")) if number else None
            if action:
                last_action[number] = action  # the last keyword of a number wins
            results.append({"number": number, "action": action or "ignored"})
        optouts = [number for number, action in last_action.items() if action == "optout"]
        optins = [number for number, action in last_action.items() if action == "optin"]
        if optouts:
            self.env["sms.marketing.blacklist"]._add_numbers(optouts, "keyword")
            self._mark_last_traces_opted_out(optouts)
        if optins:
            self.env["sms.marketing.blacklist"]._remove_numbers(optins, "keyword")
        return results

    @api.model
    def _normalize_inbound_number(self, raw):
        """E.164 of the sender; gateways send "+33612345678" or "33612345678" (international).

        A number libphonenumber does not know is kept as "+digits": it is what the gateway
        sees, so it is what must be blacklisted.
        """
        digits = re.sub(r"\D", "", str(raw or ""))
        if not 6 <= len(digits) <= 15:
            return None
        return phone.normalize(f"+{digits}").e164 or f"+{digits}"

    def _mark_last_traces_opted_out(self, numbers):
        """The last SMS sent to each number counts as the one the recipient opted out of."""
        self.env.cr.execute(
            SQL(
                """UPDATE sms_marketing_trace SET optout_at = %s
                    WHERE optout_at IS NULL AND id IN (
                        SELECT DISTINCT ON (number) id FROM sms_marketing_trace
                         WHERE number = ANY(%s) AND state IN ('sent', 'delivered')
                      ORDER BY number, id DESC)""",
                fields.Datetime.now(),
                list(numbers),
            )
        )
        self.env["sms.marketing.trace"].invalidate_model(["optout_at"])
