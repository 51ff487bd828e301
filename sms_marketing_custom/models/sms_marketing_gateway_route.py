"""Routes: which gateway sends to which country, and which one takes over when it is down.

A route is (countries -> gateway, sequence). For a destination country, the
routes naming that country, then the routes naming none (every other
country), in sequence order, give the gateways to try: the first is used,
the next ones are the failover. A mailing with its own gateway ignores
routes; one without uses them when its company has any, else the default
gateway (``sms.marketing.gateway._get_default``).

Failover: a gateway that failed ``failover_threshold`` times in a row (time-
outs, 5xx, refused credentials: the call as a whole, never a refused number)
is skipped for ``FAILOVER_PROBE_SECONDS``; then one batch tries it again and a
success brings it back. Only messages the failing gateway did not take move
(they are still ``pending``); a message it may have taken (``unknown``) stays
with it.
"""

from datetime import timedelta

from odoo import api, fields, models

FAILOVER_PROBE_SECONDS = 300


class SmsMarketingGatewayRoute(models.Model):
    _name = "sms.marketing.gateway.route"
    _description = "SMS Gateway Route"
    _order = "sequence, id"

    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    country_ids = fields.Many2many(
        "res.country", string="Countries", help="Destination countries of this route. Empty: every other country."
    )
    gateway_id = fields.Many2one("sms.marketing.gateway", required=True, ondelete="cascade")

    @api.model
    def _has_routes(self, company):
        return bool(self.sudo().search_count([("company_id", "in", [company.id, False])], limit=1))

    @api.model
    def _get_chain(self, company, country_code):
        """The gateways to try for ``country_code`` (ISO code or False), in order, without repeats."""
        routes = self.sudo().search([("company_id", "in", [company.id, False])])  # sudo: marketers read no routes
        own = routes.filtered(lambda r: country_code and country_code in r.country_ids.mapped("code"))
        chain = self.env["sms.marketing.gateway"].sudo()
        for route in own + routes.filtered(lambda r: not r.country_ids):
            if route.gateway_id.active and route.gateway_id not in chain:
                chain |= route.gateway_id
        return chain

    @api.model
    def _get_gateway(self, company, country_code, chain=None):
        """The gateway of the first route that is up; the first one when all are down (someone must try)."""
        chain = chain if chain is not None else self._get_chain(company, country_code)
        now = fields.Datetime.now()
        for gateway in chain:
            if not gateway._is_failing(now):
                return gateway
        return chain[:1]

    @api.model
    def _probe_after(self):
        return timedelta(seconds=FAILOVER_PROBE_SECONDS)
