"""Credit gateways: where SMS leave Odoo.

A gateway is an account with a provider (``provider``: a key of the provider
registry, ``providers/base.py``): the sandbox inside Odoo, the IAP-like HTTP
protocol, and whatever other provider module registers itself. The gateway
keeps what is Odoo's business and asks the provider, through
``_get_provider()``, for what is the provider's:

* sending: ``_send_batch(messages)`` (the engine's entry point);
* the provider's balance and prices: ``_fetch_balance()``,
  ``_fetch_prices()``, then ``_apply_balance``, ``_apply_prices`` (``action_refresh``);
* webhooks: ``_route_webhook`` lets the provider check the signature and read
  the body, then applies delivery reports to traces (``_process_statuses``)
  and inbound SMS to their conversations (``sms.marketing.conversation._receive``:
  kept, and STOP/START keywords applied by ``sms.marketing.blacklist._apply_inbound_keywords``).

Trust: the credentials (``_secret_fields``) and the right to call private
addresses (``allow_private_network``) are an administrator's, given for the
gateway's provider, endpoint and account (``_connection_fields``). Anyone
else changing those on a gateway that holds them is refused: the credentials
would leave for the new address (``_check_connection_change``). Every call
out goes through ``SmsProvider.http_request`` (``tools/outbound.py``), and a
provider's own words reach administrators only (``_provider_error_message``).

Credits: ``balance`` is the credit available to Odoo. It only ever changes
through ``_change_balance``, an atomic conditional UPDATE (the balance never
goes negative, whatever the number of concurrent senders) that writes one
``sms.marketing.credit.move`` in the same transaction, so that the balance is
always the sum of the ledger.
"""

import logging
import uuid as uuid_lib
from contextlib import nullcontext

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..providers import PROVIDERS, SmsGatewayError
from ..tools import outbound

_logger = logging.getLogger(__name__)


class SmsMarketingGateway(models.Model):
    _name = "sms.marketing.gateway"
    _description = "SMS Credit Gateway"
    _order = "sequence, id"
    # What an administrator gives a gateway for its provider, endpoint and account (never sent elsewhere).
    _secret_fields = ("account_id", "api_key", "webhook_secret")
    # Where those go: only a Settings administrator changes them on a gateway that holds any.
    _connection_fields = ("provider", "endpoint_url", "account_id")

    # translatable: the gateways the app installs have names its users read in their language
    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    provider = fields.Selection(selection="_selection_provider", default="sandbox", required=True)
    sender = fields.Char(help="Sender name or number shown to recipients, when the gateway allows it.")
    # Connection: which of these a provider reads is its ``gateway_fields``.
    endpoint_url = fields.Char(
        string="Endpoint URL",
        help="Base URL of the provider's API, e.g. https://sms.example.com. "
        "Empty: the provider's public URL, when it has one.",
    )
    allow_private_network = fields.Boolean(
        string="Allow Private Addresses",
        groups="base.group_system",
        copy=False,
        help="Let this gateway call local or private network addresses (127.0.0.1, 10.x, 192.168.x, ...): "
        "a provider inside your network, or a local simulator. Off, such addresses are refused before "
        "connecting, whatever the endpoint's name resolves to.",
    )
    account_id = fields.Char(
        string="Account ID", groups="base.group_system", copy=False, help="Account identifier at the provider."
    )
    api_key = fields.Char(groups="base.group_system", copy=False)
    webhook_secret = fields.Char(
        groups="base.group_system", copy=False, help="Shared secret the provider signs its webhook calls with."
    )
    vonage_signature_method = fields.Selection(
        [
            ("md5hash", "MD5 hash"),
            ("md5", "MD5 HMAC"),
            ("sha1", "SHA1 HMAC"),
            ("sha256", "SHA256 HMAC"),
            ("sha512", "SHA512 HMAC"),
        ],
        string="Signature Method",
        default="md5hash",
        groups="base.group_system",
        help="Vonage: the signature method set in the dashboard (API settings) with the signature secret.",
    )
    timeout = fields.Float(
        string="Timeout (s)", default=15.0, help="Seconds to wait for the gateway before retrying later."
    )
    rate_limit = fields.Float(
        string="Rate Limit (SMS/s)",
        help="Messages per second this account may send, shared by every sender of every server "
        "(e.g. 1 for a US long code, 100 for a short code). 0: no limit.",
    )
    # token bucket of the rate limit (see _take_rate_slots); the engine's, never edited
    rate_tat = fields.Float(readonly=True, copy=False)
    # sandbox provider
    sandbox_delivery = fields.Boolean(
        string="Simulate Delivery Reports", default=True, help="Sandbox: messages are reported delivered at once."
    )
    sandbox_failure_rate = fields.Float(
        string="Simulated Refusals (%)",
        help="Sandbox: share of messages the gateway refuses. Test numbers ending in 5550009 are always refused.",
    )
    sandbox_undelivered_rate = fields.Float(
        string="Simulated Undelivered (%)",
        help="Sandbox: share of sent messages reported undelivered. "
        "Test numbers ending in 5550004 are always undelivered.",
    )
    # routing and failover (sms.marketing.gateway.route)
    route_ids = fields.One2many("sms.marketing.gateway.route", "gateway_id", string="Routes")
    failover_threshold = fields.Integer(
        string="Failover After (Failures)",
        default=3,
        help="Consecutive failures (time-outs, server errors, refused credentials) after which the messages "
        "of its routes go to the next gateway of their route. 0: never.",
    )
    consecutive_failures = fields.Integer(readonly=True, copy=False)
    last_failure_at = fields.Datetime(readonly=True, copy=False)
    connection_locked = fields.Boolean(
        compute="_compute_connection_locked",
        help="The current user may not change the provider, endpoint or account: "
        "an administrator gave this gateway credentials for them.",
    )
    # what the form shows, from the provider's class
    provider_fields = fields.Char(compute="_compute_provider_info")
    provider_can_refresh = fields.Boolean(compute="_compute_provider_info")
    provider_simulated = fields.Boolean(compute="_compute_provider_info")
    # credits
    balance = fields.Float(
        digits=(16, 4), readonly=True, copy=False, default=0.0, help="Credits available for sending."
    )
    default_price = fields.Float(
        string="Default Credits per SMS Part", digits=(16, 4), default=1.0, help="For countries without a price."
    )
    restrict_countries = fields.Boolean(
        string="Only Priced Countries", help="Refuse numbers of countries without a price line."
    )
    price_ids = fields.One2many("sms.marketing.gateway.price", "gateway_id", string="Prices")
    credit_move_ids = fields.One2many("sms.marketing.credit.move", "gateway_id", string="Credit Ledger")
    credit_move_count = fields.Integer(compute="_compute_credit_move_count")

    _sql_constraints = [
        ("balance_positive", "CHECK(balance >= 0)", "The credit balance cannot be negative."),
        ("rate_limit_positive", "CHECK(rate_limit >= 0)", "The rate limit cannot be negative."),
    ]

    @api.model
    def _selection_provider(self):
        """Every registered provider (providers/base.py), in registration order."""
        return [(key, str(cls.label)) for key, cls in PROVIDERS.items()]

    @api.depends("provider")
    def _compute_provider_info(self):
        for gateway in self:
            cls = PROVIDERS.get(gateway.provider)
            # ",a,b," so that the form tests ",name," without matching a part of a longer name
            gateway.provider_fields = f",{','.join(cls.gateway_fields)}," if cls else ","
            gateway.provider_can_refresh = bool(cls) and any(map(cls.overrides, ("fetch_balance", "fetch_prices")))
            gateway.provider_simulated = bool(cls) and cls.simulated

    @api.depends_context("uid")
    def _compute_connection_locked(self):
        administrator = self.env.is_system()
        for gateway in self:
            gateway.connection_locked = not administrator and gateway._is_bound_by_administrator()

    def _compute_credit_move_count(self):
        counts = dict(
            self.env["sms.marketing.credit.move"]._read_group(
                [("gateway_id", "in", self.ids)], ["gateway_id"], ["__count"]
            )
        )
        for gateway in self:
            gateway.credit_move_count = counts.get(gateway, 0)

    @api.constrains("provider", "endpoint_url", "account_id", "api_key", "webhook_secret")
    def _check_provider_fields(self):
        # A gateway missing what its provider needs would fail at the first mailing, far from here.
        for gateway in self.sudo():  # sudo: credentials are admin-only, whether they are set is not secret
            cls = PROVIDERS.get(gateway.provider)
            for name in cls.required_fields if cls else ():
                if not gateway[name]:
                    raise UserError(
                        _(
                            "The gateway %(name)s needs a value for %(field)s.",
                            name=gateway.name,
                            field=gateway._fields[name]._description_string(self.env),
                        )
                    )

    @api.constrains("endpoint_url")
    def _check_endpoint_url(self):
        for gateway in self.filtered("endpoint_url"):
            try:
                outbound.check_endpoint_url(gateway.endpoint_url)
            except outbound.OutboundRefused as e:
                raise ValidationError(gateway._outbound_refusal_message(e)) from e

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        gateways = super().create(vals_list)
        if self.env.context.get("sms_marketing_refresh_on_create"):
            gateways._refresh_account_on_create()
        return gateways

    def write(self, vals):
        self._check_connection_change(vals)
        return super().write(vals)

    def _check_connection_change(self, vals):
        """Refuse, before anything is written, a change of provider, endpoint or account by anyone
        but a Settings administrator on a gateway an administrator gave credentials (or the right to
        call private addresses): the credentials would go to the new address, which its writer
        chose. Refused rather than cleared: whoever may not type credentials could not put them
        back, and a slip on a live gateway would stop every mailing until an administrator comes."""
        if self.env.is_system():
            return
        changed = [name for name in self._connection_fields if name in vals]
        for gateway in self.sudo() if changed else ():  # sudo: whether credentials are set is not secret
            if gateway._is_bound_by_administrator() and any(
                (vals[name] or False) != (gateway[name] or False) for name in changed
            ):
                raise UserError(
                    _(
                        "Only a Settings administrator can change the provider, endpoint URL or account of the "
                        "gateway %(name)s: its credentials were given for the current ones and would be sent to "
                        "the new address. Ask an administrator, who will enter the credentials for the new one.",
                        name=gateway.name,
                    )
                )

    def _refresh_account_on_create(self):
        """Read the balance and prices of new gateways whose provider keeps the account, so that a
        new gateway does not show 0 credits; an unreachable provider does not stop the creation
        (Send reads them again, and says so when the provider cannot be reached)."""
        for gateway in self.filtered(lambda g: not g.provider_simulated):
            try:
                with self.env.cr.savepoint():
                    gateway.action_refresh()
            except UserError as error:
                _logger.info("gateway %s: balance and prices not read at creation: %s", gateway.id, error)

    # ------------------------------------------------------------------ actions
    def action_refresh(self):
        """Fetch balance and prices from the gateway.

        Every provider is asked before anything is written: the gateway row
        (which every sender's reservation updates) is locked only by the
        short writes that follow, never during a provider call.
        """
        accounts = [(gateway, gateway._fetch_balance(), gateway._fetch_prices()) for gateway in self]
        for gateway, balance, prices in accounts:
            gateway._apply_balance(balance)
            gateway._apply_prices(prices)
        return True

    def action_add_demo_credits(self):
        """Free credits on a sandbox gateway (no SMS leaves it), for those who configure gateways:
        the write rights on this gateway (SMS Marketing managers of its company), checked here because
        a button is also an RPC method that any reader could call."""
        self.ensure_one()
        self.check_access_rights("write")
        self.check_access_rule("write")
        if not self.provider_simulated:
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

    def _is_failing(self, now=None):
        """True while routes skip this gateway: it failed ``failover_threshold`` times in a row
        (sms.marketing.gateway.route: it is tried again after a while)."""
        self.ensure_one()
        now = now or fields.Datetime.now()
        probe = self.env["sms.marketing.gateway.route"]._probe_after()
        return bool(
            self.failover_threshold > 0
            and self.consecutive_failures >= self.failover_threshold
            and self.last_failure_at
            and self.last_failure_at > now - probe
        )

    def _note_call(self, failed):
        """Count a call's failure (or reset the count on success); returns the consecutive failures."""
        self.ensure_one()
        if failed:
            self.env.cr.execute(
                SQL(
                    """UPDATE sms_marketing_gateway SET consecutive_failures = COALESCE(consecutive_failures, 0) + 1,
                              last_failure_at = %s WHERE id = %s RETURNING consecutive_failures""",
                    fields.Datetime.now(),
                    self.id,
                )
            )
            count = self.env.cr.fetchone()[0]
        else:
            self.env.cr.execute(
                SQL(
                    """UPDATE sms_marketing_gateway SET consecutive_failures = 0
                        WHERE id = %s AND consecutive_failures != 0""",
                    self.id,
                )
            )
            count = 0
        self.invalidate_recordset(["consecutive_failures", "last_failure_at"])
        return count

    def _get_prices(self):
        """{country code or False: credits per segment}: the one definition of a price.

        False is the price for every other country: the price line without a
        country if there is one, else ``default_price``.
        """
        self.ensure_one()
        self.env["sms.marketing.gateway.price"].flush_model(["gateway_id", "country_id", "price"])
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
        return self._apply_balance_change(amount, move_type, mailing, note, allow_partial)[0]

    def _apply_balance_change(self, amount, move_type, mailing=None, note=None, allow_partial=False, lease_until=None):
        """``_change_balance``, returning (amount changed, ledger line id or None).

        With ``lease_until`` the line is written even for 0 credits: it is a
        batch's record while its provider call is in flight.
        """
        self.ensure_one()
        amount = round(amount, 4)
        if not amount and not lease_until:
            return 0.0, None
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
                return 0.0, None
        elif amount:
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
                return 0.0, None
        cr.execute(
            SQL(
                """INSERT INTO sms_marketing_credit_move
                       (gateway_id, mailing_id, move_type, amount, note, lease_until,
                        create_uid, write_uid, create_date, write_date)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now() at time zone 'UTC', now() at time zone 'UTC')
                   RETURNING id""",
                self.id,
                mailing.id if mailing else None,
                move_type,
                amount,
                note,
                lease_until,
                self.env.uid,
                self.env.uid,
            )
        )
        move_id = cr.fetchone()[0]
        self.invalidate_recordset(["balance", "credit_move_ids", "credit_move_count"])
        if move_type == "purchase" and amount > 0:
            # A top-up resumes mailings paused for lack of credit.
            self.env["sms.marketing.mailing"]._trigger_queue()
        return amount, move_id

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

    def _reserve_batch(self, amount, lease_until, mailing=None):
        """Hold ``amount`` credits for a batch about to be sent; the ledger line's id, or None if short.

        The line carries the batch's lease (``lease_until``) until
        ``_close_lease``: it is written even for 0 credits.
        """
        if amount > 0:
            taken, move_id = self._apply_balance_change(
                -amount, "reservation", mailing=mailing, lease_until=lease_until
            )
            return move_id if taken else None
        return self._apply_balance_change(0.0, "reservation", mailing=mailing, lease_until=lease_until)[1]

    def _close_lease(self, move_id):
        """End the lease of the batch reservation ``move_id``: True, or False when it was ended already.

        A conditional UPDATE, which waits for and re-reads a concurrent
        closer's row: of the sender recording its answer and a recovery of its
        expired lease, exactly one wins, and only the winner settles the
        credits and moves the traces (in the same transaction).
        """
        self.env.cr.execute(
            SQL(
                """UPDATE sms_marketing_credit_move SET lease_until = NULL
                    WHERE id = %s AND lease_until IS NOT NULL RETURNING id""",
                move_id,
            )
        )
        return bool(self.env.cr.rowcount)

    def _take_rate_slots(self, count, now=None):
        """Seconds to wait before sending ``count`` messages within ``rate_limit`` (0 when unlimited).

        A shared token bucket in the gateway row (GCRA: ``rate_tat`` is the
        theoretical time, in seconds of the database's clock, at which the
        messages already granted have all left). One atomic UPDATE grants
        the slots to one runner, so the rate holds across every runner and
        every server of the database; the caller sleeps outside any
        transaction. ``now`` (epoch seconds) replaces the database's clock in tests.
        """
        self.ensure_one()
        if not count or self.rate_limit <= 0:
            return 0.0
        clock = SQL("%s::float8", now) if now is not None else SQL("extract(epoch from clock_timestamp())")
        self.env.cr.execute(
            SQL(
                """WITH t AS (SELECT %(clock)s AS now)
                   UPDATE sms_marketing_gateway g
                      SET rate_tat = GREATEST(COALESCE(g.rate_tat, 0), t.now) + %(count)s / g.rate_limit
                     FROM t
                    WHERE g.id = %(id)s AND g.rate_limit > 0
                RETURNING GREATEST(g.rate_tat - %(count)s / g.rate_limit - t.now, 0)""",
                clock=clock,
                count=float(count),
                id=self.id,
            )
        )
        row = self.env.cr.fetchone()
        return row[0] if row else 0.0

    def _get_webhook_url(self):
        self.ensure_one()
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        return f"{base.rstrip('/')}/sms_marketing/status/{self.id}"

    def _get_provider(self, raise_if_unknown=True):
        """The provider of this gateway, bound to it (see providers/base.py for its interface).

        A provider key nobody registers any more (its addon was removed)
        raises SmsGatewayError, or gives None with ``raise_if_unknown=False``.
        """
        self.ensure_one()
        cls = PROVIDERS.get(self.provider)
        if cls is None:
            if not raise_if_unknown:
                return None
            raise SmsGatewayError(
                _("The gateway %(name)s uses an unknown provider (%(key)s).", name=self.name, key=self.provider)
            )
        return cls(self)

    def _send_batch(self, messages, around_call=None):
        """Send ``messages`` (dicts uuid, number, content, sender, country_code, segments).

        Returns one result dict per message: uuid, state (protocol states),
        segments, credits, and ``delivery`` (delivered/undelivered) when the
        provider knows at once. Raises SmsGatewayTransientError for time-outs,
        429, 5xx and unreadable answers, SmsGatewayError for refused
        credentials or configuration. The contract is in providers/base.py.
        ``around_call``: a context manager factory wrapping the provider's calls
        alone (the engine's ``_outside_transaction``).
        """
        self.ensure_one()
        if not messages:
            return []
        provider = self._get_provider()
        with around_call() if around_call else nullcontext():
            results = provider.send(messages)
        self._apply_provider_results(messages, results)
        return results

    def _apply_provider_results(self, messages, results):
        """Keep what a provider said beyond the trace's state: its message ids (for ``lookup``)
        and the numbers it refused because their owner opted out with it (blacklisted, source
        "provider", so that no mailing tries them again)."""
        numbers = {message["uuid"]: message["number"] for message in messages}
        opted_out = [numbers[r["uuid"]] for r in results if r.get("opt_out") and r.get("uuid") in numbers]
        if opted_out:
            self.env["sms.marketing.blacklist"].sudo()._add_numbers(opted_out, source="provider")
        ids = [(r["uuid"], r["provider_id"]) for r in results if r.get("provider_id") and r.get("uuid") in numbers]
        if ids:
            self.env.cr.execute(
                SQL(
                    """UPDATE sms_marketing_trace t SET provider_message_id = v.pid
                         FROM unnest(%s::varchar[], %s::varchar[]) AS v(uuid, pid) WHERE t.uuid = v.uuid""",
                    [uuid for uuid, _pid in ids],
                    [str(pid)[:64] for _uuid, pid in ids],
                )
            )

    # ------------------------------------------------------------------ provider accounts
    def _refresh_balance(self, around_call=None):
        """Align the local balance with the provider's (``_fetch_balance``, ``_apply_balance``).

        The provider is asked first, no lock held; returns its balance. ``around_call``: as for
        ``_send_batch``, a context manager factory wrapping the provider's call alone.
        """
        self.ensure_one()
        with around_call() if around_call else nullcontext():
            balance = self._fetch_balance()
        return self._apply_balance(balance)

    def _fetch_balance(self):
        """The provider's balance (None when it keeps none); a UserError when it cannot be read."""
        return self._ask_account("fetch_balance")

    def _fetch_prices(self):
        """The provider's price list [(country code or False, price)], None when it publishes none."""
        return self._ask_account("fetch_prices")

    def _ask_account(self, method):
        """The provider's answer to ``method`` (a ``fetch_*`` of providers/base.py), its error as a UserError."""
        self.ensure_one()
        try:
            return getattr(self._get_provider(), method)()
        except SmsGatewayError as e:
            raise UserError(self._provider_error_message(e)) from e

    def _apply_balance(self, remote):
        """Align the local balance with the provider's ``remote`` one, through a ledger line.

        The local balance is the provider's less what the batches in flight
        hold (their reservations are open: the provider has not charged them
        yet). A provider that keeps no balance (None: the sandbox) leaves it
        as it is: the local ledger is the truth. Returns the provider's balance.
        """
        self.ensure_one()
        if remote is None:
            return self.balance
        self.env.cr.execute(SQL("SELECT balance FROM sms_marketing_gateway WHERE id = %s FOR NO KEY UPDATE", self.id))
        local = self.env.cr.fetchone()[0] or 0.0
        self.env.cr.execute(
            SQL(
                """SELECT COALESCE(-sum(amount), 0) FROM sms_marketing_credit_move
                    WHERE gateway_id = %s AND lease_until IS NOT NULL""",
                self.id,
            )
        )
        held = float(self.env.cr.fetchone()[0])
        diff = round(remote - held - local, 4)
        if diff > 0:
            self._change_balance(diff, "purchase", note=_("Balance read from the gateway"))
        elif diff < 0:
            self._change_balance(diff, "spend", note=_("Balance read from the gateway"), allow_partial=True)
        return remote

    def _apply_prices(self, prices):
        """Replace the price lines with the provider's price list ``prices`` (None: left as they are).

        The line for every other country becomes ``default_price``; codes
        Odoo does not know are skipped.
        """
        self.ensure_one()
        if prices is None:
            return
        countries = {c.code: c.id for c in self.env["res.country"].search([])}
        vals = []
        for code, price in prices:
            if not code:
                self.default_price = price
            elif code in countries:
                vals.append({"gateway_id": self.id, "country_id": countries[code], "price": price})
            else:
                _logger.info("gateway %s: price for unknown country %r skipped", self.id, code)
        self.price_ids.unlink()
        self.env["sms.marketing.gateway.price"].create(vals)

    # ------------------------------------------------------------------ delivery reports
    @api.model
    def _route_webhook(self, gateway_id, raw_body, headers, url, kind):
        """(HTTP status, JSON answer or None) of a webhook call of a gateway's provider.

        ``kind`` is "statuses" (delivery reports) or "messages" (inbound SMS);
        ``headers`` the request's headers (any case), ``url`` the URL called.
        The provider checks the signature before anything reads the body, then
        reads it in its own format. An unknown gateway and a bad or malformed
        signature get the same bare 403, so the route tells nothing about
        which gateways exist. A call already applied (a replay, or the
        provider's retry of a call whose answer it lost) gets 200 and changes
        nothing (``sms.marketing.webhook.replay``).
        """
        empty = {"updated": 0} if kind == "statuses" else {"results": []}
        if not 0 < gateway_id < 2**31:  # ids are PostgreSQL integers: a larger one is no gateway, not an error
            return 403, None
        # sudo: the caller is the provider (anonymous); its signature authenticates it
        gateway = self.sudo().browse(gateway_id).exists()
        provider = gateway._get_provider(raise_if_unknown=False) if gateway else None
        headers = {str(name).lower(): value for name, value in (headers or {}).items()}
        raw_body = raw_body or b""
        if not provider or not self._verify_webhook(provider, raw_body, headers, url):
            return 403, None
        try:
            if kind == "statuses":
                items = provider.parse_statuses(raw_body, headers, url)
            else:
                items = provider.parse_inbound(raw_body, headers, url)
            replay_key = provider.webhook_replay_key(raw_body, headers, url, kind) if items else None
        except ValueError:
            return 400, None
        if replay_key and not gateway.env["sms.marketing.webhook.replay"]._claim(gateway, *replay_key):
            _logger.info("gateway %s: webhook call %.80s already applied", gateway.id, replay_key[0])
            return 200, empty
        if kind == "statuses":
            return 200, {"updated": gateway._process_statuses(items)}
        Blacklist = gateway.env["sms.marketing.blacklist"].with_context(sms_marketing_gateway_id=gateway.id)
        # the provider already blocks these numbers itself (e.g. Twilio's Advanced Opt-Out): say so
        held = [Blacklist._normalize_inbound_number(item["number"]) for item in items if item.get("opt_out") == "stop"]
        if any(held):
            Blacklist._add_numbers([number for number in held if number], source="provider")
        call_key = replay_key[0] if replay_key else None
        return 200, {"results": gateway.env["sms.marketing.conversation"]._receive(gateway, items, call_key)}

    @api.model
    def _verify_webhook(self, provider, raw_body, headers, url):
        """The provider's ``verify_webhook``; a provider that breaks its contract on malformed input
        (raises instead of answering False) refuses the call rather than answering 500."""
        try:
            return provider.verify_webhook(raw_body, headers, url) is True
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError):
            _logger.warning("gateway %s: its provider failed to check a webhook signature", provider.gateway.id)
            return False

    @api.model
    def _webhook_response(self, gateway_id, kind, answer):
        """(body, content type) of a provider that answers webhooks its own way, else None."""
        gateway = self.sudo().browse(gateway_id).exists()
        provider = gateway._get_provider(raise_if_unknown=False) if gateway else None
        return provider.webhook_response(kind, answer) if provider else None

    def _check_signature(self, body, headers):
        """True when ``headers`` (``X-Signature``... any case) sign ``body`` for this gateway's provider."""
        self.ensure_one()
        provider = self._get_provider(raise_if_unknown=False)
        headers = {str(name).lower(): value for name, value in (headers or {}).items()}
        return bool(provider) and self._verify_webhook(provider, body, headers, self._get_webhook_url())

    def _process_statuses(self, statuses):
        """Apply delivery reports [{uuid, state}] set-wise; statuses never go backwards.

        Only traces sent through this gateway (the trace's, else its mailing's,
        else the default one) and still ``sent`` (or ``pending`` when the report
        overtook the sender's commit, or ``unknown``: the report proves it left)
        move; returns the count. The reports of messages that are no such trace are offered to
        ``_process_other_statuses`` (the bridge to Odoo's SMS), and only those: a batch's reports
        are a mailing's thousand traces, and looking each up among Odoo's SMS too took more of the
        server's CPU than applying them (docs/benchmark.md).
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
        reasons = self.env["sms.marketing.trace"]._get_failure_reasons()
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
                    WHERE t.uuid = v.uuid AND t.state IN ('sent', 'pending', 'unknown') AND m.id = t.mailing_id
                      AND COALESCE(t.gateway_id, m.gateway_id, %(gateway)s) = %(gateway)s
                      AND v.state IN ('delivered', 'undelivered', 'expired', 'failed')
                RETURNING t.uuid""",
                now=now,
                expired=reasons["expired"],
                undelivered=reasons["undelivered"],
                uuids=uuids,
                states=states,
                gateway=self.id,
            )
        )
        applied = {uuid for (uuid,) in self.env.cr.fetchall()}
        self.env["sms.marketing.trace"].invalidate_model()
        others = [(uuid, state) for uuid, state in zip(uuids, states, strict=True) if uuid not in applied]
        return len(applied) + (self._process_other_statuses(others) if others else 0)

    def _process_other_statuses(self, statuses):
        """Delivery reports [(uuid, state)] that moved no trace: another sender's messages, traces of
        another gateway or already final, uuids unknown, states not understood. Returns the count of
        what they moved: nothing here."""
        return 0

    @api.model
    def _new_uuid(self):
        return uuid_lib.uuid4().hex

    # ------------------------------------------------------------------ trust
    def _is_bound_by_administrator(self):
        """True when an administrator gave this gateway credentials or the right to call private addresses."""
        self.ensure_one()
        gateway = self.sudo()  # sudo: the values stay here; only whether they are set is used
        return gateway.allow_private_network or any(gateway[name] for name in self._secret_fields)

    def _provider_error_message(self, error):
        """The text of a provider's SmsGatewayError for the current user: its ``detail`` (the
        provider's answer, the address refused: whatever the endpoint's server said) only for a
        Settings administrator, who configures gateways; others get the generic text and the HTTP
        status. The real user decides, not sudo: marketers refresh through sudo when they send."""
        if getattr(error, "detail", None) and self.env.user._is_system():
            return _(
                "%(error)s\nDetail (shown to administrators only): %(detail)s",
                error=str(error),
                detail=str(error.detail)[:500],
            )
        return str(error)

    def _outbound_refusal_message(self, refusal):
        """What to tell about a URL or address that ``tools/outbound.py`` refused (``refusal.reason``)."""
        if refusal.reason == "private":
            return _(
                "The gateway %(name)s may not call %(host)s: it is a local or private network address. "
                "A Settings administrator can allow private addresses on the gateway.",
                name=self.name,
                host=refusal.host,
            )
        if refusal.reason == "scheme":
            return _("The endpoint URL of the gateway %(name)s must start with http:// or https://.", name=self.name)
        if refusal.reason == "credentials":
            return _(
                "The endpoint URL of the gateway %(name)s may not contain a user name or password: "
                "credentials go in the gateway's credential fields.",
                name=self.name,
            )
        if refusal.reason == "characters":
            return _("The endpoint URL of the gateway %(name)s contains spaces or backslashes.", name=self.name)
        if refusal.reason == "query":
            return _(
                "The endpoint URL of the gateway %(name)s must be the provider's base URL, "
                "without a ?query or #fragment.",
                name=self.name,
            )
        return _("The endpoint URL of the gateway %(name)s has no valid host name or port.", name=self.name)
