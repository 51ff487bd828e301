import logging
import re
from dataclasses import replace

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..tools import links
from ..tools import phone as phone_tools
from ..tools.messages import new_message
from .sms_marketing_consent import ConsentDetails

_logger = logging.getLogger(__name__)


class SmsMarketingBlacklist(models.Model):
    """Numbers (E.164) that receive no marketing SMS.

    One row per number (unique, indexed); removing a number archives it so that
    its history (source, dates) stays. Every check against the blacklist is a
    SQL join on the normalised number: contacts' ``phone_sanitized``, partners'
    ``sms_marketing_number``, the mailing's recipients query.

    The blacklist is global: a STOP stops every company's SMS marketing in the
    database (as Odoo's ``phone.blacklist``). Each entry keeps the company that
    received its opt-out (``company_id``); only someone working in that company
    (its allowed companies of the request) lifts it, and an entry of unknown
    company only an SMS Marketing manager (``_check_can_lift``). Adding is
    never restricted. Source, dates and company are the server's: they follow
    the state change and its ``ConsentDetails`` (sms_marketing_consent.py),
    never the values or context a caller sends.
    """

    _name = "sms.marketing.blacklist"
    _description = "SMS Blacklist"
    _rec_name = "number"
    _order = "date desc, id desc"

    number = fields.Char(required=True, index=True, help="E.164 number that receives no marketing SMS.")
    source = fields.Selection(
        [
            ("manual", "Manual"),
            ("optout_link", "Opt-out Link"),
            ("keyword", "STOP Keyword"),
            ("import", "Import"),
            ("provider", "SMS Provider"),
        ],
        default="manual",
        required=True,
        readonly=True,
    )
    date = fields.Datetime(string="Blacklisted On", default=fields.Datetime.now, required=True, readonly=True)
    company_id = fields.Many2one(
        "res.company",
        string="Received By",
        readonly=True,
        index=True,
        help="The company whose SMS, gateway or user received the opt-out: only its users can remove it.",
    )
    removed_source = fields.Selection(
        [("manual", "Manual"), ("optout_link", "Opt-out Link"), ("keyword", "START Keyword"), ("import", "Import")],
        string="Removed By",
        readonly=True,
    )
    removed_date = fields.Datetime(string="Removed On", readonly=True)
    active = fields.Boolean(default=True)
    consent_ids = fields.Many2many(
        "sms.marketing.consent", string="Consent Log", compute="_compute_consent_ids", readonly=True
    )

    _sql_constraints = [("number_unique", "unique(number)", "This number is already in the blacklist.")]

    # set by the server only, from the state change and its details (never from a caller's values)
    _STATE_FIELDS = ("source", "date", "company_id", "removed_source", "removed_date")

    @api.depends("number")
    def _compute_consent_ids(self):
        events = self.env["sms.marketing.consent"].search([("number", "in", self.mapped("number"))])
        for rec in self:
            rec.consent_ids = events.filtered(lambda event, number=rec.number: event.number == number)

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        """Store numbers in E.164; re-adding a known number reactivates it instead of failing."""
        vals_list = [self._strip_state_fields(vals) for vals in vals_list]
        for vals in vals_list:
            if vals.get("number"):
                vals["number"] = self._normalize_or_raise(vals["number"])
        numbers = [vals["number"] for vals in vals_list if vals.get("number")]
        existing = {rec.number: rec for rec in self.with_context(active_test=False).search([("number", "in", numbers)])}
        reactivated = self.browse()
        state_values = self._get_state_values(True)
        new_vals_list = []
        new_numbers = set()
        for vals in vals_list:
            number = vals.get("number")
            record = existing.get(number)
            if record:
                reactivated |= record
            elif not number or number not in new_numbers:  # same number twice in one call: keep the first
                new_numbers.add(number)
                new_vals_list.append({**vals, "active": True, **state_values})
        # an entry already active stays as it is (its company too): only archived ones change state
        reactivated.write({"active": True})
        created = super().create(new_vals_list)
        created._log_consent("opt_out")
        return reactivated | created

    def write(self, vals):
        vals = self._strip_state_fields(vals)
        if vals.get("number"):
            vals["number"] = self._normalize_or_raise(vals["number"])
            if any(rec.number != vals["number"] for rec in self):
                # a new number would lift the old one's opt-out without its event
                raise UserError(_("The number of a blacklist entry cannot be changed: remove it and add the new one."))
        if "active" not in vals:
            return super().write(vals)
        active = bool(vals.pop("active"))
        changed = self.filtered(lambda rec: rec.active != active)
        if not active:
            self._check_can_lift()
        result = super().write(vals) if vals else True
        if changed:
            super(SmsMarketingBlacklist, changed).write({"active": active, **self._get_state_values(active)})
            changed._log_consent("opt_out" if active else "opt_in")
        return result

    def unlink(self):
        """Deleting an entry lifts its opt-out: the same right as removing it, and its event."""
        self._check_can_lift()
        self.filtered("active")._log_consent("opt_in")
        return super().unlink()

    @api.model
    def load(self, fields, data):
        """Odoo's import (the import screen calls ``load``): its changes are logged as imports."""
        details = replace(self.env["sms.marketing.consent"]._get_details(), source="import")
        return super(SmsMarketingBlacklist, self.with_context(**details.context())).load(fields, data)

    def _strip_state_fields(self, vals):
        """``vals`` without the fields the server sets (a caller may send them: they are ignored)."""
        return {fname: value for fname, value in vals.items() if fname not in self._STATE_FIELDS}

    def _get_state_values(self, active):
        """Source, date and company of entries becoming ``active`` (an opt-out) or archived (an opt-in)."""
        Consent = self.env["sms.marketing.consent"]
        details = Consent._get_details()
        now = fields.Datetime.now()
        if active:
            return {
                "source": details.source if details.source in dict(self._fields["source"].selection) else "manual",
                "date": now,
                "company_id": Consent._get_company(details).id,
                "removed_source": False,
                "removed_date": False,
            }
        removed_sources = dict(self._fields["removed_source"].selection)
        return {
            "removed_source": details.source if details.source in removed_sources else "manual",
            "removed_date": now,
        }

    def _check_can_lift(self):
        """Only someone working in the company that received an opt-out lifts it (docs/design.md):
        the request's allowed companies, checked against the user's; an entry of unknown company
        needs an SMS Marketing manager. The system (keywords, the opt-out page) runs as superuser."""
        if self.env.su or not self:
            return
        companies = self.env.companies  # raises when the request names a company of someone else
        is_manager = self.env.user.has_group("sms_marketing_custom.group_sms_marketing_manager")
        # sudo: the entries' company is checked here, whoever may read it
        for rec in self.sudo():
            if rec.company_id and rec.company_id not in companies:
                raise AccessError(
                    _(
                        "%(number)s was blacklisted by %(company)s: only its users can remove it.",
                        number=rec.number,
                        company=rec.company_id.name,
                    )
                )
            if not rec.company_id and not is_manager:
                raise AccessError(
                    _(
                        "%(number)s was blacklisted by an unknown company: only SMS Marketing managers can remove it.",
                        number=rec.number,
                    )
                )

    def _log_consent(self, event):
        """One consent event per record: the blacklist's state changes only with its event (docs/design.md).
        It belongs to the entry's company (the one that received the opt-out), so that its users see
        who lifted it."""
        Consent = self.env["sms.marketing.consent"]
        values = Consent._get_event_values(Consent._get_details())
        Consent._log(
            [{**values, "number": rec.number, "event": event, "company_id": rec.sudo().company_id.id} for rec in self]
        )

    # ------------------------------------------------------------------ actions
    def action_remove(self):
        """Remove the selected numbers from the blacklist (they are archived, history kept)."""
        self._remove_numbers(self.mapped("number"), "manual")
        return True

    def action_restore(self):
        self._add_numbers(self.with_context(active_test=False).mapped("number"), "manual")
        return True

    # ------------------------------------------------------------------ API
    @api.model
    def _add_numbers(self, numbers, source="manual", details=None):
        """Blacklist E.164 ``numbers`` (reactivating archived ones). Returns the records.

        ``details`` (``ConsentDetails``, or a dict of mailing_id, gateway_id, evidence) go into the consent
        log's events; a private method's argument, which no request can reach.
        """
        numbers = list(dict.fromkeys(number for number in numbers or [] if number))
        if not numbers:
            return self.browse()
        details = ConsentDetails.of(details, source)
        # sudo: opt-out links and STOP keywords add numbers on behalf of the recipient (public/webhook requests)
        blacklist = self.sudo().with_context(active_test=False, **details.context())
        existing = blacklist.search([("number", "in", numbers)])
        existing.filtered(lambda rec: not rec.active).write({"active": True})
        known = set(existing.mapped("number"))
        created = blacklist.create([{"number": number} for number in numbers if number not in known])
        return (existing | created).with_env(self.env)

    @api.model
    def _remove_numbers(self, numbers, source="manual", details=None):
        """Take E.164 ``numbers`` out of the blacklist (archived with who/when). Returns the records.

        A user lifts only the entries of their companies (``_check_can_lift``); the recipient's own
        START, YES or opt-out page's undo run as superuser and lift any.
        """
        numbers = [number for number in numbers or [] if number]
        if not numbers:
            return self.browse()
        details = ConsentDetails.of(details, source)
        # sudo: a START keyword removes the number on behalf of its owner
        records = self.sudo().with_context(**details.context()).search([("number", "in", numbers)])
        records.with_env(self.env)._check_can_lift()
        records.write({"active": False})
        return records.with_env(self.env)

    # ------------------------------------------------------------------ inbound SMS keywords
    @api.model
    def _apply_inbound_keywords(self, messages):
        """Apply the keywords of inbound SMS and answer them; one result per message, in order.

        ``messages`` are [{number, content}] as a provider read them from its
        webhook (the gateway, in the context as ``sms_marketing_gateway_id``,
        checked the signature). Keywords are the company's (settings; the
        localised built-in lists of ``tools.links`` by default), read by
        ``tools.links.parse_inbound``; the whole message must be the keyword:

        - STOP (and its translations) blacklists the sender (source "keyword"),
          marks the last SMS sent to it as opted out, and answers once (not
          when the number was already blacklisted);
        - START/UNSTOP removes it from the blacklist and answers;
        - HELP/INFO answers with the company's name and how to stop;
        - ``JOIN <list keyword>`` asks for a YES (a pending request per number),
          and YES subscribes the number to that list (double opt-in);
        - anything else is ignored.

        Every opt-in and opt-out lands in the consent log with the message as
        evidence. Answers leave through the same gateway, charged like any SMS,
        queued for a cron (``sms.marketing.reply``, ``_send_keyword_replies``).
        Results: [{number (E.164 or None), action: "optout" | "optin" | "help" |
        "join" | "yes" | "ignored"}].
        """
        gateway = self.env["sms.marketing.gateway"].sudo().browse(self.env.context.get("sms_marketing_gateway_id"))
        gateway = gateway.exists()
        # the company the messages land in (``sms.marketing.conversation._get_inbound_companies``)
        inbound_company = self.env["res.company"].browse(self.env.context.get("sms_marketing_inbound_company_id"))
        company = gateway.company_id or inbound_company.sudo() or self.env.company
        keywords = company._get_sms_marketing_keywords()
        results, replies, optouts = [], [], []
        for message in messages:
            number = self._normalize_inbound_number(message.get("number") or message.get("from"))
            content = str(message.get("content") or "")
            action, argument, word = links.parse_inbound(content, keywords) if number else (None, None, None)
            details = ConsentDetails(source="keyword", gateway_id=gateway.id, evidence=content)
            lang = company._get_sms_marketing_reply_lang(word)
            reply = None
            if action == "optout":
                already = bool(self._get_blacklisted_numbers([number]))
                self._add_numbers([number], "keyword", details=details)
                optouts.append(number)
                reply = None if already else company._get_sms_marketing_reply("stop", lang)
            elif action == "optin":
                if not self._remove_numbers([number], "keyword", details=details):
                    # not blacklisted: START is still an opt-in to prove
                    Consent = self.env["sms.marketing.consent"].sudo()
                    Consent._log([{**Consent._get_event_values(details), "number": number, "event": "opt_in"}])
                reply = company._get_sms_marketing_reply("start", lang)
            elif action == "help":
                reply = company._get_sms_marketing_reply("help", lang)
            elif action == "join":
                request = self.env["sms.marketing.join.request"]._request(number, argument, gateway, company, content)
                if request:
                    reply = company._get_sms_marketing_reply("join", lang, list_name=request.list_id.name)
                else:
                    action = None
            elif action == "yes":
                request = self.env["sms.marketing.join.request"]._confirm(number, gateway, company, content)
                if request:
                    reply = company._get_sms_marketing_reply("joined", lang, list_name=request.list_id.name)
                else:
                    action = None
            if reply:
                replies.append({"number": number, "content": reply})
            results.append({"number": number, "action": action or "ignored"})
        if optouts:
            self._mark_last_traces_opted_out(optouts)
        if gateway and replies:  # sent by a cron: no provider call, no lock of a sender inside the webhook
            self.env["sms.marketing.reply"]._queue(gateway, replies)
        return results

    @api.model
    def _send_keyword_replies(self, gateway, replies):
        """Send ``replies`` ([{number, content}]) through ``gateway``, reserved and settled like any SMS.

        The engine's one way out (``sms.marketing.engine._send_now``): the
        caller's work is committed first, the provider is called with no lock
        held. Each has a new uuid; the answers the balance does not cover, and
        every answer on a gateway error, are not sent and cost nothing: the
        keyword itself is applied anyway. Returns the provider's result of each
        reply, in order ({} for one not sent).
        """
        prices = gateway._get_prices()
        messages = [
            new_message(
                gateway._new_uuid(),
                reply["number"],
                reply["content"],
                gateway.sender,
                phone_tools.country_of(reply["number"]),
                prices,
            )
            for reply in replies
        ]
        delivery = self.env["sms.marketing.engine"]._send_now(gateway, messages, on_short=self._warn_short)
        error = delivery.error or delivery.transient_error
        if error:
            _logger.warning("gateway %s: keyword answers not sent: %s", gateway.id, error)
        results = {} if error else delivery.results or {}
        return [results.get(message["uuid"], {}) for message in messages]

    @api.model
    def _warn_short(self, count):
        _logger.warning("gateway: not enough credits to answer every keyword; %s answer(s) sent", count)

    @api.model
    def _normalize_inbound_number(self, raw):
        """E.164 of an inbound SMS's sender; providers send "+33612345678" or "33612345678".

        A number libphonenumber does not know is kept as "+digits": it is what the
        provider sees, so it is what must be blacklisted. None when it has not 6 to
        15 digits.
        """
        digits = re.sub(r"\D", "", str(raw or ""))
        if not 6 <= len(digits) <= 15:
            return None
        return phone_tools.normalize(f"+{digits}").e164 or f"+{digits}"

    @api.model
    def _mark_last_traces_opted_out(self, numbers):
        """The last SMS sent to each number counts as the one the recipient opted out of."""
        self.env["sms.marketing.trace"].flush_model(["number", "state", "optout_at"])
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

    # ------------------------------------------------------------------ blacklist flag
    @api.model
    def _set_blacklisted_flag(self, records, number_field):
        """Compute ``records.blacklisted`` from their E.164 ``number_field``, in one query."""
        blacklisted = self._get_blacklisted_numbers(records.mapped(number_field))
        for record in records:
            record.blacklisted = bool(record[number_field]) and record[number_field] in blacklisted

    def _get_blacklisted_numbers(self, numbers):
        """The subset of ``numbers`` that is blacklisted (one indexed query)."""
        numbers = [number for number in numbers if number]
        if not numbers:
            return set()
        self.flush_model(["number", "active"])
        self.env.cr.execute(
            SQL("SELECT number FROM sms_marketing_blacklist WHERE active AND number = ANY(%s)", numbers)
        )
        return {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _get_blacklisted_domain(self, number_field, operator, value):
        """Domain on a model whose ``number_field`` stores E.164, for a searchable ``blacklisted`` flag.

        A sub-select on the unique, indexed blacklist: "Blacklist is set / is not set" in the
        domain editor and filters, evaluated by PostgreSQL on any number of records.
        """
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(_("The blacklist can only be searched with 'is set' or 'is not set'."))
        self.flush_model(["number", "active"])
        blacklisted_numbers = SQL("(SELECT number FROM sms_marketing_blacklist WHERE active)")
        if (operator == "=") == value:
            return [(number_field, "in", blacklisted_numbers)]
        return ["|", (number_field, "=", False), (number_field, "not in", blacklisted_numbers)]

    @api.model
    def _normalize_or_raise(self, raw):
        """E.164 of ``raw`` (read with the company's country when national), or a UserError saying why."""
        result = phone_tools.normalize(raw, self.env.company.country_id.code)
        if not result.e164:
            reason = self.env["sms.marketing.contact"]._phone_error_reason(result.error, self.env.company.country_id)
            raise UserError(_("%(number)s cannot be blacklisted: %(reason)s", number=raw, reason=reason))
        return result.e164
