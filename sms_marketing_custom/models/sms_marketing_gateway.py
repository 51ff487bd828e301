"""Credit gateways: where SMS leave Odoo.

Two providers speak the same internal interface, ``_send_batch(messages)``:

* ``sandbox`` runs inside Odoo: no network, no account. It prices and counts
  segments like a real gateway, accounts credits in the ledger, and can
  simulate delivery reports and refusals. One is installed with demo credits
  so that a newcomer can send at once.
* ``http`` speaks the IAP-like JSON protocol of DESIGN.md over HTTPS, with
  explicit time-outs. Time-outs, 429 and 5xx raise ``SmsGatewayTransientError``
  (the engine retries with the same uuids, which the gateway deduplicates).

Credits: ``balance`` is the credit available to Odoo. It only ever changes
through ``_change_balance``, an atomic conditional UPDATE (the balance never
goes negative, whatever the number of concurrent senders) that writes one
``sms.marketing.credit.move`` in the same transaction, so that the balance is
always the sum of the ledger.
"""

import hashlib
import hmac
import json
import logging
import re
import threading
import uuid as uuid_lib

import requests

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..providers import SmsGatewayError, SmsGatewayTransientError
from ..tools.sms_encoding import segment_count

_logger = logging.getLogger(__name__)

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")

_http_local = threading.local()


class SmsMarketingGateway(models.Model):
    _name = "sms.marketing.gateway"
    _description = "SMS Credit Gateway"
    _order = "sequence, id"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    provider = fields.Selection(
        [("sandbox", "Sandbox (no real SMS)"), ("http", "HTTP (IAP-like)")], default="sandbox", required=True
    )
    sender = fields.Char(help="Sender name or number shown to recipients, when the gateway allows it.")
    # http provider
    endpoint_url = fields.Char(help="Base URL of the gateway, e.g. https://sms.example.com")
    api_key = fields.Char(groups="base.group_system", copy=False)
    webhook_secret = fields.Char(
        groups="base.group_system", copy=False, help="Shared secret the gateway signs its delivery reports with."
    )
    timeout = fields.Float(default=15.0, help="Seconds to wait for the gateway before retrying later.")
    # sandbox provider
    sandbox_delivery = fields.Boolean(
        string="Simulate Delivery Reports", default=True, help="Sandbox: messages are reported delivered at once."
    )
    sandbox_failure_rate = fields.Float(
        string="Simulated Refusals (%)", help="Sandbox: share of messages the gateway refuses."
    )
    sandbox_undelivered_rate = fields.Float(
        string="Simulated Undelivered (%)", help="Sandbox: share of sent messages reported undelivered."
    )
    # credits
    balance = fields.Float(
        digits=(16, 4), readonly=True, copy=False, default=0.0, help="Credits available for sending."
    )
    default_price = fields.Float(
        string="Default Credits per Segment", digits=(16, 4), default=1.0, help="For countries without a price."
    )
    restrict_countries = fields.Boolean(
        string="Only Priced Countries", help="Refuse numbers of countries without a price line."
    )
    price_ids = fields.One2many("sms.marketing.gateway.price", "gateway_id", string="Prices")
    credit_move_ids = fields.One2many("sms.marketing.credit.move", "gateway_id", string="Credit Ledger")
    credit_move_count = fields.Integer(compute="_compute_credit_move_count")

    _sql_constraints = [
        ("balance_positive", "CHECK(balance >= 0)", "The credit balance cannot be negative."),
    ]

    def _compute_credit_move_count(self):
        counts = dict(
            self.env["sms.marketing.credit.move"]._read_group(
                [("gateway_id", "in", self.ids)], ["gateway_id"], ["__count"]
            )
        )
        for gateway in self:
            gateway.credit_move_count = counts.get(gateway, 0)

    @api.constrains("provider", "endpoint_url")
    def _check_endpoint(self):
        # An http gateway without an endpoint would fail at the first mailing, far from here.
        for gateway in self:
            if gateway.provider == "http" and not gateway.endpoint_url:
                raise UserError(_("The gateway %(name)s needs an endpoint URL.", name=gateway.name))

    # ------------------------------------------------------------------ actions
    def action_refresh(self):
        """Fetch balance and prices from the gateway."""
        for gateway in self:
            gateway._refresh_balance()
            gateway._refresh_prices()
        return True

    def action_add_demo_credits(self):
        self.ensure_one()
        if self.provider != "sandbox":
            raise UserError(_("Only a sandbox gateway can get demo credits; buy credits from your provider."))
        self._change_balance(1000.0, "purchase", note=_("Demo credits"))
        return True

    def action_view_credit_moves(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Credit Ledger"),
            "res_model": "sms.marketing.credit.move",
            "view_mode": "tree,form",
            "domain": [("gateway_id", "=", self.id)],
        }

    # ------------------------------------------------------------------ business
    @api.model
    def _get_default(self, company=None):
        """The gateway a mailing uses when it names none: the company's first active one."""
        company = company or self.env.company
        return self.sudo().search(  # sudo: marketers send through gateways they may not configure
            [("company_id", "in", [company.id, False])], limit=1
        )

    def _get_prices(self):
        """{country code or False: credits per segment}, False being the default price."""
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                """SELECT c.code, p.price FROM sms_marketing_gateway_price p
                   LEFT JOIN res_country c ON c.id = p.country_id WHERE p.gateway_id = %s""",
                self.id,
            )
        )
        prices = {code or False: price for code, price in self.env.cr.fetchall()}
        prices.setdefault(False, self.default_price)
        return prices

    def _change_balance(self, amount, move_type, mailing=None, note=None, allow_partial=False):
        """Add ``amount`` (negative to take) credits atomically, with its ledger line.

        A negative change is a conditional UPDATE: it does nothing when the
        balance is short, and the caller gets False. Several senders at once
        serialise on the gateway row only for the time of their transaction.
        Returns the amount actually changed (0.0 when refused).
        """
        self.ensure_one()
        amount = round(amount, 4)
        if not amount:
            return 0.0
        cr = self.env.cr
        if amount < 0 and allow_partial:
            # take what is there, up to -amount
            cr.execute(
                SQL(
                    """WITH old AS (SELECT id, COALESCE(balance, 0) AS balance FROM sms_marketing_gateway
                                   WHERE id = %s FOR NO KEY UPDATE)
                       UPDATE sms_marketing_gateway g SET balance = old.balance - LEAST(old.balance, %s)
                         FROM old WHERE g.id = old.id RETURNING LEAST(old.balance, %s)""",
                    self.id,
                    -amount,
                    -amount,
                )
            )
            row = cr.fetchone()
            amount = -round(row[0], 4) if row else 0.0
            if not amount:
                return 0.0
        else:
            cr.execute(
                SQL(
                    """UPDATE sms_marketing_gateway SET balance = COALESCE(balance, 0) + %s
                       WHERE id = %s AND COALESCE(balance, 0) + %s >= 0 RETURNING balance""",
                    amount,
                    self.id,
                    amount,
                )
            )
            if not cr.rowcount:
                return 0.0
        cr.execute(
            SQL(
                """INSERT INTO sms_marketing_credit_move
                       (gateway_id, mailing_id, move_type, amount, note, create_uid, write_uid, create_date, write_date)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, now() at time zone 'UTC', now() at time zone 'UTC')""",
                self.id,
                mailing.id if mailing else None,
                move_type,
                amount,
                note,
                self.env.uid,
                self.env.uid,
            )
        )
        self.invalidate_recordset(["balance", "credit_move_ids", "credit_move_count"])
        if move_type == "purchase" and amount > 0:
            # A top-up resumes mailings paused for lack of credit.
            self.env.ref("sms_marketing_custom.ir_cron_sms_marketing_process_queue")._trigger()
        return amount

    def _reserve(self, amount, mailing=None):
        """Hold ``amount`` credits for messages about to be sent; False if the balance is short."""
        if amount <= 0:
            return True
        return bool(self._change_balance(-amount, "reservation", mailing=mailing))

    def _settle(self, reserved, spent, mailing=None):
        """Close a reservation: what was not spent (refused, cheaper) goes back as a refund.

        If the gateway charged more than reserved, the difference is spent,
        within the balance (the ledger never goes below zero).
        """
        diff = round(reserved - spent, 4)
        if diff > 0:
            self._change_balance(diff, "refund", mailing=mailing)
        elif diff < 0:
            self._change_balance(diff, "spend", mailing=mailing, allow_partial=True)

    def _get_webhook_url(self):
        self.ensure_one()
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        return f"{base.rstrip('/')}/sms_marketing/status/{self.id}"

    def _send_batch(self, messages):
        """Send ``messages`` (dicts uuid/number/content/sender[/country_code]).

        Returns one result dict per message: uuid, state (protocol states),
        segments, credits; the sandbox adds ``delivery`` (delivered/undelivered)
        when it simulates delivery reports. Raises SmsGatewayTransientError
        for time-outs, 429 and 5xx, SmsGatewayError for a refused key.
        """
        self.ensure_one()
        if not messages:
            return []
        return getattr(self, f"_send_batch_{self.provider}")(messages)

    # ------------------------------------------------------------------ sandbox
    def _sandbox_ratio(self, uuid, salt):
        """A stable pseudo-random number in [0, 100) from the uuid: the same message
        always gets the same simulated fate, even when it is sent again."""
        digest = hashlib.blake2b(f"{salt}:{uuid}".encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") % 10000 / 100.0

    def _send_batch_sandbox(self, messages):
        # the engine passes the prices it already read for this run
        prices = self.env.context.get("sms_marketing_prices") or self._get_prices()
        restricted = self.restrict_countries
        failure_rate = self.sandbox_failure_rate
        undelivered_rate = self.sandbox_undelivered_rate
        delivery = self.sandbox_delivery
        segments_cache = {}
        results = []
        for message in messages:
            msg_uuid, number, content = message["uuid"], message["number"], message["content"]
            country = message.get("country_code") or False
            if not number or not E164_RE.match(number):
                results.append({"uuid": msg_uuid, "state": "wrong_number_format", "segments": 0, "credits": 0.0})
                continue
            if restricted and country not in prices:
                results.append({"uuid": msg_uuid, "state": "country_not_supported", "segments": 0, "credits": 0.0})
                continue
            if failure_rate and self._sandbox_ratio(msg_uuid, "reject") < failure_rate:
                results.append({"uuid": msg_uuid, "state": "rejected", "segments": 0, "credits": 0.0})
                continue
            segments = message.get("segments") or segments_cache.get(content)
            if segments is None:
                segments = segments_cache[content] = segment_count(content)
            result = {
                "uuid": msg_uuid,
                "state": "sent",
                "segments": segments,
                "credits": round(segments * prices.get(country, prices[False]), 4),
            }
            if delivery:
                undelivered = undelivered_rate and self._sandbox_ratio(msg_uuid, "dlr") < undelivered_rate
                result["delivery"] = "undelivered" if undelivered else "delivered"
            results.append(result)
        return results

    # ------------------------------------------------------------------ http
    def _http_session(self):
        # One keep-alive session per thread (requests.Session is not thread-safe).
        session = getattr(_http_local, "session", None)
        if session is None:
            session = _http_local.session = requests.Session()
        return session

    def _http_request(self, method, path, payload=None):
        self.ensure_one()
        if not self.endpoint_url:
            raise SmsGatewayError(_("The gateway %(name)s has no endpoint URL.", name=self.name))
        url = f"{self.endpoint_url.rstrip('/')}{path}"
        headers = {"Authorization": f"Bearer {self.sudo().api_key or ''}"}  # sudo: the key is admin-only
        timeout = self.timeout or 15.0
        try:
            response = self._http_session().request(
                method, url, json=payload, headers=headers, timeout=(min(timeout, 5.0), timeout)
            )
        except requests.exceptions.RequestException as e:
            raise SmsGatewayTransientError(
                _("The gateway did not answer in time (%(error)s).", error=type(e).__name__)
            ) from e
        if response.status_code == 429 or response.status_code >= 500:
            raise SmsGatewayTransientError(
                _("The gateway is busy or failing (HTTP %(code)s).", code=response.status_code)
            )
        if response.status_code in (401, 403):
            raise SmsGatewayError(_("The gateway refused the API key of %(name)s.", name=self.name))
        if response.status_code != 200:
            raise SmsGatewayError(
                _("The gateway answered HTTP %(code)s: %(text)s", code=response.status_code, text=response.text[:200])
            )
        try:
            return response.json()
        except ValueError as e:
            raise SmsGatewayTransientError(_("The gateway sent an unreadable answer.")) from e

    def _send_batch_http(self, messages):
        payload = {
            "messages": [
                {"uuid": m["uuid"], "number": m["number"], "content": m["content"], "sender": m.get("sender") or ""}
                for m in messages
            ],
            "webhook_url": self._get_webhook_url(),
        }
        answer = self._http_request("POST", "/sms/v1/send", payload)
        results = answer.get("results") or []
        return [
            {
                "uuid": r.get("uuid"),
                "state": r.get("state") or "server_error",
                "segments": int(r.get("segments") or 0),
                "credits": float(r.get("credits") or 0.0),
            }
            for r in results
        ]

    def _refresh_balance(self):
        """Align the local balance with the gateway's, through a ledger line."""
        self.ensure_one()
        if self.provider != "http":
            return self.balance
        try:
            remote = float(self._http_request("GET", "/sms/v1/balance").get("balance") or 0.0)
        except SmsGatewayError as e:
            raise UserError(str(e)) from e
        self.env.cr.execute(SQL("SELECT balance FROM sms_marketing_gateway WHERE id = %s FOR UPDATE", self.id))
        local = self.env.cr.fetchone()[0] or 0.0
        diff = round(remote - local, 4)
        if diff > 0:
            self._change_balance(diff, "purchase", note=_("Balance read from the gateway"))
        elif diff < 0:
            self._change_balance(diff, "spend", note=_("Balance read from the gateway"), allow_partial=True)
        return remote

    def _refresh_prices(self):
        self.ensure_one()
        if self.provider != "http":
            return
        try:
            prices = self._http_request("GET", "/sms/v1/prices").get("prices") or []
        except SmsGatewayError as e:
            raise UserError(str(e)) from e
        countries = {c.code: c.id for c in self.env["res.country"].search([])}
        vals = []
        for line in prices:
            code = (line.get("country") or "").upper()
            if code in countries:
                vals.append({"gateway_id": self.id, "country_id": countries[code], "price": float(line["price"])})
            elif code in ("", "*", "DEFAULT"):
                self.default_price = float(line["price"])
        self.price_ids.unlink()
        self.env["sms.marketing.gateway.price"].create(vals)

    # ------------------------------------------------------------------ delivery reports
    @api.model
    def _route_webhook(self, gateway_id, raw_body, signature, kind):
        """(HTTP status, JSON answer or None) of a gateway's signed webhook call.

        ``kind`` is "statuses" (delivery reports) or "messages" (inbound SMS).
        An unknown gateway and a bad signature get the same bare 403, so the
        route tells nothing about which gateways exist.
        """
        # sudo: the caller is the gateway (anonymous); the HMAC signature authenticates it
        gateway = self.sudo().browse(gateway_id).exists()
        if not gateway or not gateway._check_signature(raw_body, signature):
            return 403, None
        try:
            items = json.loads(raw_body or b"{}").get(kind) or []
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise ValueError
        except (ValueError, AttributeError):
            return 400, None
        if kind == "statuses":
            return 200, {"updated": gateway._process_statuses(items)}
        return 200, {"results": gateway._process_inbound_messages(items)}

    def _check_signature(self, body, signature):
        """True when ``signature`` is the hex HMAC-SHA256 of ``body`` with the webhook secret."""
        self.ensure_one()
        secret = self.sudo().webhook_secret or ""  # sudo: the secret is admin-only, the check is not
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return bool(secret) and hmac.compare_digest(expected, signature or "")

    def _process_statuses(self, statuses):
        """Apply delivery reports [{uuid, state}] set-wise; statuses never go backwards.

        Only traces of mailings sent through this gateway (or the default one)
        and still ``sent`` (or ``pending`` when the report overtook the sender's
        commit) move; returns the count.
        """
        self.ensure_one()
        uuids, states = [], []
        for status in statuses:
            if isinstance(status, dict) and status.get("uuid") and status.get("state"):
                uuids.append(str(status["uuid"])[:64])
                states.append(str(status["state"])[:32])
        if not uuids:
            return 0
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """UPDATE sms_marketing_trace t
                      SET state = CASE WHEN v.state = 'delivered' THEN 'delivered' ELSE 'failed' END,
                          delivered_at = CASE WHEN v.state = 'delivered' THEN %(now)s END,
                          sent_at = COALESCE(t.sent_at, %(now)s),
                          failure_type = CASE WHEN v.state = 'delivered' THEN NULL
                                              WHEN v.state = 'expired' THEN 'expired' ELSE 'undelivered' END,
                          failure_reason = CASE WHEN v.state = 'delivered' THEN NULL
                                                WHEN v.state = 'expired' THEN %(expired)s ELSE %(undelivered)s END,
                          write_date = %(now)s
                     FROM unnest(%(uuids)s::varchar[], %(states)s::varchar[]) AS v(uuid, state),
                          sms_marketing_mailing m
                    WHERE t.uuid = v.uuid AND t.state IN ('sent', 'pending') AND m.id = t.mailing_id
                      AND (m.gateway_id = %(gateway)s OR m.gateway_id IS NULL)
                      AND v.state IN ('delivered', 'undelivered', 'expired', 'failed')""",
                now=now,
                expired=_("The message expired before it could be delivered."),
                undelivered=_("The operator could not deliver the message."),
                uuids=uuids,
                states=states,
                gateway=self.id,
            )
        )
        count = self.env.cr.rowcount
        self.env["sms.marketing.trace"].invalidate_model()
        return count

    @api.model
    def _new_uuid(self):
        return uuid_lib.uuid4().hex
