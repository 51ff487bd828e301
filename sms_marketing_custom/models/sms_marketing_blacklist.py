import logging
import re

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..providers import SmsGatewayError, SmsGatewayTransientError
from ..tools import links, pricing
from ..tools import phone as phone_tools
from ..tools.sms_encoding import segment_count

_logger = logging.getLogger(__name__)


class SmsMarketingBlacklist(models.Model):
    """Numbers (E.164) that receive no marketing SMS.

    One row per number (unique, indexed); removing a number archives it so that
    its history (source, dates) stays. Every check against the blacklist is a
    SQL join on the normalised number: contacts' ``phone_sanitized``, partners'
    ``sms_marketing_number``, the mailing's recipients query.
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
    )
    date = fields.Datetime(string="Blacklisted On", default=fields.Datetime.now, required=True, readonly=True)
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

    @api.depends("number")
    def _compute_consent_ids(self):
        events = self.env["sms.marketing.consent"].search([("number", "in", self.mapped("number"))])
        for rec in self:
            rec.consent_ids = events.filtered(lambda event, number=rec.number: event.number == number)

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        """Store numbers in E.164; re-adding a known number reactivates it instead of failing."""
        for vals in vals_list:
            if vals.get("number"):
                vals["number"] = self._normalize_or_raise(vals["number"])
        numbers = [vals["number"] for vals in vals_list if vals.get("number")]
        existing = {rec.number: rec for rec in self.with_context(active_test=False).search([("number", "in", numbers)])}
        reactivated = self.browse()
        new_vals_list = []
        new_numbers = set()
        for vals in vals_list:
            number = vals.get("number")
            record = existing.get(number)
            if record:
                record.write({"active": True, "source": vals.get("source", "manual"), "date": fields.Datetime.now()})
                reactivated |= record
            elif not number or number not in new_numbers:  # same number twice in one call: keep the first
                new_numbers.add(number)
                new_vals_list.append(vals)
        created = super().create(new_vals_list)
        sources = {rec.id: vals.get("source") for rec, vals in zip(created, new_vals_list, strict=True)}
        created._log_consent("opt_out", sources)
        return reactivated | created

    def write(self, vals):
        if vals.get("number"):
            vals["number"] = self._normalize_or_raise(vals["number"])
        if vals.get("active") is True:
            vals.setdefault("removed_source", False)
            vals.setdefault("removed_date", False)
        result = super().write(vals)
        if "active" in vals:
            source = vals.get("source") if vals["active"] else vals.get("removed_source")
            self._log_consent("opt_out" if vals["active"] else "opt_in", dict.fromkeys(self.ids, source))
        return result

    def _log_consent(self, event, source_by_id):
        """One consent event per record: the blacklist's state changes only with its event (docs/design.md)."""
        Consent = self.env["sms.marketing.consent"]
        details = Consent._get_details()
        details.pop("list_id", None)
        forced_source = details.pop("source", None)
        Consent._log(
            [
                {
                    **details,
                    "number": rec.number,
                    "event": event,
                    "source": Consent._source_of(forced_source or source_by_id.get(rec.id)),
                }
                for rec in self
            ]
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

        ``details`` go into the consent log's events (mailing_id, gateway_id, evidence).
        """
        numbers = list(dict.fromkeys(number for number in numbers or [] if number))
        if not numbers:
            return self.browse()
        # sudo: opt-out links and STOP keywords add numbers on behalf of the recipient (public/webhook requests)
        blacklist = self.sudo().with_context(active_test=False, sms_marketing_consent=details or {})
        existing = blacklist.search([("number", "in", numbers)])
        inactive = existing.filtered(lambda rec: not rec.active)
        inactive.write({"active": True, "source": source, "date": fields.Datetime.now()})
        known = set(existing.mapped("number"))
        created = blacklist.create([{"number": number, "source": source} for number in numbers if number not in known])
        return (existing | created).with_env(self.env)

    @api.model
    def _remove_numbers(self, numbers, source="manual", details=None):
        """Take E.164 ``numbers`` out of the blacklist (archived with who/when). Returns the records."""
        numbers = [number for number in numbers or [] if number]
        if not numbers:
            return self.browse()
        # sudo: a START keyword removes the number on behalf of its owner
        records = self.sudo().with_context(sms_marketing_consent=details or {}).search([("number", "in", numbers)])
        records.write({"active": False, "removed_source": source, "removed_date": fields.Datetime.now()})
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
        evidence. Answers leave through the same gateway, charged like any SMS
        (``_send_keyword_replies``). Results: [{number (E.164 or None), action:
        "optout" | "optin" | "help" | "join" | "yes" | "ignored"}].
        """
        gateway = self.env["sms.marketing.gateway"].sudo().browse(self.env.context.get("sms_marketing_gateway_id"))
        gateway = gateway.exists()
        company = gateway.company_id or self.env.company
        keywords = company._get_sms_marketing_keywords()
        results, replies, optouts = [], [], []
        for message in messages:
            number = self._normalize_inbound_number(message.get("number") or message.get("from"))
            content = str(message.get("content") or "")
            action, argument, word = links.parse_inbound(content, keywords) if number else (None, None, None)
            details = {"gateway_id": gateway.id, "evidence": content}
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
                    self.env["sms.marketing.consent"].sudo()._log(
                        [{**details, "number": number, "event": "opt_in", "source": "keyword"}]
                    )
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
        if gateway and replies:
            self._send_keyword_replies(gateway, replies)
        return results

    @api.model
    def _send_keyword_replies(self, gateway, replies):
        """Send ``replies`` ([{number, content}]) through ``gateway``, reserved and settled like any SMS.

        Priced with ``tools.pricing`` and the gateway's prices; each has a new
        uuid. Not enough credits, or a gateway error, sends nothing and
        charges nothing: the keyword itself is applied anyway.
        """
        prices = gateway._get_prices()
        messages = []
        for reply in replies:
            country = phone_tools.country_of(reply["number"])
            segments = segment_count(reply["content"])
            messages.append(
                {
                    "uuid": gateway._new_uuid(),
                    "number": reply["number"],
                    "content": reply["content"],
                    "sender": gateway.sender or "",
                    "country_code": country,
                    "segments": segments,
                    "cost": pricing.message_cost(segments, pricing.price_for(prices, country)),
                }
            )
        reserved = round(sum(message["cost"] for message in messages), pricing.LEDGER_DIGITS)
        if not gateway._reserve(reserved):
            _logger.warning("gateway %s: not enough credits to answer %s keyword(s)", gateway.id, len(messages))
            return []
        try:
            results = gateway.with_context(sms_marketing_prices=prices)._send_batch(messages)
        except (SmsGatewayError, SmsGatewayTransientError) as error:
            gateway._settle(reserved, 0.0)
            _logger.warning("gateway %s: keyword answers not sent: %s", gateway.id, error)
            return []
        Trace = self.env["sms.marketing.trace"]
        spent = sum(
            result.get("credits") or 0.0 for result in results if Trace._get_outcome(result.get("state"))[0] == "sent"
        )
        gateway._settle(reserved, round(spent, pricing.LEDGER_DIGITS))
        return results

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
