"""Consent log: every opt-in and opt-out of a number, append-only.

Why
    Consent must be provable: who joined or left, when, through what (a STOP
    keyword, the opt-out page, an import, a form, the provider, a person in
    the back office), on which gateway or mailing, and the evidence (the text
    of the inbound SMS, the page's choice). The log is the history; the
    blacklist and the subscriptions' ``opt_out`` are the current state, and
    every change of that state writes its event here in the same transaction
    (``sms.marketing.blacklist`` create/write, ``sms.marketing.subscription``
    create/write, and ``sms.marketing.contact`` create/write of ``list_ids``,
    which write the relation rows directly), so the state always equals the
    last event.

Rules
    Users read (and export) the log; nobody writes or deletes it but the
    system (the ACLs give no write/unlink, events are created with sudo). An
    event with a list is about that list only; without a list it is about all
    SMS marketing of the number (the blacklist).

Trust
    Only the server says what an event is. ``date`` is always now, ``user_id``
    the real user of the request (none for a public route or the system),
    ``company_id`` the mailing's, else the gateway's, else the request's own
    company (checked against the user's companies). The source, mailing,
    gateway and evidence come from a ``ConsentDetails`` object put in the
    context key ``sms_marketing_consent`` by server code (the opt-out page,
    keywords, provider answers, ``load()`` for imports): an RPC caller
    controls the context but can only put JSON in it, never this object, so
    whatever it sends there is ignored and its changes are "manual" events.
"""

from dataclasses import dataclass, replace

from odoo import api, fields, models
from odoo.tools import SQL

CONTEXT_KEY = "sms_marketing_consent"

SOURCES = [
    ("keyword", "SMS Keyword"),
    ("optout_link", "Opt-out Link"),
    ("import", "Import"),
    ("form", "Form"),
    ("provider", "Provider"),
    ("manual", "Manual"),
]


@dataclass(frozen=True)
class ConsentDetails:
    """What server code knows about a consent event, carried in the context under ``CONTEXT_KEY``.

    A Python object on purpose: a context sent over RPC is JSON and cannot hold
    one, so a request can never claim a source, a mailing or evidence.
    """

    source: str = "manual"
    mailing_id: int | None = None
    gateway_id: int | None = None
    evidence: str | None = None

    @classmethod
    def of(cls, details, source):
        """``details`` (a ``ConsentDetails``, a dict of server code's, or None) with ``source``."""
        if isinstance(details, dict):
            details = cls(**{name: details.get(name) for name in ("mailing_id", "gateway_id", "evidence")})
        return replace(details or cls(), source=source)

    def context(self):
        """``with_context(**details.context())``: the changes made under it are logged with these details."""
        return {CONTEXT_KEY: self}


class SmsMarketingConsent(models.Model):
    _name = "sms.marketing.consent"
    _description = "SMS Consent Event"
    _order = "date desc, id desc"
    _rec_name = "number"

    number = fields.Char(index=True, readonly=True, help="E.164 number the event is about.")
    event = fields.Selection([("opt_in", "Opt-in"), ("opt_out", "Opt-out")], required=True, readonly=True)
    source = fields.Selection(SOURCES, required=True, readonly=True)
    date = fields.Datetime(default=fields.Datetime.now, required=True, readonly=True)
    list_id = fields.Many2one(
        "sms.marketing.list",
        string="Mailing List",
        ondelete="set null",
        readonly=True,
        help="Empty: the event is about all SMS marketing (the blacklist).",
    )
    contact_id = fields.Many2one("sms.marketing.contact", ondelete="set null", readonly=True)
    mailing_id = fields.Many2one("sms.marketing.mailing", ondelete="set null", readonly=True)
    gateway_id = fields.Many2one("sms.marketing.gateway", ondelete="set null", readonly=True)
    user_id = fields.Many2one("res.users", string="Recorded By", ondelete="set null", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    evidence = fields.Text(readonly=True, help="What proves the event: the inbound SMS, the page's choice, ...")

    @api.model
    def _log(self, events):
        """Append ``events`` (dicts of number, event, source, list_id, contact_id, mailing_id,
        gateway_id, evidence, company_id) in one INSERT; returns nothing.

        Callers are server code (a private method: no request reaches it). The
        server sets the rest, whatever the dicts say: ``date`` is now,
        ``user_id`` the real user of the request (not the superuser a public
        route runs as). ``company_id``, when the caller does not know better
        (a blacklist entry's company), is the mailing's, else the gateway's,
        else the request's company (``_get_request_company``).
        """
        if not events:
            return
        now = fields.Datetime.now()
        user = self.env.user if not self.env.user._is_public() and not self.env.user._is_superuser() else None
        request_company = self._get_request_company().id
        mailings = (
            self.env["sms.marketing.mailing"].sudo().browse({e["mailing_id"] for e in events if e.get("mailing_id")})
        )
        gateways = (
            self.env["sms.marketing.gateway"].sudo().browse({e["gateway_id"] for e in events if e.get("gateway_id")})
        )
        company_of = {("m", m.id): m.company_id.id for m in mailings} | {("g", g.id): g.company_id.id for g in gateways}
        columns = {
            name: []
            for name in (
                "number",
                "event",
                "source",
                "date",
                "list_id",
                "contact_id",
                "mailing_id",
                "gateway_id",
                "user_id",
                "company_id",
                "evidence",
            )
        }
        for event in events:
            company = (
                event.get("company_id")
                or company_of.get(("m", event.get("mailing_id")))
                or company_of.get(("g", event.get("gateway_id")))
                or request_company
            )
            values = {**event, "date": now, "user_id": user.id if user else None, "company_id": company}
            for name, column in columns.items():
                column.append(values.get(name) or None)
        self.env.cr.execute(
            SQL(
                """INSERT INTO sms_marketing_consent
                          (number, event, source, date, list_id, contact_id, mailing_id, gateway_id, user_id,
                           company_id, evidence, create_uid, write_uid, create_date, write_date)
                   SELECT v.*, %(uid)s, %(uid)s, %(now)s, %(now)s
                     FROM unnest(%(number)s::varchar[], %(event)s::varchar[], %(source)s::varchar[],
                                 %(date)s::timestamp[], %(list_id)s::int[], %(contact_id)s::int[],
                                 %(mailing_id)s::int[], %(gateway_id)s::int[], %(user_id)s::int[],
                                 %(company_id)s::int[], %(evidence)s::text[]) AS v""",
                uid=self.env.uid,
                now=now,
                **columns,
            )
        )
        self.invalidate_model()

    @api.model
    def _get_details(self):
        """The ``ConsentDetails`` server code put in the context; anything else there (a request's
        JSON) is ignored: the change is then a manual one."""
        details = self.env.context.get(CONTEXT_KEY)
        details = details if isinstance(details, ConsentDetails) else ConsentDetails()
        return details if details.source in dict(SOURCES) else ConsentDetails()

    @api.model
    def _get_event_values(self, details):
        """The columns of an event that ``details`` give (the rest is set by ``_log``)."""
        return {
            "source": details.source,
            "mailing_id": details.mailing_id,
            "gateway_id": details.gateway_id,
            "evidence": details.evidence,
        }

    @api.model
    def _get_company(self, details):
        """The company an event with ``details`` belongs to: the mailing's, else the gateway's, else the
        request's (the company of a blacklist entry is its opt-out's)."""
        # sudo: the company of a mailing or gateway the recipient acted on, read by public routes too
        if details.mailing_id:
            company = self.env["sms.marketing.mailing"].sudo().browse(details.mailing_id).company_id
            if company:
                return company
        if details.gateway_id:
            company = self.env["sms.marketing.gateway"].sudo().browse(details.gateway_id).company_id
            if company:
                return company
        return self._get_request_company()

    @api.model
    def _get_request_company(self):
        """The current company of the request, checked against the user's companies even under sudo
        (``allowed_company_ids`` comes from the request; a sudo environment would take it unchecked)."""
        return self.env(su=False).company

    @api.model
    def _get_numbers_domain(self, numbers, contacts=None):
        domain = [("number", "in", [number for number in numbers if number])]
        if contacts:
            domain = ["|", ("contact_id", "in", contacts.ids), *domain]
        return domain
