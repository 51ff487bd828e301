"""Journeys: automated SMS flows (welcome series, birthdays, follow-ups on clicks).

What: a journey is a tree of steps (``sms.marketing.journey.step``) that the
records of one SMS-enabled model go through as participants
(``sms.marketing.journey.participant``). Records enter when they match the
journey's filter (created or coming to match), when they join one of its
mailing lists, when a date field comes round (every year), or by hand.

How: the journey's cron (``_cron_run``) enters the new participants and
advances the due ones set-wise in SQL, one statement per step
(``sms.marketing.journey.participant._advance``); a Send SMS step's messages
are traces of its system mailing, sent by the one engine. The audience of
every entry and every SMS is the journey's filter and lists read as a
mailing's (``_get_audience_mailing``: an in-memory mailing, so that the rights
of whoever started the journey, its record rules and companies, and the
filter-as-data rules are the mailing's own).

Invariants: a record is in a journey at most once at a time (a partial unique
index on running participants); a participant gets each Send step at most
once (the trace table's unique (mailing, record)), with several runners and
across crashes (entry, move and traces of a step are one transaction, under
the journey's advisory lock).
"""

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from .sms_marketing_audience import AUDIENCE_JOURNEY_KEY, without_default_sender
from .sms_marketing_recipient_model import CONTACT_MODEL

# what decides whom a journey reaches and through what: changing it makes the writer the sender
AUDIENCE_FIELDS = {
    "recipient_model_id", "domain", "list_ids", "trigger", "date_field_id", "date_offset_days", "gateway_id",
    "company_id",
}  # fmt: skip

# running journeys shown on the mailings' dashboard (the others: "more", the Journeys menu)
DASHBOARD_JOURNEYS = 8
DASHBOARD_JOURNEYS_MAX = 50  # a browser's limit (RPC) loads no more than this

TRIGGERS = [
    ("filter", "Matches the Filter"),
    ("list", "Joins a Mailing List"),
    ("date", "A Date Comes Round"),
    ("manual", "Added by Hand"),
]


class SmsMarketingJourney(models.Model):
    _name = "sms.marketing.journey"
    _description = "SMS Journey"
    _inherit = ["mail.thread", "sms.marketing.recipient.choice.mixin"]
    _order = "id desc"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    # required: its SMS are charged on its company's gateways and its records read in its company, never on
    # whichever company the journey cron runs in
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    user_id = fields.Many2one(
        "res.users", string="Responsible", default=lambda self: self.env.user, domain="[('share', '=', False)]"
    )
    state = fields.Selection(
        [("draft", "Draft"), ("running", "Running"), ("stopped", "Stopped")],
        default="draft",
        required=True,
        tracking=True,
        copy=False,
    )
    # audience: as a mailing's (model, lists for mailing-list contacts, filter)
    list_ids = fields.Many2many("sms.marketing.list", string="Mailing Lists")
    domain = fields.Char(string="Filter", default="[]", help="Which records of the model may enter the journey.")
    gateway_id = fields.Many2one("sms.marketing.gateway", help="Empty: the company's default gateway.")
    # entry
    trigger = fields.Selection(TRIGGERS, string="Entry", required=True, default="filter")
    date_field_id = fields.Many2one(
        "ir.model.fields",
        ondelete="cascade",
        domain="[('model_id', '=', recipient_model_id), ('ttype', 'in', ('date', 'datetime')), ('store', '=', True)]",
    )
    date_offset_days = fields.Integer(
        string="Days After", help="Negative: before the date (e.g. -3 for three days before a birthday)."
    )
    date_yearly = fields.Boolean(string="Every Year", default=True)
    allow_reentry = fields.Boolean(
        string="Re-entry",
        help="A record that has finished the journey may enter again (the next birthday, a new join).",
    )
    sender_id = fields.Many2one(
        "res.users",
        string="Started By",
        readonly=True,
        copy=False,
        help="Who started the journey: its participants and SMS are the records this user may read.",
    )
    sender_company_ids = fields.Many2many(
        "res.company",
        "sms_marketing_journey_sender_company_rel",
        string="Starter's Companies",
        readonly=True,
        copy=False,
    )
    started_at = fields.Datetime(readonly=True, copy=False)
    step_ids = fields.One2many("sms.marketing.journey.step", "journey_id", string="Steps", copy=True)
    participant_ids = fields.One2many("sms.marketing.journey.participant", "journey_id", string="Participants")
    participant_count = fields.Integer(string="Number of Participants", compute="_compute_participant_counts")
    running_count = fields.Integer(string="In Progress", compute="_compute_participant_counts")
    done_count = fields.Integer(string="Finished", compute="_compute_participant_counts")
    exited_count = fields.Integer(string="Left", compute="_compute_participant_counts")
    # the filter widget counts the filter on the whole model; this is who its lists and filter hold
    audience_count = fields.Integer(
        string="Audience",
        compute="_compute_audience_count",
        help="The records of its lists and filter that can receive its SMS now (a valid number, not blacklisted "
        "nor opted out), as a mailing's audience.",
    )
    audience_error = fields.Char(compute="_compute_audience_count")

    @api.model
    def default_get(self, fields_list):
        return without_default_sender(super().default_get(fields_list))

    # ------------------------------------------------------------------ computes
    @api.depends("recipient_model_id", "list_ids", "domain", "sender_id", "sender_company_ids", "company_id", "user_id")
    @api.depends_context("uid", "allowed_company_ids")
    def _compute_audience_count(self):
        Audience = self.env["sms.marketing.audience"]
        for journey in self:
            stats, error = Audience._get_form_statistics(journey._get_audience_mailing())
            journey.audience_count = stats["to_send"]
            journey.audience_error = error

    def _compute_participant_counts(self):
        groups = self.env["sms.marketing.journey.participant"]._read_group(
            [("journey_id", "in", self.ids)], ["journey_id", "state"], ["__count"]
        )
        counts = {(journey.id, state): count for journey, state, count in groups}
        for journey in self:
            journey.running_count = counts.get((journey.id, "running"), 0)
            journey.done_count = counts.get((journey.id, "done"), 0)
            journey.exited_count = counts.get((journey.id, "exited"), 0)
            journey.participant_count = journey.running_count + journey.done_count + journey.exited_count

    @api.model
    def get_dashboard_data(self, limit=DASHBOARD_JOURNEYS):
        """The running journeys the user may read, for the mailings' dashboard: each one's participants and
        the SMS its steps sent and that were clicked (the campaign analysis's figures of its steps' mailings)."""
        if not self.check_access_rights("read", raise_exception=False):
            return {"running_count": 0, "more": 0, "journeys": []}
        limit = min(max(limit, 1), DASHBOARD_JOURNEYS_MAX) if isinstance(limit, int) else DASHBOARD_JOURNEYS
        domain = [("state", "=", "running")]
        journeys = self.search(domain, limit=limit, order="started_at desc, id desc")
        running_count = self.search_count(domain)
        steps = journeys.step_ids
        mailings = steps.sudo().mailing_ids  # sudo: the figures of journeys the user reads, as on the steps
        figures = self.env["sms.marketing.campaign.report"]._get_mailing_figures(
            mailings.ids, ("sent_count", "clicked_count")
        )
        totals = {}
        for mailing in mailings:
            journey_id = mailing.journey_step_id.journey_id.id
            row = figures.get(mailing.id, {})
            sent, clicked = totals.get(journey_id, (0, 0))
            totals[journey_id] = (sent + (row.get("sent_count") or 0), clicked + (row.get("clicked_count") or 0))
        return {
            "running_count": running_count,
            "more": max(running_count - len(journeys), 0),
            "journeys": [
                {
                    "id": journey.id,
                    "name": journey.name,
                    "participant_count": journey.participant_count,
                    "sent_count": totals.get(journey.id, (0, 0))[0],
                    "clicked_count": totals.get(journey.id, (0, 0))[1],
                }
                for journey in journeys
            ],
        }

    # ------------------------------------------------------------------ constraints
    @api.constrains("domain", "recipient_model_id", "list_ids")
    def _check_domain(self):
        for journey in self:
            journey._get_audience_mailing()._check_domain()  # the mailing's check: data, fields the user may read

    @api.constrains("trigger", "date_field_id", "list_ids", "recipient_model_id", "date_offset_days")
    def _check_trigger(self):
        for journey in self:
            if journey.trigger == "date":
                field = journey.date_field_id
                if field.model_id != journey.recipient_model_id or field.ttype not in ("date", "datetime"):
                    raise ValidationError(_("Choose a date field of %(model)s.", model=journey.recipient_model_id.name))
                # read straight from its column by the runner: it must be stored, and readable by its writer
                model_field = self.env[journey.recipient_model]._fields.get(field.name)
                if (
                    not model_field
                    or not model_field.store
                    or (
                        model_field.groups and not self.env.su and not self.env.user.user_has_groups(model_field.groups)
                    )
                ):
                    raise ValidationError(
                        _("The field “%(field)s” cannot start a journey: it is not stored, or you may not read it.",
                          field=field.field_description)
                    )  # fmt: skip
                if abs(journey.date_offset_days) > 366:
                    raise ValidationError(_("A date trigger is at most 366 days before or after the date."))
            if journey.trigger == "list" and journey.recipient_model != CONTACT_MODEL:
                raise ValidationError(_("Only mailing-list contacts join a mailing list."))
            if journey.recipient_model == CONTACT_MODEL and not journey.list_ids:
                raise ValidationError(_("A journey of mailing-list contacts needs its mailing lists."))

    @api.constrains("company_id", "gateway_id", "list_ids")
    def _check_journey_company(self):
        """A journey sends through, and adds to, what belongs to its company (or to none)."""
        for journey in self:
            for record in (journey.gateway_id, *journey.list_ids):
                if record.company_id and record.company_id != journey.company_id:
                    raise ValidationError(
                        _("%(record)s belongs to another company than the journey.", record=record.display_name)
                    )

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self.env["sms.marketing.mailing"]._check_sender_values(vals)  # nobody names another sender
        return super().create(vals_list)

    def write(self, vals):
        self.env["sms.marketing.mailing"]._check_sender_values(vals)
        if AUDIENCE_FIELDS & set(vals) and not self.env.su:
            self._become_sender()
        return super().write(vals)

    def _become_sender(self):
        """A journey sends with its sender's rights: whoever changes whom it reaches or what it sends
        becomes its sender (as on a scheduled mailing), so that nobody sends with someone else's."""
        others = self.filtered(lambda journey: journey.sender_id and journey.sender_id != self.env.user)
        if others:
            # sudo: the system records the sender (``_check_sender_values``); the values are the writer's own
            others.sudo().write({"sender_id": self.env.user.id, "sender_company_ids": [(6, 0, self.env.companies.ids)]})

    # ------------------------------------------------------------------ actions
    def action_start(self):
        """Start (or resume) the journey: whoever starts it is its sender, as Send on a mailing."""
        for journey in self:
            if not journey._get_root_step():
                raise UserError(_("Add a first step to the journey “%(name)s” before starting it.", name=journey.name))
            journey._check_domain()
        self.write(
            {
                "state": "running",
                "sender_id": self.env.user.id,
                "sender_company_ids": [(6, 0, self.env.companies.ids)],
            }
        )
        for journey in self:
            if not journey.started_at:
                journey.started_at = fields.Datetime.now()
            for step in journey.step_ids.filtered(lambda s: s.step_type == "send"):
                step._ensure_mailing()
        self._trigger_cron()
        return True

    def action_stop(self):
        """Stop: nothing more is entered or sent; participants stay where they are (Start resumes them)."""
        self.write({"state": "stopped"})
        return True

    def action_view_participants(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "sms_marketing_custom.sms_marketing_journey_participant_action"
        )
        action["domain"] = [("journey_id", "=", self.id)]
        action["context"] = {"default_journey_id": self.id}
        return action

    def action_open_test(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Test %(name)s", name=self.name),
            "res_model": "sms.marketing.journey.test",
            "view_mode": "form",
            "target": "new",
            "context": {"default_journey_id": self.id},
        }

    # ------------------------------------------------------------------ audience
    def _get_audience_mailing(self):
        """An in-memory mailing (never saved) of the journey's audience: its model, lists, filter and
        sender. Its audience (``sms.marketing.audience``) is the one definition of who may enter and receive."""
        self.ensure_one()
        values = {
            "subject": self.name or "",
            "recipient_model_id": self.recipient_model_id.id,
            "list_ids": [(6, 0, self.list_ids.ids)],
            "domain": self.domain or "[]",
            "company_id": (self.company_id or self.env.company).id,
            "user_id": self.user_id.id,
            "frequency_cap_count": 0,
        }
        # the journey's sender is the audience's through the journey itself (``_get_stored_sender_of``)
        return self.env["sms.marketing.mailing"].with_context(**{AUDIENCE_JOURNEY_KEY: self}).new(values)

    def _get_root_step(self):
        self.ensure_one()
        return self.step_ids.filtered(lambda step: not step.parent_id).sorted(lambda s: (s.sequence, s.id))[:1]

    def _get_entry_condition(self, res_alias):
        """SQL: the trigger's own condition on the record ``res_alias``.res_id (the filter is the audience)."""
        self.ensure_one()
        now = fields.Datetime.now()
        if self.trigger == "list":
            # joined one of the lists since the journey started: an opt-in of the consent log (every
            # subscription created or confirmed again, whatever its way, is one) later than its last entry
            return SQL(
                """EXISTS (SELECT 1 FROM sms_marketing_consent c
                            WHERE c.contact_id = %(alias)s.res_id AND c.list_id = ANY(%(lists)s)
                              AND c.event = 'opt_in' AND c.date >= %(since)s
                              AND NOT EXISTS (SELECT 1 FROM sms_marketing_journey_participant q
                                               WHERE q.journey_id = %(journey)s AND q.res_id = %(alias)s.res_id
                                                 AND q.entered_at >= c.date))""",
                alias=SQL.identifier(res_alias),
                lists=self.list_ids.ids,
                since=self.started_at or now,
                journey=self.id,
            )
        if self.trigger == "date":
            Model = self.env[self.recipient_model]
            column = SQL.identifier(self.date_field_id.name)
            today = fields.Date.context_today(self.with_context(tz=self.company_id.partner_id.tz or "UTC"))
            target = SQL("(%s::date - %s)", today, self.date_offset_days)  # the date that, offset, is today
            if self.date_yearly:
                # the date moved to the target's year (29 February is the 28th in other years)
                match = SQL(
                    "(rec.%s::date + make_interval(years => extract(year FROM %s)::int"
                    " - extract(year FROM rec.%s)::int))::date = %s",
                    column,
                    target,
                    column,
                    target,
                )
            else:
                match = SQL("rec.%s::date = %s", column, target)
            return SQL(
                """EXISTS (SELECT 1 FROM %(table)s rec WHERE rec.id = %(alias)s.res_id AND %(match)s)
                   AND NOT EXISTS (SELECT 1 FROM sms_marketing_journey_participant q
                                    WHERE q.journey_id = %(journey)s AND q.res_id = %(alias)s.res_id
                                      AND q.entered_at >= %(today)s::date)""",
                table=SQL.identifier(Model._table),
                alias=SQL.identifier(res_alias),
                match=match,
                journey=self.id,
                today=today,
            )
        if self.trigger == "filter":
            return SQL("TRUE")
        return SQL("FALSE")  # by hand: only _enter's explicit ids

    def _enter(self, res_ids=None):
        """Enter the records of the audience that meet the trigger (or ``res_ids``, added by hand) and are
        not in the journey now, in one INSERT ... SELECT; returns how many entered."""
        self.ensure_one()
        root = self._get_root_step()
        if not root:
            return 0
        Participant = self.env["sms.marketing.journey.participant"]
        Participant.flush_model()
        recipients = self.env["sms.marketing.audience"]._get_recipients_query(self._get_audience_mailing())
        condition = self._get_entry_condition("r") if res_ids is None else SQL("r.res_id = ANY(%s)", list(res_ids))
        once = (
            SQL("TRUE")
            if self.allow_reentry and self.trigger != "filter"
            else SQL(
                "NOT EXISTS (SELECT 1 FROM sms_marketing_journey_participant q"
                " WHERE q.journey_id = %s AND q.res_id = r.res_id)",
                self.id,
            )
        )
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """INSERT INTO sms_marketing_journey_participant
                          (journey_id, res_model, res_id, step_id, state, entered_at, step_entered_at, next_action_at,
                           create_date, write_date)
                   SELECT DISTINCT ON (r.res_id) %(journey)s, %(model)s, r.res_id, %(root)s, 'running', %(now)s,
                          %(now)s, %(now)s, %(now)s, %(now)s
                     FROM (%(recipients)s) r
                    WHERE r.res_id IS NOT NULL AND %(condition)s AND %(once)s
                      AND NOT EXISTS (SELECT 1 FROM sms_marketing_journey_participant q
                                       WHERE q.journey_id = %(journey)s AND q.res_id = r.res_id
                                         AND q.state = 'running')
                   ON CONFLICT (journey_id, res_id) WHERE state = 'running' DO NOTHING""",
                journey=self.id,
                model=self.recipient_model,
                root=root.id,
                now=now,
                recipients=recipients,
                condition=condition,
                once=once,
            )
        )
        entered = self.env.cr.rowcount
        if entered:
            Participant._arrive(
                root, SQL("p.journey_id = %s AND p.step_id = %s AND p.step_entered_at = %s", self.id, root.id, now)
            )
        return entered

    def _add_records(self, records):
        """Add ``records`` by hand (the list action): those of the journey's audience, as the current user
        sees it; returns how many entered."""
        self.ensure_one()
        if self.state != "running":
            raise UserError(_("Start the journey “%(name)s” before adding records to it.", name=self.name))
        if records._name != self.recipient_model:
            raise UserError(
                _("The journey “%(name)s” is for %(model)s.", name=self.name, model=self.recipient_model_id.name)
            )
        records.check_access_rights("read")
        records.check_access_rule("read")
        entered = self.sudo()._enter(
            records.ids
        )  # sudo: participants are the system's; the audience stays the sender's
        self._trigger_cron()
        return entered

    # ------------------------------------------------------------------ cron
    @api.model
    def _trigger_cron(self, at=None):
        cron = self.env.ref("sms_marketing_custom.ir_cron_sms_marketing_journey", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger(at)  # sudo: marketers wake the journeys, crons are the system's

    @api.model
    def _cron_run(self):
        """Every running journey: enter, advance, send; one transaction per journey (its own lock)."""
        engine = self.env["sms.marketing.engine"]
        engine._commit()
        for journey in self.search([("state", "=", "running")]):
            try:
                with self.env.cr.savepoint():
                    self.env["sms.marketing.journey.participant"]._run_journey(journey)
            except (UserError, ValidationError) as error:
                # one journey that cannot run (a filter or field since refused) stops with the reason;
                # the others keep running
                journey.write({"state": "stopped"})
                journey._message_log(body=_("Stopped: %(reason)s", reason=error.args[0]))
            engine._commit()
        self.env["sms.marketing.journey.participant"]._reopen_step_mailings()
        engine._commit()


class SmsMarketingConsent(models.Model):
    _inherit = "sms.marketing.consent"

    @api.model
    def _log(self, values_list):
        """Every opt-in to a list (subscription created or confirmed by JOIN/YES, an import, a form)
        is logged here: one to a list of a running journey wakes the journeys at once."""
        result = super()._log(values_list)
        list_ids = {values.get("list_id") for values in values_list if values.get("event") == "opt_in"} - {None, False}
        if list_ids and self.env["sms.marketing.journey"].sudo().search_count(
            [("state", "=", "running"), ("trigger", "=", "list"), ("list_ids", "in", list(list_ids))], limit=1
        ):
            self.env["sms.marketing.journey"]._trigger_cron()
        return result
