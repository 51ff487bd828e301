"""A journey's step: one node of its tree (Send SMS, Wait, Branch, Add to / Remove from list, End).

A *Send SMS* step sends through its own system mailing (``mailing_id``, with
``journey_step_id`` pointing back): the journey's runner inserts that
mailing's traces for the participants due at the step and the sending engine
sends them as any mailing's (routing, rate limit, ledger, quiet hours,
frequency cap, links, opt-out, statistics). The trace table's unique
``(mailing_id, res_id)`` is what makes a participant get a step at most once;
a record entering the journey again, or a text changed while stopped, starts
a new mailing for the step (the old ones keep their figures).
"""

from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from .sms_marketing_recipient_model import CONTACT_MODEL

# what decides what a step sends or to whom: changing it makes the writer the journey's sender
STEP_CONTENT_FIELDS = {
    "step_type",
    "body",
    "template_id",
    "include_optout",
    "branch_condition",
    "branch_domain",
    "list_id",
}

STEP_TYPES = [
    ("send", "Send SMS"),
    ("wait", "Wait"),
    ("branch", "Branch"),
    ("add_list", "Add to List"),
    ("remove_list", "Remove from List"),
    ("end", "End"),
]
BRANCH_CONDITIONS = [
    # what one participant's last SMS did: words apart from the figures of the same name
    ("clicked", "Clicked a Link"),
    ("not_clicked", "Did Not Click"),
    ("delivered", "Was Delivered"),
    ("failed", "Did Not Arrive"),
    ("replied", "Answered"),
    ("not_replied", "Did Not Reply"),
    ("filter", "Matches a Filter"),
]


class SmsMarketingMailing(models.Model):
    _inherit = "sms.marketing.mailing"  # pylint: disable=consider-merging-classes-inherited

    # a journey step's system mailing: hidden from the Mailings menu and dashboard (their action's domain)
    journey_step_id = fields.Many2one("sms.marketing.journey.step", readonly=True, index="btree_not_null", copy=False)


class SmsMarketingJourneyStep(models.Model):
    _name = "sms.marketing.journey.step"
    _description = "SMS Journey Step"
    _order = "sequence, id"
    _parent_store = True

    name = fields.Char(required=True)
    journey_id = fields.Many2one("sms.marketing.journey", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="journey_id.company_id", store=True)
    sequence = fields.Integer(default=10)
    parent_id = fields.Many2one(
        "sms.marketing.journey.step",
        string="After",
        ondelete="cascade",
        index=True,
        domain="[('journey_id', '=', journey_id), ('step_type', '!=', 'end')]",
        help="Empty: the journey's first step.",
    )
    parent_path = fields.Char(index=True, unaccent=False)
    child_ids = fields.One2many("sms.marketing.journey.step", "parent_id", string="Next Steps")
    parent_type = fields.Selection(related="parent_id.step_type", string="Previous Step Type")
    branch_side = fields.Selection(
        [("yes", "Yes"), ("no", "No")],
        default="yes",
        help="After a Branch: whether this step is for the participants who meet its condition (Yes) or not (No).",
    )
    step_type = fields.Selection(STEP_TYPES, string="Type", required=True, default="send")
    # Send SMS
    template_id = fields.Many2one("sms.marketing.template", string="Start from Template")
    body = fields.Text(string="SMS Content")
    include_optout = fields.Boolean(string="Include opt-out link", default=True)
    mailing_id = fields.Many2one("sms.marketing.mailing", string="Current Mailing", readonly=True, copy=False)
    mailing_ids = fields.One2many("sms.marketing.mailing", "journey_step_id", string="Mailings")
    sms_preview = fields.Text(string="Preview", compute="_compute_sms_counts")
    sms_segments = fields.Integer(string="SMS Parts", compute="_compute_sms_counts")
    sms_units = fields.Integer(string="Length", compute="_compute_sms_counts")
    sms_encoding = fields.Char(string="Encoding", compute="_compute_sms_counts")
    # Wait
    wait_type = fields.Selection(
        [("duration", "For a Time"), ("time_of_day", "Until a Time of Day")], default="duration"
    )
    wait_amount = fields.Integer(string="Wait", default=1)
    wait_unit = fields.Selection([("hours", "Hours"), ("days", "Days")], default="days")
    wait_hour = fields.Float(
        string="Until", default=10.0, help="The time of day in the recipient's time zone (else the company's)."
    )
    # Branch
    branch_condition = fields.Selection(BRANCH_CONDITIONS, string="Condition", default="clicked")
    branch_hours = fields.Integer(
        string="Within (Hours)",
        default=24,
        help="How long the last SMS has to be clicked, delivered, failed or replied to.",
    )
    branch_domain = fields.Char(string="Filter", default="[]")
    # Add to / Remove from list
    list_id = fields.Many2one("sms.marketing.list", string="Mailing List")
    # figures
    entered_count = fields.Integer(string="Entered", compute="_compute_figures")
    waiting_count = fields.Integer(string="Waiting", compute="_compute_figures")
    sent_count = fields.Integer(string="SMS Sent", compute="_compute_figures")
    delivered_count = fields.Integer(string="SMS Delivered", compute="_compute_figures")
    clicked_count = fields.Integer(string="Clicked", compute="_compute_figures")
    optout_count = fields.Integer(string="Opted Out", compute="_compute_figures")
    replied_count = fields.Integer(string="Replied", compute="_compute_figures")

    # ------------------------------------------------------------------ computes
    @api.depends("body", "include_optout", "journey_id.recipient_model_id")
    def _compute_sms_counts(self):
        """The mailing's own counter and preview, on an in-memory mailing of the step's text."""
        for step in self:
            mailing = step._get_sample_mailing()
            mailing._compute_sms_counts()
            step.sms_preview = mailing._get_preview()[0] if step.body else ""
            step.sms_segments = mailing.sms_segments
            step.sms_units = mailing.sms_units
            step.sms_encoding = mailing.sms_encoding

    def _compute_figures(self):
        """entered (the participants at the step or after it: the steps are a tree), waiting (at it),
        and the SMS figures of its mailings (the campaign analysis rows), in a few grouped queries."""
        real = self.filtered("id")
        counts = {}
        if real:
            self.env["sms.marketing.journey.participant"].flush_model()
            self.env.cr.execute(
                SQL(
                    """SELECT s.id, count(p.id),
                              count(p.id) FILTER (WHERE p.step_id = s.id AND p.state = 'running')
                         FROM sms_marketing_journey_step s
                         JOIN sms_marketing_journey_step d ON starts_with(d.parent_path, s.parent_path)
                         JOIN sms_marketing_journey_participant p ON p.step_id = d.id
                        WHERE s.id = ANY(%s) GROUP BY s.id""",
                    real.ids,
                )
            )
            counts = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        mailings = real.sudo().mailing_ids  # sudo: the figures of the steps the user reads, whatever the mailing rules
        figures = self.env["sms.marketing.campaign.report"]._get_mailing_figures(
            mailings.ids, extra_columns=("replied_count",)
        )  # the mailings' own figures, Replied as on a mailing
        for step in self:
            step.entered_count, step.waiting_count = counts.get(step.id, (0, 0))
            rows = [figures.get(mailing.id, {}) for mailing in step.sudo().mailing_ids]
            step.sent_count = sum(row.get("sent_count") or 0 for row in rows)
            step.delivered_count = sum(row.get("delivered_count") or 0 for row in rows)
            step.clicked_count = sum(row.get("clicked_count") or 0 for row in rows)
            step.optout_count = sum(row.get("optout_count") or 0 for row in rows)
            step.replied_count = sum(row.get("replied_count") or 0 for row in rows)

    # ------------------------------------------------------------------ constraints and onchanges
    @api.constrains("parent_id", "journey_id")
    def _check_parent(self):
        for step in self:
            if step.parent_id and step.parent_id.journey_id != step.journey_id:
                raise ValidationError(_("A step follows a step of its own journey."))
            if step.parent_id.step_type == "end":
                raise ValidationError(_("Nothing follows an End step."))
        if not self._check_recursion():
            raise ValidationError(_("A step cannot follow itself."))

    @api.constrains("step_type", "body", "list_id", "branch_domain", "wait_amount", "branch_hours")
    def _check_step_values(self):
        for step in self:
            if step.step_type == "send" and not (step.body or "").strip():
                raise ValidationError(_("The step “%(step)s” sends an SMS: write its text.", step=step.name))
            if step.step_type in ("add_list", "remove_list"):
                if not step.list_id:
                    raise ValidationError(_("The step “%(step)s” needs a mailing list.", step=step.name))
                if step.journey_id.recipient_model != CONTACT_MODEL:
                    raise ValidationError(
                        _(
                            "Only mailing-list contacts can be added to or removed from a list (step “%(step)s”).",
                            step=step.name,
                        )
                    )
            negative = step.wait_amount < 0 if step.step_type == "wait" else step.branch_hours < 0
            if step.step_type in ("wait", "branch") and negative:
                raise ValidationError(_("The step “%(step)s” cannot wait a negative time.", step=step.name))
            if step.step_type == "branch" and step.branch_condition == "filter":
                step._get_branch_domain()

    @api.onchange("template_id")
    def _onchange_template_id(self):
        if self.template_id:
            self.body = self.template_id.body
            self.include_optout = self.template_id.include_optout

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        Mailing = self.env["sms.marketing.mailing"]
        for vals in vals_list:
            Mailing._check_body_rights(vals.get("body"))  # who may write placeholders: the mailing's rule
            if not self.env.su and {"mailing_id", "mailing_ids"} & set(vals):
                raise UserError(_("A step's mailings are made by its journey."))
        steps = super().create(vals_list)
        if not self.env.su:
            steps.journey_id._become_sender()
        return steps

    def write(self, vals):
        if "body" in vals:
            self.env["sms.marketing.mailing"]._check_body_rights(vals["body"])
        if not self.env.su:
            if {"mailing_id", "mailing_ids"} & set(vals):
                raise UserError(_("A step's mailings are made by its journey."))
            if STEP_CONTENT_FIELDS & set(vals):
                self.journey_id._become_sender()
        return super().write(vals)

    @api.constrains("wait_amount", "wait_hour", "branch_hours", "list_id")
    def _check_step_bounds(self):
        for step in self:
            if not 0 <= step.wait_amount <= 3660 or not 0 <= step.branch_hours <= 87840:
                raise ValidationError(_("A wait or a branch's time is at most ten years."))
            if not 0 <= step.wait_hour < 24:
                raise ValidationError(_("The time of day is between 00:00 and 23:59."))
            if step.list_id.company_id and step.list_id.company_id != step.journey_id.company_id:
                raise ValidationError(_("The list %(list)s belongs to another company.", list=step.list_id.name))

    # ------------------------------------------------------------------ business
    def _get_sample_mailing(self):
        """An in-memory mailing (never saved) of the step's text: counter and preview are the mailing's."""
        self.ensure_one()
        journey = self.journey_id
        return self.env["sms.marketing.mailing"].new(
            {
                "subject": self.name or "",
                "body": self.body or "",
                "include_optout": self.include_optout,
                "recipient_model_id": journey.recipient_model_id.id,
                "company_id": (journey.company_id or self.env.company).id,
                "frequency_cap_count": 0,
                "list_ids": [(6, 0, journey.list_ids.ids)],
            }
        )

    def _get_mailing_values(self):
        """The system mailing of a Send step: the journey's audience settings, the step's text; its traces
        are inserted by the journey (``trace_build_done``: the engine never builds an audience for it)."""
        self.ensure_one()
        journey = self.journey_id
        return {
            "subject": _("%(journey)s: %(step)s", journey=journey.name, step=self.name),
            "body": self.body,
            "include_optout": self.include_optout,
            "recipient_model_id": journey.recipient_model_id.id,
            "list_ids": [(6, 0, journey.list_ids.ids)],
            "domain": "[]",
            "company_id": journey.company_id.id,
            "user_id": journey.user_id.id,
            "gateway_id": journey.gateway_id.id,
            "journey_step_id": self.id,
            "trace_build_done": True,
        }

    def _ensure_mailing(self, renew=False):
        """The step's current mailing, made (and scheduled with the journey's sender's rights) when it has
        none, when its text changed, or with ``renew`` (a record re-entering already has a trace in it)."""
        self.ensure_one()
        mailing = self.mailing_id
        if mailing and not renew and mailing.body == self.body and mailing.include_optout == self.include_optout:
            return mailing
        journey = self.journey_id
        mailing = self.env["sms.marketing.mailing"].sudo().create(self._get_mailing_values())  # sudo: a system mailing
        self.sudo().mailing_id = mailing
        sender = journey.sender_id or journey.user_id
        companies = (journey.sender_company_ids & sender.company_ids) or sender.company_id
        # scheduled as its sender: the audience of every SMS is what the journey's starter may read
        mailing.with_user(sender).with_context(allowed_company_ids=companies.ids)._set_scheduled(
            {"schedule_type": "now", "schedule_date": fields.Datetime.now()}
        )
        return mailing

    def _get_branch_domain(self):
        """The branch filter as a list: read as data (``_read_filter``) and checked for the fields the
        journey's sender may read (the audience's ``_check_filter_field_access``)."""
        self.ensure_one()
        journey = self.journey_id
        audience_env = self.env["sms.marketing.audience"]._get_env(journey._get_audience_mailing())
        domain = self.env["sms.marketing.recipient.model"]._read_filter(self.branch_domain, audience_env.user)
        if journey.recipient_model:
            self.env["sms.marketing.audience"]._check_filter_field_access(audience_env[journey.recipient_model], domain)
        return domain

    def _get_delay(self):
        """The time a participant arriving at this step waits before it is applied (a Wait's duration,
        a Branch's time to click), as a timedelta; a Wait until a time of day is computed in SQL."""
        self.ensure_one()
        if self.step_type == "wait" and self.wait_type == "duration":
            return timedelta(**{self.wait_unit or "days": self.wait_amount})
        if self.step_type == "branch" and self.branch_condition != "filter":
            return timedelta(hours=self.branch_hours)
        return timedelta()

    def _get_next_steps(self):
        """{side: next step}: the first child of each side after a Branch ('yes', 'no'), else {None: first}."""
        self.ensure_one()
        children = self.child_ids.sorted(lambda step: (step.sequence, step.id))
        if self.step_type == "branch":
            return {side: children.filtered(lambda s, side=side: s.branch_side == side)[:1] for side in ("yes", "no")}
        return {None: children[:1]}
