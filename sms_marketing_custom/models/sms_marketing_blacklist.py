import re

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..tools import links
from ..tools import phone as phone_tools


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

    _sql_constraints = [("number_unique", "unique(number)", "This number is already in the blacklist.")]

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
        return reactivated | super().create(new_vals_list)

    def write(self, vals):
        if vals.get("number"):
            vals["number"] = self._normalize_or_raise(vals["number"])
        if vals.get("active") is True:
            vals.setdefault("removed_source", False)
            vals.setdefault("removed_date", False)
        return super().write(vals)

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
    def _add_numbers(self, numbers, source="manual"):
        """Blacklist E.164 ``numbers`` (reactivating archived ones). Returns the records."""
        numbers = list(dict.fromkeys(number for number in numbers or [] if number))
        if not numbers:
            return self.browse()
        # sudo: opt-out links and STOP keywords add numbers on behalf of the recipient (public/webhook requests)
        blacklist = self.sudo().with_context(active_test=False)
        existing = blacklist.search([("number", "in", numbers)])
        inactive = existing.filtered(lambda rec: not rec.active)
        inactive.write({"active": True, "source": source, "date": fields.Datetime.now()})
        known = set(existing.mapped("number"))
        created = blacklist.create([{"number": number, "source": source} for number in numbers if number not in known])
        return (existing | created).with_env(self.env)

    @api.model
    def _remove_numbers(self, numbers, source="manual"):
        """Take E.164 ``numbers`` out of the blacklist (archived with who/when). Returns the records."""
        numbers = [number for number in numbers or [] if number]
        if not numbers:
            return self.browse()
        # sudo: a START keyword removes the number on behalf of its owner
        records = self.sudo().search([("number", "in", numbers)])
        records.write({"active": False, "removed_source": source, "removed_date": fields.Datetime.now()})
        return records.with_env(self.env)

    # ------------------------------------------------------------------ inbound SMS keywords
    @api.model
    def _apply_inbound_keywords(self, messages):
        """Apply the STOP/START keywords of inbound SMS; one result per message.

        ``messages`` are [{number, content}] as a provider read them from its
        webhook (the gateway checked the signature). The whole message must be
        a keyword (``tools.links.classify_keyword``): an opt-out keyword
        blacklists the sender (source "keyword") and marks the last SMS sent
        to that number as opted out (for the mailing's statistics); START or
        UNSTOP removes the number from the blacklist; anything else is
        ignored. When a number sends several keywords at once, the last wins.
        Results: [{number (E.164 or None), action: "optout" | "optin" | "ignored"}].
        """
        results, last_action = [], {}
        for message in messages:
            number = self._normalize_inbound_number(message.get("number") or message.get("from"))
            action = links.classify_keyword(str(message.get("content") or "")) if number else None
            if action:
                last_action[number] = action
            results.append({"number": number, "action": action or "ignored"})
        optouts = [number for number, action in last_action.items() if action == "optout"]
        optins = [number for number, action in last_action.items() if action == "optin"]
        if optouts:
            self._add_numbers(optouts, "keyword")
            self._mark_last_traces_opted_out(optouts)
        if optins:
            self._remove_numbers(optins, "keyword")
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
