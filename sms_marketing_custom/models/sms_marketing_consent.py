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
"""

from odoo import api, fields, models
from odoo.tools import SQL

SOURCES = [
    ("keyword", "SMS Keyword"),
    ("optout_link", "Opt-out Link"),
    ("import", "Import"),
    ("form", "Form"),
    ("provider", "Provider"),
    ("manual", "Manual"),
]


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
        """Append ``events`` (dicts of this model's fields) in one INSERT; returns nothing.

        ``date`` defaults to now, ``user_id`` to the real user of the request
        (not the superuser a public route runs as), ``company_id`` to the
        mailing's, else the gateway's, else the current company.
        """
        if not events:
            return
        now = fields.Datetime.now()
        user = self.env.user if not self.env.user._is_public() and not self.env.user._is_superuser() else None
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
                or self.env.company.id
            )
            values = {
                **event,
                "date": event.get("date") or now,
                "user_id": event.get("user_id") or (user.id if user else None),
                "company_id": company,
            }
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
        """What the caller knows about the event (gateway, mailing, evidence, source), from the context."""
        return dict(self.env.context.get("sms_marketing_consent") or {})

    @api.model
    def _source_of(self, source):
        """The log's source for a blacklist or page source (the same keys; anything else is manual)."""
        if self.env.context.get("import_file"):
            return "import"
        return source if source in dict(SOURCES) else "manual"

    @api.model
    def _get_numbers_domain(self, numbers, contacts=None):
        domain = [("number", "in", [number for number in numbers if number])]
        if contacts:
            domain = ["|", ("contact_id", "in", contacts.ids), *domain]
        return domain
