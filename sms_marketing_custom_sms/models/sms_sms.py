"""Odoo's outgoing SMS (``sms.sms``) through the SMS gateways, when a Settings administrator turns it on.

What: every ``sms.sms`` Odoo sends (chatter "Send SMS", SMS templates,
automated actions, Odoo's SMS Marketing, other apps) leaves through the
gateway its destination country routes it to (routes, else the company's
default gateway), with the route's next gateways as failover; the rate
limit, the credit ledger and the delivery reports are the gateways' own
(models/sms_marketing_gateway.py). A message whose gateway is Odoo's SMS
(IAP credits: ``sms_marketing_custom_iap``), or that no gateway takes, goes
Odoo's way, unchanged.

How: ``_send`` claims its rows with a committed marker
(``_claim_outgoing``: of two queue runs, on one server or several, the
second skips what the first claimed), splits them by gateway and lets
Odoo's ``_send`` run for each part with the gateways in the context: Odoo's
call to IAP is where they take over (tools/sms_api.py), through the engine's
one way out, which commits the reservation before the provider call: no
lock (the gateway row, the ``sms.sms`` rows) is held during it. Odoo reads
their answer as IAP's and writes the outcome (``sms.sms``, notifications,
trackers); the claim ends with it.

Caveats: an SMS sent at once (chatter "Send SMS") commits the work of the
request before its provider call, as the test SMS does: it is kept whatever
the call does. A runner that dies leaves its claim until the lease
(``in_flight_timeout``) ends; then the SMS is sent again under its uuid
(a duplicate for an idempotent provider), or, after a call to a provider
without idempotency key, becomes Odoo's "Server Error" for a user to resend.
"""

import logging
from collections import defaultdict
from datetime import timedelta

from odoo import fields, models
from odoo.addons.sms_marketing_custom.tools import phone as phone_tools
from odoo.tools import SQL

from ..tools.sms_api import GATEWAYS_CONTEXT_KEY

_logger = logging.getLogger(__name__)

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

    sms_marketing_claim_until = fields.Datetime(
        string="Claimed Until",
        readonly=True,
        copy=False,
        help="A runner is sending this SMS through the gateways; past this time its claim is presumed dead.",
    )
    # the claiming runner's database session: the heartbeat of its batches moves its claims forward
    sms_marketing_claim_pid = fields.Integer(string="Claimed By Session", readonly=True, copy=False)

    def _send(self, unlink_failed=False, unlink_sent=True, raise_exception=False):
        if not self._is_routed_through_gateways():
            return super()._send(unlink_failed=unlink_failed, unlink_sent=unlink_sent, raise_exception=raise_exception)
        Gateway = self.env["sms.marketing.gateway"].sudo()  # sudo: the routes' gateways send Odoo's SMS
        claimed = self._claim_outgoing()
        for gateway_ids, batch in claimed._split_by_gateways().items():
            if gateway_ids:
                batch = batch.with_context(**{GATEWAYS_CONTEXT_KEY: Gateway.browse(gateway_ids)})
            super(SmsSms, batch)._send(
                unlink_failed=unlink_failed, unlink_sent=unlink_sent, raise_exception=raise_exception
            )
            # the outcome is written: the claim ends with this transaction
            batch.sudo().write({"sms_marketing_claim_until": False, "sms_marketing_claim_pid": False})
        return None

    def _is_routed_through_gateways(self):
        value = self.env["ir.config_parameter"].sudo().get_param(ROUTE_ODOO_SMS_PARAM, "")
        return value.strip().lower() in ("1", "true")

    def _claim_outgoing(self):
        """The messages of ``self`` still to send that no other runner has claimed, claimed for this one.

        The claim is a committed marker (``sms_marketing_claim_until``), not a
        row lock: the provider is called later with no lock held (the
        gateways' ``_send_odoo_sms_batch``), and another queue run, on this
        server or another, skips a message claimed and not yet expired. The
        caller's work is committed with it (``sms.marketing.engine._commit``,
        as the engine's test SMS does), in READ COMMITTED: of two runners
        claiming at once, the second skips what the first holds or re-reads it
        claimed.

        The lease (``in_flight_timeout``) is moved forward by the heartbeat of
        the runner's per-message batches (``sms.marketing.engine._extend_session_claims``,
        by its session ``sms_marketing_claim_pid``): a batch slower than the
        lease keeps its claims while its reservation's lease is alive.
        A claim past its lease belongs to a runner that
        died: an SMS whose gateway (named before the call) may have sent it
        and cannot tell (``_is_resend_safe``) is not sent again blindly: it
        becomes Odoo's "Server Error", which a user may resend from the
        chatter; the others are sent again under their uuid.
        """
        if not self:
            return self
        Engine = self.env["sms.marketing.engine"].sudo()
        Engine._commit()  # the caller's work is kept; the claim below runs in READ COMMITTED
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """SELECT id, sms_marketing_claim_until IS NOT NULL, sms_marketing_gateway_id FROM sms_sms
                    WHERE id = ANY(%s) AND state = 'outgoing' AND to_delete IS NOT TRUE
                      AND (sms_marketing_claim_until IS NULL OR sms_marketing_claim_until < %s)
                    ORDER BY id FOR NO KEY UPDATE SKIP LOCKED""",
                self.ids,
                now,
            )
        )
        rows = self.env.cr.fetchall()
        Gateway = self.env["sms.marketing.gateway"].sudo()
        unsafe = self.browse(
            [
                sms_id
                for sms_id, expired, gateway_id in rows
                if expired and not Gateway.browse(gateway_id)._is_resend_safe()
            ]
        )
        claimed = self.browse([row[0] for row in rows]) - unsafe
        if unsafe:
            _logger.warning("Odoo's SMS %s: their sender stopped during the call; not sent again", unsafe.ids)
            unsafe.sudo().write({"sms_marketing_claim_until": False, "sms_marketing_claim_pid": False})
            unsafe.sudo()._update_sms_state_and_trackers("error", failure_type="sms_server")
        if claimed:
            lease = Engine._get_params()["in_flight_timeout"]
            claimed.sudo().write(
                {
                    "sms_marketing_claim_until": now + timedelta(seconds=lease),
                    "sms_marketing_claim_pid": self.env.cr._cnx.get_backend_pid(),
                }
            )
        Engine._commit()  # claimed for good, every row lock released before any provider call
        return claimed

    def _split_by_gateways(self):
        """{tuple of gateway ids to try in order, or (): messages}; () is Odoo's own way (IAP, no gateway).

        Each SMS goes through its own company's routes (``_get_sending_company``), whoever runs the queue;
        one still outgoing with a gateway named (a call of unknown outcome) goes back to that gateway.
        """
        Route = self.env["sms.marketing.gateway.route"]
        chains, batches = {}, defaultdict(lambda: self.browse())
        for sms in self:
            if sms.sms_marketing_gateway_id:
                # named before a call whose outcome is unknown: only that gateway may have it, and
                # it answers a second send of its uuid (``_send_odoo_sms_batch``); no failover
                batches[(sms.sms_marketing_gateway_id.id,)] |= sms
                continue
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
