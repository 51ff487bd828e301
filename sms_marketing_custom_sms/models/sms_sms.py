"""Odoo's outgoing SMS (``sms.sms``) through the SMS gateways, when a Settings administrator turns it on.

What: every ``sms.sms`` Odoo sends (chatter "Send SMS", SMS templates,
automated actions, Odoo's SMS Marketing, other apps) leaves through the
gateway its destination country routes it to (routes, else the company's
default gateway), with the route's next gateways as failover; the rate
limit, the credit ledger and the delivery reports are the gateways' own
(models/sms_marketing_gateway.py). A message whose gateway is Odoo's SMS
(IAP credits: ``sms_marketing_custom_iap``), or that no gateway takes, goes
Odoo's way, unchanged.

How: ``_send`` claims its rows (``FOR NO KEY UPDATE SKIP LOCKED`` on
messages still in the queue: of two runners, the second skips what the
first holds, and one that comes after it sees the message sent), splits
them by gateway and lets Odoo's ``_send`` run for each part with the
gateways in the context: Odoo's call to IAP is where they take over
(tools/sms_api.py), and Odoo reads their answer as IAP's.

Caveats: the routes are the current company's (the sender's, or the
cron's). The provider is called inside the transaction that sends, as Odoo
calls IAP: a transaction rolled back after the call leaves the SMS in the
queue, sent again later.
"""

from collections import defaultdict

from odoo import fields, models
from odoo.addons.sms_marketing_custom.tools import phone as phone_tools
from odoo.tools import SQL

from ..tools.sms_api import GATEWAYS_CONTEXT_KEY

ROUTE_ODOO_SMS_PARAM = "sms_marketing_custom_sms.route_odoo_sms"


def sent_by_gateway_field(help_text):
    """The gateway that sent an Odoo SMS, as ``sms.sms`` and ``sms.tracker`` keep it."""
    return fields.Many2one(
        "sms.marketing.gateway",
        string="SMS Gateway",
        readonly=True,
        ondelete="set null",
        index="btree_not_null",
        help=help_text,
    )


class SmsSms(models.Model):
    _inherit = "sms.sms"

    sms_marketing_gateway_id = sent_by_gateway_field("The gateway that sent it; empty when Odoo's SMS service did.")

    def _send(self, unlink_failed=False, unlink_sent=True, raise_exception=False):
        if not self._is_routed_through_gateways():
            return super()._send(unlink_failed=unlink_failed, unlink_sent=unlink_sent, raise_exception=raise_exception)
        Gateway = self.env["sms.marketing.gateway"].sudo()  # sudo: the routes' gateways send Odoo's SMS
        for gateway_ids, batch in self._claim_outgoing()._split_by_gateways().items():
            if gateway_ids:
                batch = batch.with_context(**{GATEWAYS_CONTEXT_KEY: Gateway.browse(gateway_ids)})
            super(SmsSms, batch)._send(
                unlink_failed=unlink_failed, unlink_sent=unlink_sent, raise_exception=raise_exception
            )
        return None

    def _is_routed_through_gateways(self):
        value = self.env["ir.config_parameter"].sudo().get_param(ROUTE_ODOO_SMS_PARAM, "")
        return value.strip().lower() in ("1", "true")

    def _claim_outgoing(self):
        """The messages of ``self`` still to send that no other runner holds, locked until commit."""
        if not self:
            return self
        self.flush_recordset(["state", "to_delete"])
        self.env.cr.execute(
            SQL(
                """SELECT id FROM sms_sms WHERE id = ANY(%s) AND state = 'outgoing' AND to_delete IS NOT TRUE
                    ORDER BY id FOR NO KEY UPDATE SKIP LOCKED""",
                self.ids,
            )
        )
        return self.browse([row[0] for row in self.env.cr.fetchall()])

    def _split_by_gateways(self):
        """{tuple of gateway ids to try in order, or (): messages}; () is Odoo's own way (IAP, no gateway).

        Each SMS goes through its own company's routes (``_get_sending_company``), whoever runs the queue.
        """
        Route = self.env["sms.marketing.gateway.route"]
        chains, batches = {}, defaultdict(lambda: self.browse())
        for sms in self:
            company = sms._get_sending_company()
            country = phone_tools.country_of(sms.number)
            key = (company.id, country)
            if key not in chains:
                routed = Route._has_routes(company)
                default = self.env["sms.marketing.gateway"]._get_default(company)
                chain = Route._get_chain(company, country) if routed else default
                # as the engine: the first gateway up of the route, else the default one
                first = (Route._get_gateway(company, country, chain) if routed else default) or default
                chain = first | chain  # the first one leads, the route's others are its failover
                # Odoo's SMS (IAP) goes Odoo's way: its gateway is never asked to send on Odoo's behalf
                chains[key] = () if first.provider == "odoo_iap" else tuple(chain.ids)
            batches[chains[key]] |= sms
        return batches

    def _get_sending_company(self):
        """The company an SMS is sent for: the company of the record it was posted on, when it has one,
        else the current one (the sender's; the queue cron's for a record of no company)."""
        self.ensure_one()
        message = self.mail_message_id
        if message.model and message.res_id and message.model in self.env:
            record = self.env[message.model].sudo().browse(message.res_id).exists()
            if record and "company_id" in record._fields and record.company_id:
                return record.company_id[:1]
        return self.env.company
