"""SMS mailing: one SMS campaign, from the draft a marketer writes to its statistics.

What: the marketer picks recipients (mailing lists, or any SMS-enabled model
filtered with Odoo's domain editor), writes the text (the form counts
characters, encoding and SMS parts as the gateway will), sees the audience and
the credits it will take per country, then sends now or schedules.

How: this file holds the model, in sections; its price (``sms_marketing_mailing_price.py``),
A/B test (``sms_marketing_mailing_ab.py``) and state transitions
(``sms_marketing_mailing_state.py``) are files of their own. Each business rule of a
mailing has one definition here, used by the form, Send's checks, the test
SMS, the sending engine and the statistics alike (docs/design.md, "One
definition of each rule"):

* AUDIENCE — who receives it and why the others do not: ``sms.marketing.audience``
  (models/sms_marketing_audience.py), in the sender's rights (its ``_get_env``);
* CONTENT — what one recipient receives: ``_render_messages`` (placeholders,
  then tracked links and the opt-out line, ``_apply_tracking``), and
  ``_get_sms_text_to_count`` for the counter;
* PRICE — what it costs: ``_get_credit_estimate`` with the gateway's
  ``_get_prices`` and ``tools.pricing``, the same as the engine charges.

The sending itself is ``sms.marketing.engine`` (models/sms_marketing_engine.py);
this model only queues (``action_send_now``/``action_schedule``) and holds the
engine's per-mailing state (``trace_build_*``, ``pause_*``), changed only by
its transitions (``_set_*``).

Caveats: no action here sends anything inside the user's request. Placeholders
are rendered by Odoo's own ``inline_template`` engine; because the cron renders
as superuser, only users allowed to edit dynamic templates may save a body
with placeholders.
"""

from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, format_datetime
from odoo.tools.rendering_tools import parse_inline_template

from ..tools import links, pg_arrays, pricing
from ..tools.sms_encoding import count_segments
from .sms_marketing_engagement import combine_domains
from .sms_marketing_recipient_model import CONTACT_MODEL

AUDIENCE_JOURNEY_KEY = "sms_marketing_audience_journey"  # a journey's audience mailing: its journey (audience)
# Fields that define what is (being) sent: frozen once sending has started.
LOCKED_FIELDS = frozenset(
    {
        "body",
        "recipient_model_id",
        "list_ids",
        "domain",
        "include_optout",
        "schedule_type",
        "schedule_date",
        "gateway_id",
        "company_id",
        "ab_testing",
        "ab_test_share",
    }
)
LOCKED_STATES = ("sending", "paused", "testing", "done", "canceled")
# Schedules a little in the past (the time to click) are accepted.
SCHEDULE_TOLERANCE = timedelta(minutes=1)
# Where the opt-out token goes in the opt-out line while it is being laid out.
SUFFIX_TOKEN_MARKER = "\x00token\x00"
# What a recipient filter being edited can raise: the form shows the reason instead of failing.
FILTER_ERRORS = (UserError, ValidationError, AccessError, ValueError, SyntaxError)


def _format_hour(value):
    """9.5 -> "09:30" (the float_time widget's display)."""
    minutes = round((value or 0.0) * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class SmsMarketingMailing(models.Model):
    _name = "sms.marketing.mailing"
    _description = "SMS Mailing"
    _inherit = ["mail.thread", "mail.activity.mixin", "sms.marketing.recipient.choice.mixin"]
    _rec_name = "subject"
    _order = "schedule_date desc, id desc"

    # ------------------------------------------------------------------ fields
    # identity
    subject = fields.Char(required=True, tracking=True, help="For you only: recipients do not see it.")
    active = fields.Boolean(default=True)
    color = fields.Integer(string="Color Index")
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    user_id = fields.Many2one(
        "res.users",
        string="Responsible",
        default=lambda self: self.env.user,
        tracking=True,
        domain="[('share', '=', False)]",
        help="Who follows this mailing. The recipients are chosen with the rights of whoever sends it.",
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("scheduled", "Scheduled"),
            ("sending", "Sending"),
            ("paused", "Paused"),
            ("testing", "A/B Testing"),
            ("done", "Sent"),
            ("canceled", "Canceled"),
        ],
        default="draft",
        required=True,
        tracking=True,
        copy=False,
        index=True,
        group_expand="_group_expand_states",
    )
    # recipients
    recipient_choice = fields.Selection(
        string="Send To",
        help="Mailing List, or the records of another SMS-enabled model chosen with a filter.",
    )
    is_list_mailing = fields.Boolean(compute="_compute_is_list_mailing")
    list_ids = fields.Many2many(
        "sms.marketing.list",
        string="Mailing Lists",
        compute="_compute_list_ids",
        store=True,
        readonly=False,
        precompute=True,
    )
    domain = fields.Char(
        string="Filter",
        compute="_compute_domain",
        store=True,
        readonly=False,
        precompute=True,
        help="Which records of the chosen model receive the SMS.",
    )
    sender_id = fields.Many2one(
        "res.users",
        string="Sent By",
        readonly=True,
        copy=False,
        help="Who pressed Send or Schedule: the recipients are the records this user may read.",
    )
    sender_company_ids = fields.Many2many(
        "res.company",
        "sms_marketing_mailing_sender_company_rel",
        string="Sender's Companies",
        readonly=True,
        copy=False,
        help="The companies the sender worked in when sending: the recipients are taken in these only.",
    )
    # content
    body = fields.Text(string="SMS Content")
    include_optout = fields.Boolean(string="Include opt-out link", default=True)
    sms_link_length = fields.Integer(
        string="Tracked Link Length",
        compute="_compute_sms_link_length",
        help="Number of characters of one tracked short link as sent (each URL of the content is replaced by one).",
    )
    sms_optout_suffix = fields.Char(
        string="Opt-out Text",
        compute="_compute_sms_optout_suffix",
        help="Exact text appended to every SMS when the opt-out link is included.",
    )
    preview_ref = fields.Reference(
        selection="_selection_preview_models",
        string="Preview For",
        compute="_compute_preview_ref",
        store=True,
        readonly=False,
        copy=False,
        help="The recipient whose SMS the preview shows (by default the first recipient of the audience).",
    )
    sms_preview = fields.Text(
        string="Preview",
        compute="_compute_sms_preview",
        help="The SMS the preview recipient receives, as sent: placeholders, tracked links and opt-out line.",
    )
    sms_preview_html = fields.Html(string="SMS Preview", compute="_compute_sms_preview", sanitize=False)
    sms_preview_error = fields.Char(compute="_compute_sms_preview")
    sms_encoding = fields.Char(string="Encoding", compute="_compute_sms_counts")
    sms_segments = fields.Integer(string="SMS Parts", compute="_compute_sms_counts")
    sms_units = fields.Integer(string="Length", compute="_compute_sms_counts")
    link_ids = fields.One2many("sms.marketing.link", "mailing_id", string="Tracked Links")
    link_count = fields.Integer(string="Links", compute="_compute_link_count")
    # schedule and gateway
    schedule_type = fields.Selection([("now", "Send now"), ("scheduled", "On a date")], default="now", required=True)
    schedule_date = fields.Datetime(string="Scheduled for", tracking=True, copy=False)
    gateway_id = fields.Many2one("sms.marketing.gateway", help="Empty: the company's default gateway.")
    # template and campaign: their rules live in models/sms_marketing_template.py and
    # models/sms_marketing_campaign.py; the mailing only points to them
    template_id = fields.Many2one(
        "sms.marketing.template",
        string="Start from template",
        ondelete="set null",
        copy=True,
        help="Fills the SMS content, the recipients model and the opt-out option from a template.",
    )
    campaign_id = fields.Many2one(
        "sms.marketing.campaign",
        ondelete="set null",
        index="btree_not_null",
        tracking=True,
    )
    # audience, live (not stored: follows the filter as it is edited)
    audience_total = fields.Integer(string="Records", compute="_compute_audience")
    audience_to_send = fields.Integer(string="Will Receive", compute="_compute_audience")
    # the dashboard's: a started mailing shows its figures instead (its audience would count its traces)
    upcoming_to_send = fields.Integer(string="Upcoming Recipients", compute="_compute_upcoming_to_send")
    audience_invalid = fields.Integer(string="Invalid Numbers", compute="_compute_audience")
    audience_excluded = fields.Integer(string="Blacklisted or Opted Out", compute="_compute_audience")
    audience_duplicates = fields.Integer(string="Duplicates", compute="_compute_audience")
    audience_frequency_capped = fields.Integer(string="Texted Recently", compute="_compute_audience")
    audience_error = fields.Char(compute="_compute_audience")
    audience_by_country = fields.Json(compute="_compute_audience")
    # consent and compliance: frequency cap ("smart sending"), defaults from the company
    frequency_cap_count = fields.Integer(
        string="Frequency Cap",
        default=lambda self: self.env.company.sms_marketing_frequency_cap_count,
        help="Skip numbers that received at least this many marketing SMS in the period. 0: no cap.",
    )
    frequency_cap_hours = fields.Integer(
        string="Frequency Cap Period (hours)",
        default=lambda self: self.env.company.sms_marketing_frequency_cap_hours or 24,
    )
    # consent and compliance: sending window in each recipient's local time, defaults from the company
    quiet_hours = fields.Boolean(
        string="Sending Window",
        default=lambda self: self.env.company.sms_marketing_quiet_hours,
        help="Send only inside the window, in each recipient's time zone (the record's, else the number's). "
        "Messages due outside it wait for it to open.",
    )
    window_start = fields.Float(
        string="Window Opens", default=lambda self: self.env.company.sms_marketing_window_start or 9.0
    )
    window_end = fields.Float(
        string="Window Closes", default=lambda self: self.env.company.sms_marketing_window_end or 20.0
    )
    window_no_sunday = fields.Boolean(
        string="No Sundays", default=lambda self: self.env.company.sms_marketing_window_no_sunday
    )
    window_waiting_count = fields.Integer(string="Waiting for Their Window", compute="_compute_window_waiting")
    window_next_at = fields.Datetime(string="Next Window Opens", compute="_compute_window_waiting")
    # price estimate
    # sending (the engine's state of this mailing)
    trace_ids = fields.One2many("sms.marketing.trace", "mailing_id", string="Traces")
    pause_reason = fields.Text(readonly=True, copy=False, help="Why the sending is paused, shown on the mailing.")
    pause_code = fields.Selection(
        [
            ("insufficient_credit", "Insufficient Credit"),
            ("gateway_error", "Gateway Error"),
            ("sender_access", "Sender Without Access"),
            ("invalid_filter", "Invalid Recipient Filter"),
        ],
        readonly=True,
        copy=False,
    )
    sent_date = fields.Datetime(string="Sent On", readonly=True, copy=False)
    trace_build_done = fields.Boolean(readonly=True, copy=False)
    trace_build_cursor = fields.Integer(readonly=True, copy=False, help="Last res_id with its trace built.")
    trace_build_max = fields.Integer(readonly=True, copy=False, help="Highest res_id of the audience table at start.")
    # statistics
    recipient_count = fields.Integer(compute="_compute_statistics", string="Number of Recipients")
    pending_count = fields.Integer(compute="_compute_statistics", string="Pending")
    # the counts in words of their own: the states' labels (Sent, Delivered...) read in the singular in Italian,
    # French and Spanish, a count in the plural
    sent_count = fields.Integer(
        compute="_compute_statistics", string="SMS Sent", help="Accepted by the gateway (delivered or not)."
    )
    delivered_count = fields.Integer(compute="_compute_statistics", string="SMS Delivered")
    failed_count = fields.Integer(compute="_compute_statistics", string="SMS Failed")
    unknown_count = fields.Integer(
        compute="_compute_statistics",
        string="Outcome Unknown",
        help="Messages a provider may have sent but whose answer was lost; never sent again.",
    )
    canceled_count = fields.Integer(compute="_compute_statistics", string="SMS Canceled")
    sent_ratio = fields.Float(compute="_compute_statistics", string="Sent (%)")
    # how far the sending is: every trace no longer pending (a canceled one is finished, not waiting)
    progress_ratio = fields.Float(compute="_compute_statistics", string="Progress (%)")
    delivered_ratio = fields.Float(compute="_compute_statistics", string="Delivered (%)")
    failed_ratio = fields.Float(compute="_compute_statistics", string="Failed (%)")
    canceled_ratio = fields.Float(compute="_compute_statistics", string="Canceled (%)")
    credits_spent = fields.Float(compute="_compute_statistics", digits=(16, 4))
    clicked_count = fields.Integer(string="Clicked", compute="_compute_statistics")
    optout_count = fields.Integer(string="Opted Out", compute="_compute_statistics")
    can_resend_non_clickers = fields.Boolean(compute="_compute_can_resend_non_clickers")

    # ------------------------------------------------------------------ computes
    @api.model
    def _group_expand_states(self, states, domain, order):
        return [key for key, _label in self._fields["state"].selection]

    @api.model
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        """The dashboard folds Canceled, and Sending, Paused and A/B Testing while empty, so that its columns fit a
        laptop screen."""
        result = super().read_group(domain, fields, groupby, offset=offset, limit=limit, orderby=orderby, lazy=lazy)
        groupby = [groupby] if isinstance(groupby, str) else list(groupby or [])
        if groupby[:1] == ["state"]:
            for line in result:
                count = line.get("state_count", line.get("__count", 0))
                if line.get("state") == "canceled" or (
                    line.get("state") in ("sending", "paused", "testing") and not count
                ):
                    line["__fold"] = True
        return result

    @api.depends("recipient_model")
    def _compute_is_list_mailing(self):
        for mailing in self:
            mailing.is_list_mailing = mailing.recipient_model in (False, CONTACT_MODEL)

    @api.depends("recipient_model_id")
    def _compute_list_ids(self):
        # Lists only mean something for mailing-list contacts: another model leaves none behind.
        for mailing in self:
            if not mailing.is_list_mailing:
                mailing.list_ids = False

    @api.depends("recipient_model_id")
    def _compute_domain(self):
        for mailing in self:
            model = mailing.recipient_model_id.model
            mailing.domain = self._get_default_recipient_domain(model) if model and model != CONTACT_MODEL else "[]"

    @api.depends("body")
    def _compute_sms_link_length(self):
        length = links.tracked_link_length(self[:1].get_base_url() if self else self.get_base_url())
        for mailing in self:
            mailing.sms_link_length = length

    @api.depends("include_optout", "user_id", "preview_ref")
    def _compute_sms_optout_suffix(self):
        # the preview recipient's line, in its language: the counter counts the message the preview shows
        for mailing in self:
            if mailing.include_optout:
                head, tail = mailing._get_optout_suffix_parts(mailing._get_preview_lang())
                mailing.sms_optout_suffix = head + "X" * links.OPTOUT_TOKEN_LENGTH + tail
            else:
                mailing.sms_optout_suffix = ""

    @api.depends("sms_preview")
    def _compute_sms_counts(self):
        # The counter counts the preview: the very text one recipient receives.
        for mailing in self:
            info = count_segments(mailing.sms_preview or "")
            mailing.sms_encoding = info.encoding
            mailing.sms_segments = info.segments
            mailing.sms_units = info.units

    @api.depends("recipient_model_id", "list_ids", "domain")
    def _compute_preview_ref(self):
        audience = self.env["sms.marketing.audience"]
        for mailing in self:
            model = mailing.recipient_model or CONTACT_MODEL
            rows = audience._get_sendable_rows(mailing, limit=1) if mailing.recipient_model_id else []
            mailing.preview_ref = f"{model},{rows[0][0]}" if rows else False

    @api.depends("body", "include_optout", "preview_ref", "user_id", "recipient_model_id")
    def _compute_sms_preview(self):
        for mailing in self:
            text, error = mailing._get_preview()
            mailing.sms_preview = text
            mailing.sms_preview_error = error
            mailing.sms_preview_html = mailing._render_preview_html(text)

    def _get_preview(self, body=None):
        """(text, error): the SMS the preview recipient receives, ``_render_messages`` with
        trace 0 (tokens of the real length that belong to no trace) and without
        creating link trackers (``_get_link_codes``); ``body`` is an A/B version's text
        (default: the mailing's)."""
        self.ensure_one()
        body = self.body if body is None else body
        if not body:
            return "", False
        mailing = self.with_context(sms_marketing_preview=True)
        res_id = self._get_preview_res_id()
        if res_id is None:
            # no recipient to fill the placeholders: they are shown as typed
            return mailing._apply_tracking([0], {0: body}).get(0, ""), False
        try:
            return mailing._render_messages([0], [res_id], body)[0], False
        except UserError as error:
            text = mailing._apply_tracking([0], {0: body}).get(0, "")
            return text, _("A placeholder cannot be rendered: %(error)s", error=error.args[0] if error.args else error)

    def _render_preview_html(self, text):
        """The preview as a message bubble; the opt-out line set apart, as the recipient reads it."""
        if not text:
            return False
        head = self._get_optout_suffix_parts(self._get_preview_lang())[0] if self.include_optout else ""
        body, optout = text, ""
        if head and head in text:
            position = text.rindex(head)
            body, optout = text[:position], text[position:]
        return self.env["ir.qweb"]._render(
            "sms_marketing_custom.mailing_preview_bubble", {"body": body, "optout": optout.strip("\n")}
        )

    def _get_link_codes(self, urls):
        """{url: code} of this mailing's trackers, created as needed; for a preview
        (context ``sms_marketing_preview``) nothing is created: an existing
        tracker's code, else a stand-in of the same length."""
        self.ensure_one()
        if not self.env.context.get("sms_marketing_preview"):
            return self.env["sms.marketing.link"]._get_codes(self, urls)
        codes = {}
        mailing_id = self._origin.id if self._origin else False
        if mailing_id:
            trackers = self.env["sms.marketing.link"].search(
                [("mailing_id", "=", mailing_id), ("url", "in", list(urls))]
            )
            codes = {tracker.url: tracker.code for tracker in trackers}
        return {url: codes.get(url) or "x" * links.CODE_LENGTH for url in urls}

    @api.depends(
        "recipient_model_id", "list_ids", "domain", "sender_id", "frequency_cap_count", "frequency_cap_hours", "state"
    )
    @api.depends_context("uid", "allowed_company_ids", AUDIENCE_JOURNEY_KEY)
    def _compute_audience(self):
        for mailing in self:
            stats, error = self.env["sms.marketing.audience"]._get_form_statistics(mailing)
            mailing.audience_error = error
            mailing.audience_total = stats["total"]
            mailing.audience_to_send = stats["to_send"]
            mailing.audience_invalid = stats["invalid"]
            mailing.audience_excluded = stats["blacklisted"] + stats["opted_out"]
            mailing.audience_duplicates = stats["duplicates"]
            mailing.audience_frequency_capped = stats["frequency_capped"]
            mailing.audience_by_country = stats["by_country"]

    def _compute_upcoming_to_send(self):
        started = self.filtered(lambda mailing: mailing.state in ("sending", "paused", "testing", "done"))
        started.upcoming_to_send = 0
        for mailing in self - started:
            mailing.upcoming_to_send = mailing.audience_to_send

    def _compute_statistics(self):
        """All figures of a batch of mailings: their rows of the campaign analysis, one query
        (``sms.marketing.campaign.report``, the one definition of a mailing's figures)."""
        ids = [mid for mid in self.ids if isinstance(mid, int)]
        figures_of = self.env["sms.marketing.campaign.report"]._get_mailing_figures(ids)
        for mailing in self:
            figures = figures_of.get(mailing.id, {})
            total, sent = figures.get("recipient_count", 0), figures.get("sent_count", 0)
            mailing.recipient_count = total
            mailing.pending_count = figures.get("pending_count", 0)
            mailing.sent_count = sent
            mailing.delivered_count = figures.get("delivered_count", 0)
            mailing.failed_count = figures.get("failed_count", 0)
            mailing.unknown_count = figures.get("unknown_count", 0)
            mailing.canceled_count = figures.get("canceled_count", 0)
            mailing.clicked_count = figures.get("clicked_count", 0)
            mailing.optout_count = figures.get("optout_count", 0)
            mailing.sent_ratio = 100.0 * sent / total if total else 0.0
            mailing.progress_ratio = 100.0 * (total - mailing.pending_count) / total if total else 0.0
            mailing.delivered_ratio = 100.0 * mailing.delivered_count / sent if sent else 0.0
            mailing.failed_ratio = 100.0 * mailing.failed_count / total if total else 0.0
            mailing.canceled_ratio = 100.0 * mailing.canceled_count / total if total else 0.0
            mailing.credits_spent = float(figures.get("credits_spent", 0.0))

    # ------------------------------------------------------------------ constraints
    @api.constrains("company_id", "list_ids", "gateway_id")
    def _check_company_consistency(self):
        # check_company=True would need company_id in the form for users without the multi-company group
        writer_companies = self.env.user.company_ids
        for mailing in self.sudo():  # sudo: the other company's records are exactly the ones not readable
            company = mailing.company_id
            if not company:
                # a mailing of no company sends through no other company's gateway than the writer's own
                if mailing.gateway_id.company_id and mailing.gateway_id.company_id not in writer_companies:
                    raise ValidationError(_("This gateway belongs to a company you do not work in."))
                continue
            lists = mailing.list_ids.filtered(
                lambda sms_list, company=company: sms_list.company_id and sms_list.company_id != company
            )
            gateway_company = mailing.gateway_id.company_id
            if lists or (gateway_company and gateway_company != company):
                raise ValidationError(
                    _(
                        "The mailing “%(subject)s” belongs to %(company)s: its mailing lists and gateway must too.",
                        subject=mailing.subject,
                        company=company.name,
                    )
                )

    @api.constrains("domain", "recipient_model_id")
    def _check_domain(self):
        audience = self.env["sms.marketing.audience"]
        for mailing in self:
            if audience._is_list_audience(mailing):
                audience._get_filter(mailing)  # a literal domain; the lists' contacts are checked when counted
            else:
                audience._parse_filter(mailing)

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._strip_nul(vals)
            self._check_body_rights(vals.get("body"))
            self._check_sender_values(vals)
        mailings = super().create(vals_list)
        mailings._ensure_main_version()
        return mailings

    def write(self, vals):
        self._strip_nul(vals)
        if "body" in vals:
            self._check_body_rights(vals["body"])
        self._check_sender_values(vals)
        locked = LOCKED_FIELDS.intersection(vals)
        if locked and not self.env.su:
            # A scheduled mailing sends with its sender's rights: whoever changes what it sends
            # becomes its sender, so nobody sends with the rights of someone else.
            rescheduled = self.filtered(lambda m: m.state == "scheduled" and m.sender_id != self.env.user)
            if rescheduled:
                super(SmsMarketingMailing, rescheduled).write(self._get_sender_values())
        if locked:
            started = self.filtered(lambda m: m.state in LOCKED_STATES)
            if started:
                raise UserError(
                    _(
                        "The mailing “%(subject)s” is %(state)s: its content, recipients and schedule can no longer "
                        "change. Duplicate it to send a new version.",
                        subject=started[0].subject,
                        state=dict(self._fields["state"]._description_selection(self.env))[started[0].state],
                    )
                )
        result = super().write(vals)
        if vals.get("ab_testing"):
            self._ensure_main_version()
        return result

    def copy(self, default=None):
        self.ensure_one()
        default = dict(default or {})
        default.setdefault("subject", _("%(subject)s (copy)", subject=self.subject))
        return super().copy(default)

    # ------------------------------------------------------------------ actions
    def action_send_now(self):
        now = fields.Datetime.now()
        for mailing in self:
            mailing._check_can_send()
        self._set_scheduled({"schedule_type": "now", "schedule_date": now})
        self._trigger_queue(now)
        return True

    def action_schedule(self):
        """Queue the mailing at its ``schedule_date``; without one, ask for it."""
        self.ensure_one()
        if not self.schedule_date:
            return self.action_open_schedule_wizard()
        if self.schedule_date < fields.Datetime.now() - SCHEDULE_TOLERANCE:
            date = format_datetime(self.env, self.schedule_date, dt_format=False)
            raise UserError(_("The scheduled date %(date)s is in the past.", date=date))
        self._check_can_send()
        self._set_scheduled({"schedule_type": "scheduled"})
        self._trigger_queue(self.schedule_date)
        return True

    def action_open_schedule_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("When do you want to send your mailing?"),
            "res_model": "sms.marketing.mailing.schedule",
            "view_mode": "form",
            "target": "new",
            # without a date of its own, the wizard proposes the next full hour
            "context": {"default_mailing_id": self.id}
            | ({"default_schedule_date": self.schedule_date} if self.schedule_date else {}),
        }

    def action_cancel(self):
        """Stop a mailing: nothing more is sent (the queue skips canceled mailings)."""
        if any(mailing.state == "done" for mailing in self):
            raise UserError(_("A mailing that has been sent can no longer be canceled."))
        self._set_canceled()
        return True

    def action_draft(self):
        """Back to draft, only while nothing has been sent."""
        for mailing in self:
            if mailing.state not in ("scheduled", "canceled") or mailing.trace_ids[:1]:
                raise UserError(
                    _("The mailing “%(subject)s” has started: duplicate it instead.", subject=mailing.subject)
                )
        self._set_draft()
        return True

    def action_resume(self):
        """Resume a paused mailing by hand (e.g. after fixing the gateway)."""
        self._set_sending(from_state="paused")
        self._trigger_queue()
        return True

    def action_duplicate(self):
        self.ensure_one()
        copy = self.copy()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": copy.id,
            "view_mode": "form",
            "target": "current",
        }

    def action_test(self):
        self.ensure_one()
        if not self.body:
            raise UserError(_("Write the SMS content before sending a test."))
        return {
            "type": "ir.actions.act_window",
            "name": _("Test SMS"),
            "res_model": "sms.marketing.mailing.test",
            "view_mode": "form",
            "target": "new",
            "context": {"default_mailing_id": self.id},
        }

    def action_view_prices(self):
        """The gateway's price per SMS part, by country, with its price for every other country."""
        self.ensure_one()
        if not self._get_gateway():
            raise UserError(_("No SMS gateway is configured: ask an administrator to set one up."))
        return self._action_open_send_wizard(
            _("Prices of %(gateway)s", gateway=self._get_gateway().display_name),
            "sms_marketing_custom.sms_marketing_mailing_send_view_form_prices",
        )

    def action_open_send_confirm(self):
        """Send's confirmation: recipients, SMS parts, credits and the balance after sending.

        Checks first (with the gateway's fresh balance), so that the figures
        shown are the ones ``action_send_now`` will send with.
        """
        self.ensure_one()
        self._check_can_send()
        return self._action_open_send_wizard(
            _("Send “%(subject)s”?", subject=self.subject),
            "sms_marketing_custom.sms_marketing_mailing_send_view_form",
        )

    def _action_open_send_wizard(self, name, view_xmlid):
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": "sms.marketing.mailing.send",
            "views": [(self.env.ref(view_xmlid).id, "form")],
            "target": "new",
            "context": {"default_mailing_id": self.id},
        }

    def _action_view_traces(self, figure):
        self.ensure_one()
        return self.env["sms.marketing.trace"]._get_figure_action(
            figure, [self.id], _("None of this mailing's recipients is in this list for now.")
        )

    def action_view_traces_all(self):
        return self._action_view_traces("all")

    def action_view_traces_sent(self):
        return self._action_view_traces("sent")

    def action_view_traces_delivered(self):
        return self._action_view_traces("delivered")

    def action_view_traces_failed(self):
        return self._action_view_traces("failed")

    def action_view_traces_canceled(self):
        return self._action_view_traces("canceled")

    def action_view_optouts(self):
        return self._action_view_traces("optout")

    @api.depends("link_ids")
    def _compute_link_count(self):
        for mailing in self:
            mailing.link_count = len(mailing.link_ids)

    def action_view_links(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("sms_marketing_custom.sms_marketing_link_action")
        action["domain"] = [("mailing_id", "=", self.id)]
        action["context"] = {"default_mailing_id": self.id}
        return action

    def action_view_clicks(self):
        return self._action_view_traces("clicked")

    # ---- resend
    # "Resend to those who did not click": a draft copy of a sent mailing whose filter adds
    # "received this mailing and did not click it" (the engagement filters,
    # models/sms_marketing_engagement.py): its audience is the one definition, sms.marketing.audience.
    @api.depends("state", "link_ids", "recipient_model_id")
    def _compute_can_resend_non_clickers(self):
        for mailing in self:
            mailing.can_resend_non_clickers = (
                mailing.state == "done" and bool(mailing.link_ids) and mailing._has_engagement_filters()
            )

    def _has_engagement_filters(self):
        self.ensure_one()
        return "sms_clicked_mailing_ids" in self.env[self.recipient_model or CONTACT_MODEL]._fields

    def _get_non_clickers_domain(self):
        """The filter of the copy, as text: the mailing's own, and received it, and did not click it."""
        self.ensure_one()
        self.env["sms.marketing.audience"]._get_filter(
            self
        )  # a filter that is not a literal domain is refused with its reason
        engaged = (
            f"[('sms_received_mailing_ids', 'in', [{int(self.id)}]), "
            f"('sms_clicked_mailing_ids', 'not in', [{int(self.id)}])]"
        )
        return combine_domains(self.domain, engaged)

    def action_resend_to_non_clickers(self):
        """A new draft for the recipients who were sent this mailing and did not click its links; opened."""
        self.ensure_one()
        if self.state != "done":
            raise UserError(_("Only a sent mailing can be resent to the recipients who did not click."))
        if not self._has_engagement_filters():
            raise UserError(
                _(
                    "The recipients of this mailing (%(model)s) have no engagement filters: "
                    "it cannot be resent to those who did not click.",
                    model=self.recipient_model_id.name,
                )
            )
        values = {
            "subject": _("%(subject)s (did not click)", subject=self.subject),
            "recipient_model_id": self.recipient_model_id.id,
            "list_ids": [(6, 0, self.list_ids.ids)],
            "domain": self._get_non_clickers_domain(),
        }
        if self.ab_testing:
            # an A/B test's non-clickers get its winning text, not another test
            values.update({"ab_testing": False, "variant_ids": [], "body": self._get_winning_body()})
        copy = self.copy(values)
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": copy.id,
            "view_mode": "form",
            "target": "current",
        }

    # ---- end of resend

    # ------------------------------------------------------------------ sender, sending window, frequency cap
    # (who the audience is: sms.marketing.audience, models/sms_marketing_audience.py)
    def _get_sender_values(self):
        """Who sends, recorded on Send and Schedule: the audience is what this user may read."""
        return {"sender_id": self.env.user.id, "sender_company_ids": [(6, 0, self.env.companies.ids)]}

    def _check_sender_values(self, vals):
        """Only the system records a sender other than oneself: naming another sender would lend
        oneself their rights (the fields are read-only in the form, not over RPC)."""
        if self.env.su or not ({"sender_id", "sender_company_ids"} & set(vals)):
            return
        sender = vals.get("sender_id", self.env.user.id)
        companies = self.env["res.company"]
        for command in vals.get("sender_company_ids") or []:
            if command[0] == 6:
                companies |= companies.browse(command[2])
            elif command[0] == 4:
                companies |= companies.browse(command[1])
        if sender not in (False, self.env.user.id) or companies - self.env.user.company_ids:
            raise AccessError(_("The sender of a mailing is whoever sends it: it cannot be set by hand."))

    def _get_audience_log(self):
        """The chatter line that says whose rights chose the recipients, when the sending starts."""
        self.ensure_one()
        audience_env = self.env["sms.marketing.audience"]._get_env(self)
        return _(
            "Sending started. The recipients are the records %(user)s may read in %(companies)s.",
            user=audience_env.user.name,
            companies=", ".join(audience_env.companies.mapped("name")),
        )

    def _get_sender_access_error(self):
        """Why the recorded sender can no longer send (archived, or out of the SMS Marketing group), else False."""
        self.ensure_one()
        sender = self.sender_id.sudo()  # sudo: the engine checks a user the marketer may not read
        if not sender or sender._is_superuser():  # the system sends from code, with every right
            return False
        if not sender.active or not sender.has_group("sms_marketing_custom.group_sms_marketing_user"):
            return _(
                "%(user)s, who sent this mailing, can no longer send SMS mailings: nothing more is sent. "
                "Duplicate it to send it as another user.",
                user=sender.name,
            )
        return False

    def _compute_window_waiting(self):
        """Pending messages waiting for their sending window, and the first opening: one _read_group."""
        # only the mailings with a pending message (their counters) have traces to look at
        ids = [mid for mid in self.ids if isinstance(mid, int)]
        pending = self.env["sms.marketing.campaign.report"]._get_mailing_figures(ids, ("pending_count",))
        ids = [mid for mid in ids if pending.get(mid, {}).get("pending_count")]
        groups = {}
        if ids:
            groups = {
                mailing.id: (count, first)
                for mailing, count, first in self.env["sms.marketing.trace"]._read_group(
                    [("mailing_id", "in", ids), ("state", "=", "pending"), ("failure_type", "=", "quiet_hours")],
                    ["mailing_id"],
                    ["__count", "next_try_at:min"],
                )
            }
        for mailing in self:
            mailing.window_waiting_count, mailing.window_next_at = groups.get(mailing.id, (0, False))

    def _get_fallback_time_zone(self):
        """Zone of a recipient whose record and number tell none: the company's, else the sender's, else UTC."""
        self.ensure_one()
        company = self.company_id or self.env.company
        return company.partner_id.tz or self.sender_id.tz or self.user_id.tz or "UTC"

    @api.model
    def _check_window_values(self, records, start_field, end_field):
        for record in records:
            start, end = record[start_field], record[end_field]
            if not (0 <= start < end <= 24):
                raise ValidationError(
                    _(
                        "The sending window must open before it closes, between 00:00 and 24:00 "
                        "(%(start)s to %(end)s given).",
                        start=_format_hour(start),
                        end=_format_hour(end),
                    )
                )

    @api.constrains("window_start", "window_end")
    def _check_window(self):
        self._check_window_values(self, "window_start", "window_end")

    def _get_frequency_cap_condition(self, number):
        """SQL true when the E.164 ``number`` (an SQL expression) reached this mailing's frequency cap.

        The one definition of the cap: at least ``frequency_cap_count`` marketing
        SMS sent (sent or delivered, any mailing but this one) to the number
        since ``frequency_cap_hours`` ago, messages in flight (claimed by a
        runner whose provider call is under way: ``claim_move_id``) counting as
        sent; ``FALSE`` when the cap is off. Used by the audience count, the
        engine's INSERT and the check at claim time. Reads
        ``sms_marketing_trace_number_mailing_idx``, at most ``count`` rows per number.
        """
        self.ensure_one()
        if self.frequency_cap_count <= 0:
            return SQL("FALSE")
        self.env["sms.marketing.trace"].flush_model(["number", "state", "sent_at", "mailing_id", "claim_move_id"])
        return SQL(
            """((SELECT count(*) FROM (SELECT 1 FROM sms_marketing_trace cap
                                        WHERE cap.number = %(number)s AND cap.mailing_id != %(mailing)s
                                          AND ((cap.state IN ('sent', 'delivered') AND cap.sent_at >= %(since)s)
                                               OR (cap.state = 'pending' AND cap.claim_move_id IS NOT NULL))
                                        LIMIT %(count)s) capped) >= %(count)s)""",
            number=number,
            since=fields.Datetime.now() - timedelta(hours=max(self.frequency_cap_hours, 0)),
            # in the form the record is a new one (a falsy NewId): the saved mailing is its origin
            mailing=self._origin.id or 0,
            count=self.frequency_cap_count,
        )

    @api.model
    def _check_frequency_cap_values(self, records, count_field, hours_field):
        """A negative cap, or a cap with no period, is refused with the field's name."""
        for record in records:
            if record[count_field] < 0:
                raise ValidationError(_("The frequency cap cannot be negative (0 turns it off)."))
            if record[count_field] and record[hours_field] <= 0:
                raise ValidationError(_("The period of the frequency cap must be at least one hour."))

    @api.constrains("frequency_cap_count", "frequency_cap_hours")
    def _check_frequency_cap(self):
        self._check_frequency_cap_values(self, "frequency_cap_count", "frequency_cap_hours")

    @api.model
    def _get_default_recipient_domain(self, model_name):
        """Default filter offered when a model is chosen: the one of its SMS configuration."""
        config = self.env["sms.marketing.recipient.model"]._get_for_model(model_name)
        return config.domain or "[]"

    # ------------------------------------------------------------------ content
    def _render_placeholders(self, res_ids, body=None):
        """Render the body (or ``body``, an A/B version's text) for each recipient record: {res_id: text}.

        Placeholders (``{{ object.name }}``) go through Odoo's inline_template
        engine with ``object`` the recipient record of ``recipient_model``. A
        body without "{{" is returned as is for every id, without touching
        any record (the common case, and the fast one).
        """
        self.ensure_one()
        body = (self.body if body is None else body) or ""
        res_ids = list(res_ids)
        if "{{" not in body:
            return dict.fromkeys(res_ids, body)
        model = self.recipient_model or CONTACT_MODEL
        # mail.render.mixin is an abstract model: its @api.model rendering is
        # Odoo's safe engine (safe_eval of each expression, sandboxed).
        return self.env["mail.render.mixin"]._render_template(body, model, res_ids, engine="inline_template")

    def _render_messages(self, trace_ids, res_ids, body=None):
        """The SMS each recipient receives, {trace_id: text}: the one definition of a message.

        Placeholders rendered on the recipient record ``res_ids[i]``, then each
        URL as its tracked short link with the token of ``trace_ids[i]``, then
        the opt-out line. ``body``: an A/B version's text instead of the
        mailing's. The engine, the test SMS and the counter's lengths all come
        from here.
        """
        self.ensure_one()
        texts = self._render_placeholders(res_ids, body)
        texts_by_trace = {tid: texts.get(rid) or "" for tid, rid in zip(trace_ids, res_ids, strict=True)}
        langs = self._get_recipient_langs(res_ids) if self.include_optout else {}
        langs_by_trace = {tid: langs.get(rid) for tid, rid in zip(trace_ids, res_ids, strict=True)} if langs else None
        return self._apply_tracking(trace_ids, texts_by_trace, langs_by_trace)

    def _get_lang_column(self):
        """The stored language column of the recipient model (e.g. Contacts' ``lang``), else None."""
        self.ensure_one()
        Model = self.env[self.recipient_model or CONTACT_MODEL]
        field = Model._fields.get("lang")
        if field and field.store and field.type in ("selection", "char") and not field.company_dependent:
            return SQL.identifier(Model._table, "lang")
        return None

    def _get_recipient_langs(self, res_ids):
        """{res_id: language} of the recipients whose record has a language."""
        self.ensure_one()
        column = self._get_lang_column()
        ids = [res_id for res_id in res_ids if type(res_id) is int]  # an int: not a NewId, nor a bool
        if column is None or not ids:
            return {}
        Model = self.env[self.recipient_model or CONTACT_MODEL]
        Model.flush_model(["lang"])
        self.env.cr.execute(
            SQL(
                "SELECT id, %s FROM %s WHERE id = ANY(%s::int[]) AND %s IS NOT NULL",
                column,
                SQL.identifier(Model._table),
                pg_arrays.int_array(ids),
                column,
            )
        )
        return dict(self.env.cr.fetchall())

    def _get_sms_text_to_count(self):
        """The body as it will be counted: each URL as a tracked short link, plus the opt-out text."""
        self.ensure_one()
        body = self.body or ""
        parts, position = [], 0
        for start, end, _url in links.find_urls(body):
            parts.append(body[position:start])
            parts.append("x" * self.sms_link_length)
            position = end
        parts.append(body[position:])
        text = "".join(parts)
        if self.include_optout and text:
            text += self.sms_optout_suffix or ""
        return text

    def _prepare_tracking(self):
        """Create the trackers of the URLs of the body and its A/B versions (once per mailing, idempotent)."""
        Link = self.env["sms.marketing.link"]
        for mailing in self:
            prefixes = mailing._get_own_link_prefixes()
            urls = {url for body in mailing._get_version_bodies() for url in links.trackable_urls(body, prefixes)}
            Link._get_codes(mailing, urls)
        return True

    def _apply_tracking(self, trace_ids, texts_by_trace, langs_by_trace=None):
        """{trace_id: final body}: tracked short links with the trace's token, opt-out link.

        Each distinct text is cut once around its URLs (trackers read or
        created in one go); each trace then costs one HMAC and string joins.
        Tokens have a fixed length, so the length the counter shows
        (``sms_link_length``, ``sms_optout_suffix``) is the length sent.

        :param trace_ids: traces of this mailing, records or ids (0 for a test SMS)
        :param texts_by_trace: {trace_id: rendered text} (placeholders already rendered)
        :param langs_by_trace: {trace_id: recipient's language} for the opt-out line, if known
        """
        self.ensure_one()
        trace_ids = trace_ids.ids if isinstance(trace_ids, models.BaseModel) else list(trace_ids)
        own_prefixes = self._get_own_link_prefixes()
        click_prefix = own_prefixes[0]
        texts = {texts_by_trace.get(trace_id) or "" for trace_id in trace_ids}
        urls = {url for text in texts for url in links.trackable_urls(text, own_prefixes)}
        codes = self._get_link_codes(urls) if urls else {}
        parts_by_text = {text: links.compile_text(text, codes, click_prefix) for text in texts}
        include_optout = self.include_optout
        if not include_optout and not codes:
            return {trace_id: texts_by_trace.get(trace_id) or "" for trace_id in trace_ids}
        head, tail = self._get_optout_suffix_parts() if include_optout else ("", "")
        suffixes = {None: (head, tail)}
        key = self.env["sms.marketing.trace"]._get_token_key()
        trace_tokens = links.trace_tokens
        bodies = {}
        for trace_id in trace_ids:
            click_token, optout_token = trace_tokens(key, trace_id)
            body = click_token.join(parts_by_text[texts_by_trace.get(trace_id) or ""])
            if include_optout and langs_by_trace:
                lang = langs_by_trace.get(trace_id)
                if lang not in suffixes:
                    suffixes[lang] = self._get_optout_suffix_parts(lang)
                head, tail = suffixes[lang]
            bodies[trace_id] = f"{body}{head}{optout_token}{tail}" if include_optout else body
        return bodies

    def _get_own_link_prefixes(self):
        """(click prefix, opt-out prefix, legacy click prefix): URLs starting with them are ours
        and are not tracked again."""
        base_url = (self[:1] if self else self).get_base_url().rstrip("/")
        return (base_url + links.CLICK_PATH, base_url + links.OPTOUT_PATH, base_url + links.LEGACY_CLICK_PATH)

    def _get_optout_suffix_parts(self, lang=None):
        """(text before the token, text after it) of the opt-out line, in the recipient's language
        ``lang`` when known (and installed), else the responsible's."""
        self.ensure_one()
        if lang and not self.env["res.lang"]._lang_get_id(lang):
            lang = None
        mailing = self.with_context(lang=lang or self._get_responsible_lang() or self.env.lang or "en_US")
        suffix = mailing._get_optout_suffix_text(self._get_own_link_prefixes()[1] + SUFFIX_TOKEN_MARKER)
        head, _marker, tail = suffix.partition(SUFFIX_TOKEN_MARKER)
        return head, tail

    def _get_preview_lang(self):
        """The preview recipient's language (that of its opt-out line), if its record has one."""
        res_id = self._get_preview_res_id()
        return self._get_recipient_langs([res_id]).get(res_id) if res_id else None

    def _get_optout_suffix_text(self, url):
        """The text appended to each SMS; ``url`` is the recipient's opt-out link."""
        return "\n" + _("Opt out: %(url)s", url=url)

    def _get_optout_lists(self):
        """The lists a recipient leaves with the opt-out link; empty when they leave all SMS marketing."""
        self.ensure_one()
        if self.is_list_mailing:
            return self.list_ids
        return self.list_ids.browse()

    def _check_placeholders(self):
        """Render the body (and each A/B version) once, on one record of the audience model, to catch
        broken placeholders."""
        bodies = [body for body in self._get_version_bodies() if "{{" in body]
        if not bodies:
            return
        model = self.recipient_model or CONTACT_MODEL
        sample = self.env["sms.marketing.audience"]._get_env(self)[model].search([], limit=1)
        if sample:
            try:
                for body in bodies:
                    self._render_placeholders(sample.ids, body)
            except UserError as error:
                raise UserError(
                    _("A placeholder of the SMS content cannot be rendered: %(error)s", error=error.args[0])
                ) from error

    def _check_body_rights(self, body):
        """Placeholders are code run by the queue as superuser: only template editors may write them."""
        if not body or self.env.su or "{{" not in body:
            return
        instructions = parse_inline_template(str(body))
        is_dynamic = len(instructions) > 1 or instructions[0][1]
        if is_dynamic and not self.env.user.has_group("mail.group_mail_template_editor"):
            raise AccessError(_("Only users allowed to edit templates can use placeholders in an SMS."))

    @api.model
    def _strip_nul(self, vals):
        """NUL characters mean nothing in an SMS and PostgreSQL refuses them in text: drop them."""
        for fname in ("subject", "body"):
            if isinstance(vals.get(fname), str) and "\x00" in vals[fname]:
                vals[fname] = vals[fname].replace("\x00", "")

    # ------------------------------------------------------------------ queue
    def _refresh_gateway_account(self, gateway):
        """Read the balance and prices of a gateway whose provider keeps the account (not the
        sandbox), so that Send checks the credits against the provider's figures."""
        if gateway.provider_simulated:
            return
        try:
            # sudo: marketers read a gateway; updating its balance and prices is the gateway's own business
            gateway.sudo().action_refresh()
        except UserError as error:
            raise UserError(
                _(
                    "The gateway %(gateway)s cannot be reached to read its balance and prices, so nothing was "
                    "sent. Try again in a moment or ask an administrator to check it. (%(error)s)",
                    gateway=gateway.display_name,
                    error=error.args[0] if error.args else error,
                )
            ) from error
        self.invalidate_recordset(["gateway_balance", "estimated_credits"])

    def _check_can_send(self):
        """Refuse, with a reason a marketer understands, what would fail or be wrong to send."""
        self.ensure_one()
        if self.state not in ("draft", "scheduled"):
            raise UserError(_("Only a draft or scheduled mailing can be sent."))
        if not (self.body or "").strip():
            raise UserError(_("The mailing “%(subject)s” has no SMS content.", subject=self.subject))
        if self.is_list_mailing and not self.list_ids:
            raise UserError(_("Select at least one mailing list to send “%(subject)s” to.", subject=self.subject))
        # A large audience: classifying and pricing it by country takes seconds (7 s at
        # 1,000,000), and Send must answer at once. Send then checks that someone will
        # receive it and that the gateway has credits; a shortfall pauses the mailing with
        # its reason, and the form's estimate shows the full count and price beforehand.
        large = self.env["sms.marketing.audience"]._is_large(self)
        if large:
            self._check_audience_quick()
        else:
            self._check_audience()
        self._check_ab_test(large)
        self._check_placeholders()
        gateway = self._get_gateway()
        if not gateway:
            raise UserError(_("No SMS gateway is configured: ask an administrator to set one up."))
        if large:
            self._check_credits_quick(gateway)
        else:
            self._check_credits(gateway)

    def _check_audience(self):
        """Send's check of the audience: a valid filter and someone to send to, counted in full."""
        # The computed audience fields: one statistics query, shared with the
        # credit estimate (estimated_credits reads the same fields).
        self.invalidate_recordset(["audience_error", "audience_to_send", "audience_by_country", "estimated_credits"])
        self._raise_no_audience(self.audience_error, self.audience_to_send)

    def _check_audience_quick(self):
        """Send's check of a large audience: a valid filter and one recipient to send to (LIMIT 1)."""
        audience = self.env["sms.marketing.audience"]
        error = audience._get_filter_error(self)
        self._raise_no_audience(error, not error and audience._has_recipients(self))

    def _raise_no_audience(self, error, has_recipients):
        if error:
            raise UserError(_("The recipient filter is not valid: %(error)s", error=error))
        if not has_recipients:
            raise UserError(_("No recipient will receive “%(subject)s”: check its recipients.", subject=self.subject))

    def _check_credits(self, gateway):
        """Each gateway must pay for the messages its routes give it, by the provider's own figures."""
        for payer, credits in self._get_credit_estimate(gateway)["by_gateway"].items():
            if not payer:
                continue
            self._refresh_gateway_account(payer)
            if payer.balance >= credits:
                continue
            # formatted outside _(): the translation extractor evaluates the call's string tokens
            needed, balance = pricing.format_credits(self.env, credits), pricing.format_credits(self.env, payer.balance)
            raise UserError(
                _(
                    "Not enough credits: “%(subject)s” needs about %(needed)s credits, and %(gateway)s has "
                    "%(balance)s. Buy credits, or reduce the audience or the length of the SMS.",
                    subject=self.subject,
                    needed=needed,
                    gateway=payer.display_name,
                    balance=balance,
                )
            )

    def _check_credits_quick(self, gateway):
        """Send's credit check for a large audience: the gateway has credits left."""
        if gateway.balance <= 0:
            raise UserError(
                _(
                    "Not enough credits: %(gateway)s has no credits left. Buy credits before sending “%(subject)s”.",
                    gateway=gateway.display_name,
                    subject=self.subject,
                )
            )

    def _trigger_queue(self, at=None):
        self.env["sms.marketing.engine"]._trigger_senders(at)

    @api.model
    def _cron_process_queue(self):
        """Entry point of the queue cron: the sending engine works for a bounded time."""
        return self.env["sms.marketing.engine"]._run()

    @api.model
    def _run_sending_worker(self, time_budget=None, loop=False, idle_sleep=1.0, batch_size=None):
        """The queue's loop from any process (e.g. ``odoo-bin shell``); see ``sms.marketing.engine._run``."""
        return self.env["sms.marketing.engine"]._run(
            time_budget=time_budget, loop=loop, idle_sleep=idle_sleep, batch_size=batch_size
        )

    # ---- templates and campaigns
    @api.onchange("template_id")
    def _onchange_template_id(self):
        """A template picked on a draft fills its content, model and opt-out option (it replaces a
        text already typed, and says so)."""
        if not self.template_id or self.state != "draft":
            return None
        values = self.template_id._get_mailing_values()
        replaced = (self.body or "").strip() and (self.body or "").strip() != (values["body"] or "").strip()
        self.update(values)
        if replaced:
            return {
                "warning": {
                    "title": _("SMS content replaced"),
                    "message": _(
                        "The content of the template “%(template)s” replaced the text you had written. "
                        "Discard your changes to get it back.",
                        template=self.template_id.name,
                    ),
                    "type": "notification",
                }
            }
        return None

    @api.constrains("company_id", "campaign_id")
    def _check_campaign_company(self):
        for mailing in self.sudo():  # sudo: the other company's campaign is the one not readable
            company, campaign_company = mailing.company_id, mailing.campaign_id.company_id
            if company and campaign_company and company != campaign_company:
                raise ValidationError(
                    _(
                        "The mailing “%(subject)s” belongs to %(company)s: its campaign must too.",
                        subject=mailing.subject,
                        company=company.name,
                    )
                )

    def action_save_as_template(self):
        """A template of this mailing's content (an A/B test's winning text) and model, opened in a dialog."""
        self.ensure_one()
        if not (self.body or "").strip():
            raise UserError(_("Write the SMS content before saving it as a template."))
        Template = self.env["sms.marketing.template"]
        template = Template.create(Template._prepare_from_mailing(self))
        return {
            "type": "ir.actions.act_window",
            "name": _("SMS Template"),
            "res_model": "sms.marketing.template",
            "res_id": template.id,
            "view_mode": "form",
            "target": "new",
        }
