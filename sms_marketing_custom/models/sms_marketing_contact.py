from dataclasses import replace
from functools import lru_cache

from babel import Locale, UnknownLocaleError

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..tools import phone as phone_tools


@lru_cache(maxsize=512)
def country_main_language(country_code):
    """(language, territory) of the main language of a country (ISO code), from the Unicode CLDR's
    likely subtags (US: en, IT: it, CH: de, BE: nl), else None."""
    try:
        locale = Locale.parse(f"und_{country_code}")
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    return locale.language, country_code


class SmsMarketingContact(models.Model):
    """A mailing-list contact: a name and a phone number, normalised once and stored.

    ``phone_sanitized`` (E.164) is computed in batch at create/write (including
    Odoo's import, which calls ``load()``) from the number as typed and the
    contact's country, else its company's country, else only international
    numbers are understood. It is indexed, so that audiences, blacklist checks
    and duplicates are SQL joins on it. An invalid number keeps its reason in
    ``phone_error``; the contact is never dropped.
    """

    _name = "sms.marketing.contact"
    # mail.thread: the person's SMS replies are posted on their chatter (sms.marketing.conversation)
    _inherit = ["sms.marketing.engagement.mixin", "mail.thread"]
    _description = "SMS Mailing Contact"
    _order = "name, id"

    name = fields.Char()
    birthday = fields.Date(help="A date a journey can send on, every year.")
    phone = fields.Char(help="The number as typed or imported.")
    country_id = fields.Many2one(
        "res.country", help="Country used to read a national number (else the company's country)."
    )
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    lang = fields.Selection(
        selection="_get_lang_selection",
        string="Language",
        compute="_compute_lang",
        store=True,
        readonly=False,
        precompute=True,
        help="The language of the opt-out line of this contact's SMS. By default the main language of the "
        "contact's country (else of its number's) when that language is installed; empty: the language of "
        "the mailing's Responsible.",
    )
    consent_ids = fields.Many2many(
        "sms.marketing.consent", string="Consent Log", compute="_compute_consent_ids", readonly=True
    )
    phone_sanitized = fields.Char(
        string="Normalised Number",
        compute="_compute_phone_sanitized",
        precompute=True,
        store=True,
        index=True,
        readonly=True,
        help="E.164 form; empty when the number is invalid.",
    )
    phone_country_code = fields.Char(
        string="Number Country Code",
        compute="_compute_phone_sanitized",
        precompute=True,
        store=True,
        readonly=True,
        help="ISO code of the country of the normalised number.",
    )
    phone_country_id = fields.Many2one(
        "res.country",
        string="Number Country",
        compute="_compute_phone_country_id",
        help="Country of the normalised number.",
    )
    phone_error = fields.Selection(
        [
            (phone_tools.MISSING, "No number"),
            (phone_tools.NOT_A_NUMBER, "Not a phone number"),
            (phone_tools.NO_COUNTRY, "National number without a country: set a country or use +<country code>"),
            (phone_tools.INVALID_COUNTRY_CODE, "Unknown country code"),
            (phone_tools.TOO_SHORT, "Too short"),
            (phone_tools.TOO_LONG, "Too long"),
            (phone_tools.INVALID_FOR_REGION, "Not a valid number for this country"),
        ],
        string="Number Problem",
        compute="_compute_phone_sanitized",
        precompute=True,
        store=True,
        readonly=True,
    )
    phone_error_message = fields.Char(string="Why the number is invalid", compute="_compute_phone_error_message")
    blacklisted = fields.Boolean(
        string="Blacklist",
        compute="_compute_blacklisted",
        search="_search_blacklisted",
        help="The normalised number is in the SMS blacklist: it receives no marketing SMS.",
    )
    subscription_ids = fields.One2many("sms.marketing.subscription", "contact_id", string="Subscriptions")
    list_ids = fields.Many2many(
        "sms.marketing.list", "sms_marketing_subscription", "contact_id", "list_id", string="Mailing Lists"
    )

    # ------------------------------------------------------------------ computes
    @api.depends("phone", "country_id", "company_id.country_id")
    def _compute_phone_sanitized(self):
        # one parse per distinct (number, country): normalize() is cached
        for contact in self:
            region = (contact.country_id or contact.company_id.country_id).code
            result = phone_tools.normalize(contact.phone or "", region)
            contact.phone_sanitized = result.e164
            contact.phone_country_code = result.region if result.e164 else False
            contact.phone_error = result.error or False

    @api.depends("phone_country_code")
    def _compute_phone_country_id(self):
        countries = self.env["res.country"]._sms_marketing_by_code(self.mapped("phone_country_code"))
        for contact in self:
            contact.phone_country_id = countries.get(contact.phone_country_code, False)

    @api.model
    def _get_lang_selection(self):
        return self.env["res.lang"].get_installed()

    @api.depends("country_id", "phone_country_code")
    def _compute_lang(self):
        # Computed once: a language set (by hand, by an import, by an earlier country) is kept.
        # Contacts that existed before the field got it when its column was created.
        for contact in self:
            contact.lang = contact.lang or self._get_country_lang(contact.country_id.code or contact.phone_country_code)

    @api.model
    def _get_country_lang(self, country_code):
        """The installed language (code) that is the main language of ``country_code``: the country's
        own variant (fr_BE for BE) else another installed one (en_US for GB), else False."""
        main = country_main_language(country_code) if country_code else None
        if not main:
            return False
        language, territory = main
        installed = [code for code, _name in self.env["res.lang"].get_installed()]
        variants = [code for code in installed if code.split("_")[0] == language]
        if f"{language}_{territory}" in variants:
            return f"{language}_{territory}"
        return variants[0] if variants else False

    @api.depends("phone", "phone_error", "country_id", "company_id.country_id")
    def _compute_phone_error_message(self):
        checked = {}
        for contact in self:
            country = contact.country_id or contact.company_id.country_id
            # the country the number was checked against ("+1 ..." is checked as a US number)
            checked[contact] = (country, phone_tools.normalize(contact.phone or "", country.code).region)
        others = self.env["res.country"]._sms_marketing_by_code(
            region for country, region in checked.values() if region != country.code
        )
        for contact, (country, region) in checked.items():
            country = others.get(region, country)
            contact.phone_error_message = self._phone_error_reason(contact.phone_error, country)

    @api.depends("phone_sanitized")
    def _compute_blacklisted(self):
        self.env["sms.marketing.blacklist"]._set_blacklisted_flag(self, "phone_sanitized")

    def _search_blacklisted(self, operator, value):
        return self.env["sms.marketing.blacklist"]._get_blacklisted_domain("phone_sanitized", operator, value)

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        self._prepare_phone_values(vals_list)
        # a chatter for replies, not a creation note nor a follower per contact: imports stay one INSERT
        quiet = self.with_context(mail_create_nolog=True, mail_create_nosubscribe=True, tracking_disable=True)
        contacts = super(SmsMarketingContact, quiet).create(vals_list).with_env(self.env)
        if any("list_ids" in vals for vals in vals_list) or self.env.context.get("default_list_ids"):
            self.env["sms.marketing.subscription"]._invalidate_relations()
            contacts._log_subscriptions(set())
        return contacts

    def write(self, vals):
        before = self._get_subscription_pairs() if "list_ids" in vals else None
        result = super().write(vals)
        if "list_ids" in vals:
            self.env["sms.marketing.subscription"]._invalidate_relations()
            self._log_subscriptions(before)
        return result

    def _get_subscription_pairs(self):
        """{(contact id, list id)} of these contacts (the relation rows, however they were written)."""
        if not self.ids:
            return set()
        self.env["sms.marketing.subscription"].flush_model()
        self.env.cr.execute(
            SQL("SELECT contact_id, list_id FROM sms_marketing_subscription WHERE contact_id = ANY(%s)", self.ids)
        )
        return set(self.env.cr.fetchall())

    def _log_subscriptions(self, before):
        """Subscriptions added through ``list_ids`` (forms, imports) bypass the subscription model's
        create: their opt-ins are logged here, in one INSERT (imports of 100,000 rows)."""
        added = self._get_subscription_pairs() - before
        if not added:
            return
        Consent = self.env["sms.marketing.consent"]
        values = Consent._get_event_values(Consent._get_details())
        numbers = {contact.id: contact.phone_sanitized for contact in self.sudo()}
        Consent._log(
            [
                {
                    **values,
                    "number": numbers.get(contact_id),
                    "contact_id": contact_id,
                    "list_id": list_id,
                    "event": "opt_in",
                }
                for contact_id, list_id in sorted(added)
            ]
        )

    @api.model
    def load(self, fields, data):
        """Odoo's import (the import screen calls ``load``): the subscriptions it adds are logged as imports."""
        Consent = self.env["sms.marketing.consent"]
        details = replace(Consent._get_details(), source="import")
        return super(SmsMarketingContact, self.with_context(**details.context())).load(fields, data)

    @api.model
    def _prepare_phone_values(self, vals_list):
        """Normalise the numbers of ``vals_list`` in place, before the INSERT (imports of 100,000 rows).

        Same result as the compute, without building a new record per row: countries are
        read once, and tools/phone.normalize() is cached per (number, country).
        """
        defaults = self.default_get(["country_id", "company_id"])
        country_codes = {}
        company_codes = {}
        for vals in vals_list:
            if {"phone_sanitized", "phone_country_code", "phone_error"} & set(vals):
                continue
            country_id = vals.get("country_id", defaults.get("country_id"))
            if country_id:
                if country_id not in country_codes:
                    country_codes[country_id] = self.env["res.country"].browse(country_id).code
                region = country_codes[country_id]
            else:
                company_id = vals.get("company_id", defaults.get("company_id"))
                if company_id not in company_codes:
                    company_codes[company_id] = self.env["res.company"].browse(company_id).country_id.code
                region = company_codes[company_id]
            result = phone_tools.normalize(vals.get("phone") or "", region)
            vals["phone_sanitized"] = result.e164 or False
            vals["phone_country_code"] = (result.e164 and result.region) or False
            vals["phone_error"] = result.error or False

    @api.depends("phone_sanitized")
    def _compute_consent_ids(self):
        Consent = self.env["sms.marketing.consent"]
        events = Consent.search(Consent._get_numbers_domain(self.mapped("phone_sanitized"), self))
        for contact in self:
            contact.consent_ids = events.filtered(
                lambda event, c=contact: event.contact_id == c
                or (c.phone_sanitized and event.number == c.phone_sanitized)
            )

    # ------------------------------------------------------------------ actions
    def action_blacklist(self):
        numbers = [number for number in self.mapped("phone_sanitized") if number]
        self.env["sms.marketing.blacklist"]._add_numbers(numbers, "manual")
        return True

    def action_unblacklist(self):
        numbers = [number for number in self.mapped("phone_sanitized") if number]
        self.env["sms.marketing.blacklist"]._remove_numbers(numbers, "manual")
        return True

    def action_import(self):
        """Odoo's import screen for contacts, into the lists of the context."""
        return {
            "type": "ir.actions.client",
            "tag": "import",
            "name": _("Import Contacts"),
            "params": {"model": "sms.marketing.contact", "context": dict(self.env.context)},
        }

    # ------------------------------------------------------------------ tools
    @api.model
    def _phone_error_reason(self, code, country=None):
        """Translated, human reason for an error code of tools/phone.py (False when no error)."""
        if not code:
            return False
        if code == phone_tools.INVALID_FOR_REGION and country:
            return _("Not a valid number for %(country)s", country=country.name)
        if code == phone_tools.MISSING:
            return _("No phone number")
        return dict(self._fields["phone_error"]._description_selection(self.env)).get(code, code)

    @api.model
    def _find_by_numbers(self, numbers):
        """Contacts whose normalised number is in ``numbers`` (E.164), one indexed query."""
        if not numbers:
            return self.browse()
        self.flush_model(["phone_sanitized"])
        query = SQL(
            "SELECT id FROM sms_marketing_contact WHERE phone_sanitized = ANY(%s)",
            list(numbers),
        )
        self.env.cr.execute(query)
        return self.browse(row[0] for row in self.env.cr.fetchall())
