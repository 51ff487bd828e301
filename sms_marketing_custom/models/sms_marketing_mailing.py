"""SMS mailing: one SMS campaign, from the draft a marketer writes to its sending.

What: the marketer picks recipients (mailing lists, or any SMS-enabled model
filtered with Odoo's domain editor), writes the text (the form counts
characters, encoding and SMS parts as the gateway will), sees the audience and
the credits it will take per country, then sends now or schedules.

How: this file is the core (fields, form computes, actions, guards).
Other parts extend it with ``_inherit`` in their own files:
``sms_marketing_mailing_audience.py`` (``_get_recipients_query`` and
``_get_recipient_statistics``), ``sms_marketing_mailing_sending.py`` (the queue
cron), ``sms_marketing_mailing_statistics.py`` (counters) and the link tracker
(``sms_link_length``, ``sms_optout_suffix``, ``_apply_tracking``).

Caveats: the queue does the sending; no action here sends anything inside the
user's request. Placeholders are rendered by Odoo's own ``inline_template``
engine (``mail.render.mixin``); because the cron renders as superuser, only
users allowed to edit dynamic templates may save a body with placeholders.
"""

from datetime import timedelta

import psycopg2
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import format_datetime
from odoo.tools.rendering_tools import parse_inline_template

from ..tools.links import find_urls
from ..tools.sms_encoding import count_segments

CONTACT_MODEL = "sms.marketing.contact"
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
    }
)
LOCKED_STATES = ("sending", "paused", "done", "canceled")
# Schedules a little in the past (the time to click) are accepted.
SCHEDULE_TOLERANCE = timedelta(minutes=1)


class SmsMarketingMailing(models.Model):
    _name = "sms.marketing.mailing"
    _description = "SMS Mailing"
    _inherit = ["mail.thread", "mail.activity.mixin"]
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
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("scheduled", "Scheduled"),
            ("sending", "Sending"),
            ("paused", "Paused"),
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
    recipient_model_id = fields.Many2one(
        "ir.model",
        string="Recipients",
        ondelete="cascade",
        required=True,
        domain=[("is_sms_marketing_enabled", "=", True)],
        default=lambda self: self.env["ir.model"]._get_id(CONTACT_MODEL),
    )
    recipient_model = fields.Char(related="recipient_model_id.model", string="Recipients Model")
    is_list_mailing = fields.Boolean(compute="_compute_is_list_mailing")
    list_ids = fields.Many2many("sms.marketing.list", string="Mailing Lists")
    domain = fields.Char(
        string="Filter",
        compute="_compute_domain",
        store=True,
        readonly=False,
        precompute=True,
        help="Which records of the chosen model receive the SMS.",
    )
    # content
    body = fields.Text(string="SMS Content")
    include_optout = fields.Boolean(string="Include opt-out link", default=True)
    # sms_link_length and sms_optout_suffix (what a link and the opt-out add) come from
    # sms_marketing_mailing_links.py
    sms_encoding = fields.Char(string="Encoding", compute="_compute_sms_counts")
    sms_segments = fields.Integer(string="SMS Parts", compute="_compute_sms_counts")
    sms_units = fields.Integer(string="Length", compute="_compute_sms_counts")
    # schedule and gateway
    schedule_type = fields.Selection([("now", "Send now"), ("scheduled", "On a date")], default="now", required=True)
    schedule_date = fields.Datetime(string="Scheduled for", tracking=True, copy=False)
    gateway_id = fields.Many2one("sms.marketing.gateway", help="Empty: the company's default gateway.")
    gateway_balance = fields.Float(string="Credits Available", compute="_compute_estimate", digits=(16, 2))
    # audience, live (not stored: follows the filter as it is edited)
    audience_total = fields.Integer(string="Records", compute="_compute_audience")
    audience_to_send = fields.Integer(string="Will Receive", compute="_compute_audience")
    audience_invalid = fields.Integer(string="Invalid Numbers", compute="_compute_audience")
    audience_excluded = fields.Integer(string="Blacklisted or Opted Out", compute="_compute_audience")
    audience_duplicates = fields.Integer(string="Duplicates", compute="_compute_audience")
    audience_error = fields.Char(compute="_compute_audience")
    audience_by_country = fields.Json(compute="_compute_audience")
    # price estimate
    estimated_credits = fields.Float(compute="_compute_estimate", digits=(16, 2))
    estimate_html = fields.Html(string="Estimate by Country", compute="_compute_estimate", sanitize=False)
    trace_ids = fields.One2many("sms.marketing.trace", "mailing_id", string="Traces")

    # ------------------------------------------------------------------ computes
    @api.model
    def _group_expand_states(self, states, domain, order):
        return [key for key, _label in self._fields["state"].selection]

    @api.depends("recipient_model")
    def _compute_is_list_mailing(self):
        for mailing in self:
            mailing.is_list_mailing = mailing.recipient_model in (False, CONTACT_MODEL)

    @api.depends("recipient_model_id")
    def _compute_domain(self):
        for mailing in self:
            model = mailing.recipient_model_id.model
            mailing.domain = self._get_default_recipient_domain(model) if model and model != CONTACT_MODEL else "[]"

    @api.depends("body", "include_optout", "sms_link_length", "sms_optout_suffix")
    def _compute_sms_counts(self):
        for mailing in self:
            info = count_segments(mailing._get_sms_text_to_count())
            mailing.sms_encoding = info.encoding
            mailing.sms_segments = info.segments
            mailing.sms_units = info.units

    @api.depends("recipient_model_id", "list_ids", "domain")
    def _compute_audience(self):
        for mailing in self:
            stats, error = mailing._get_audience_statistics()
            mailing.audience_error = error
            mailing.audience_total = stats["total"]
            mailing.audience_to_send = stats["to_send"]
            mailing.audience_invalid = stats["invalid"]
            mailing.audience_excluded = stats["blacklisted"] + stats["opted_out"]
            mailing.audience_duplicates = stats["duplicates"]
            mailing.audience_by_country = stats["by_country"]

    @api.depends("audience_by_country", "audience_to_send", "sms_segments", "gateway_id", "company_id")
    def _compute_estimate(self):
        for mailing in self:
            gateway = mailing._get_gateway()
            estimate = mailing._get_credit_estimate(gateway)
            mailing.gateway_balance = gateway.balance if gateway else 0.0
            mailing.estimated_credits = estimate["credits"]
            mailing.estimate_html = mailing._render_estimate_html(gateway, estimate)

    # ------------------------------------------------------------------ constraints
    @api.constrains("company_id", "list_ids", "gateway_id")
    def _check_company_consistency(self):
        # check_company=True would need company_id in the form for users without the multi-company group
        for mailing in self.sudo():  # sudo: the other company's records are exactly the ones not readable
            company = mailing.company_id
            if not company:
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
        for mailing in self:
            if not mailing.is_list_mailing:
                mailing._parse_domain()

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._strip_nul(vals)
            self._check_body_rights(vals.get("body"))
        return super().create(vals_list)

    def write(self, vals):
        self._strip_nul(vals)
        if "body" in vals:
            self._check_body_rights(vals["body"])
        locked = LOCKED_FIELDS.intersection(vals)
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
        return super().write(vals)

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
        self.write({"state": "scheduled", "schedule_type": "now", "schedule_date": now})
        self._trigger_queue(now)
        return True

    def action_schedule(self):
        """Queue the mailing at its ``schedule_date``; without one, ask for it."""
        self.ensure_one()
        if not self.schedule_date:
            return self.action_open_schedule_wizard()
        if self.schedule_date < fields.Datetime.now() - SCHEDULE_TOLERANCE:
            raise UserError(
                _("The scheduled date %(date)s is in the past.", date=format_datetime(self.env, self.schedule_date))
            )
        self._check_can_send()
        self.write({"state": "scheduled", "schedule_type": "scheduled"})
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
            "context": {"default_mailing_id": self.id, "default_schedule_date": self.schedule_date},
        }

    def action_cancel(self):
        """Stop a mailing: nothing more is sent (the queue skips canceled mailings)."""
        if any(mailing.state == "done" for mailing in self):
            raise UserError(_("A mailing that has been sent can no longer be canceled."))
        self.write({"state": "canceled"})
        return True

    def action_draft(self):
        """Back to draft, only while nothing has been sent."""
        for mailing in self:
            if mailing.state not in ("scheduled", "canceled") or mailing.trace_ids[:1]:
                raise UserError(
                    _("The mailing “%(subject)s” has started: duplicate it instead.", subject=mailing.subject)
                )
        self.write({"state": "draft"})
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
        """The gateway's price per segment, by country."""
        self.ensure_one()
        gateway = self._get_gateway()
        if not gateway:
            raise UserError(_("No SMS gateway is configured: ask an administrator to set one up."))
        return {
            "type": "ir.actions.act_window",
            "name": _("Prices of %(gateway)s", gateway=gateway.display_name),
            "res_model": "sms.marketing.gateway.price",
            "views": [(self.env.ref("sms_marketing_custom.sms_marketing_gateway_price_view_tree_info").id, "tree")],
            "domain": [("gateway_id", "=", gateway.id)],
            "target": "new",
            "context": {"create": False, "edit": False, "delete": False},
        }

    # ------------------------------------------------------------------ business
    def _render_placeholders(self, res_ids):
        """Render the body for each recipient record: {res_id: text}.

        Placeholders (``{{ object.name }}``) go through Odoo's inline_template
        engine with ``object`` the recipient record of ``recipient_model``. A
        body without "{{" is returned as is for every id, without touching
        any record (the common case, and the fast one).
        """
        self.ensure_one()
        body = self.body or ""
        res_ids = list(res_ids)
        if "{{" not in body:
            return dict.fromkeys(res_ids, body)
        model = self.recipient_model or CONTACT_MODEL
        # mail.render.mixin is an abstract model: its @api.model rendering is
        # Odoo's safe engine (safe_eval of each expression, sandboxed).
        return self.env["mail.render.mixin"]._render_template(body, model, res_ids, engine="inline_template")

    def _get_gateway(self):
        """The gateway this mailing sends through: its own, else the company's default."""
        self.ensure_one()
        if self.gateway_id:
            return self.gateway_id
        return self.env["sms.marketing.gateway"]._get_default(self.company_id or self.env.company)

    def _get_sms_text_to_count(self):
        """The body as it will be counted: each URL as a tracked short link, plus the opt-out text."""
        self.ensure_one()
        body = self.body or ""
        parts, position = [], 0
        for start, end, _url in find_urls(body):
            parts.append(body[position:start])
            parts.append("x" * self.sms_link_length)
            position = end
        parts.append(body[position:])
        text = "".join(parts)
        if self.include_optout and text:
            text += self.sms_optout_suffix or ""
        return text

    def _get_audience_statistics(self):
        """(statistics, error): the audience helper's statistics, made safe for a form being edited.

        A filter being edited can be invalid for a moment: the form then shows
        the reason instead of failing.
        """
        self.ensure_one()
        empty = dict.fromkeys(("total", "valid", "invalid", "blacklisted", "opted_out", "duplicates", "to_send"), 0)
        empty["by_country"] = {}
        if not self.recipient_model_id:
            return empty, False
        try:
            self._parse_domain()
            with self.env.cr.savepoint():
                stats = self._get_recipient_statistics()
        except (UserError, ValidationError, AccessError, ValueError, SyntaxError) as error:
            return empty, str(error.args[0] if error.args else error)
        except psycopg2.Error as error:  # rolled back by the savepoint; the form shows why
            return empty, _("The recipients cannot be counted: %(error)s", error=error.diag.message_primary)
        return {**empty, **stats, "by_country": dict(stats.get("by_country") or {})}, False

    def _get_credit_estimate(self, gateway):
        """Segments and credits this audience takes, by country.

        ``{"credits": float, "segments": int, "lines": [(country_code, recipients, price, credits)]}``;
        a country without its own price takes the gateway's price for every
        other country, else 1 credit per segment.
        """
        self.ensure_one()
        segments = self.sms_segments
        prices, default_price = {}, 1.0
        if gateway:
            for price in gateway.price_ids:
                if price.country_id:
                    prices[price.country_id.code] = price.price
                else:
                    default_price = price.price
        lines = []
        for code, count in sorted((self.audience_by_country or {}).items(), key=lambda item: -item[1]):
            price = prices.get(code, default_price)
            lines.append((code or False, count, price, count * segments * price))
        counted = sum(line[1] for line in lines)
        if self.audience_to_send > counted:
            # recipients whose country is not known (the statistics may not break them down)
            rest = self.audience_to_send - counted
            lines.append((False, rest, default_price, rest * segments * default_price))
        return {"credits": sum(line[3] for line in lines), "segments": segments, "lines": lines}

    def _render_estimate_html(self, gateway, estimate):
        if not estimate["lines"]:
            return False
        countries = {
            country.code: country.name
            for country in self.env["res.country"].search([("code", "in", [line[0] for line in estimate["lines"]])])
        }
        rows = Markup("").join(
            Markup(
                "<tr><td>%s</td><td class='text-end'>%s</td><td class='text-end'>%s</td>"
                "<td class='text-end'>%s</td></tr>"
            )
            % (
                countries.get(code) or code or _("Other countries"),
                count,
                f"{price:g}",
                f"{credits:,.2f}",
            )
            for code, count, price, credits in estimate["lines"]
        )
        head = Markup(
            "<table class='table table-sm o_sms_marketing_estimate'><thead><tr><th>%s</th>"
            "<th class='text-end'>%s</th><th class='text-end'>%s</th><th class='text-end'>%s</th></tr></thead>"
        ) % (_("Country"), _("Recipients"), _("Credits per SMS part"), _("Credits"))
        foot = Markup(
            "<tfoot><tr><th>%s</th><th class='text-end'>%s</th><th></th><th class='text-end'>%s</th></tr></tfoot>"
            "</table>"
        ) % (
            _("Total (%(parts)s SMS parts each)", parts=estimate["segments"]),
            self.audience_to_send,
            f"{estimate['credits']:,.2f}",
        )
        return head + Markup("<tbody>") + rows + Markup("</tbody>") + foot

    def _check_can_send(self):
        """Refuse, with a reason a marketer understands, what would fail or be wrong to send."""
        self.ensure_one()
        if self.state not in ("draft", "scheduled"):
            raise UserError(_("Only a draft or scheduled mailing can be sent."))
        if not (self.body or "").strip():
            raise UserError(_("The mailing “%(subject)s” has no SMS content.", subject=self.subject))
        if self.is_list_mailing and not self.list_ids:
            raise UserError(_("Select at least one mailing list to send “%(subject)s” to.", subject=self.subject))
        # The computed audience fields: one statistics query, shared with the
        # credit estimate below (estimated_credits reads the same fields).
        self.invalidate_recordset(["audience_error", "audience_to_send", "audience_by_country", "estimated_credits"])
        if self.audience_error:
            raise UserError(_("The recipient filter is not valid: %(error)s", error=self.audience_error))
        if not self.audience_to_send:
            raise UserError(_("No recipient will receive “%(subject)s”: check its recipients.", subject=self.subject))
        self._check_placeholders()
        gateway = self._get_gateway()
        if not gateway:
            raise UserError(_("No SMS gateway is configured: ask an administrator to set one up."))
        credits = self.estimated_credits
        if gateway.balance < credits:
            # formatted outside _(): the translation extractor evaluates the call's string tokens
            needed, balance = f"{credits:,.2f}", f"{gateway.balance:,.2f}"
            raise UserError(
                _(
                    "Not enough credits: “%(subject)s” needs about %(needed)s credits, and %(gateway)s has "
                    "%(balance)s. Buy credits, or reduce the audience or the length of the SMS.",
                    subject=self.subject,
                    needed=needed,
                    gateway=gateway.display_name,
                    balance=balance,
                )
            )

    def _check_placeholders(self):
        """Render the body once, on one record of the audience model, to catch broken placeholders."""
        if "{{" not in (self.body or ""):
            return
        model = self.recipient_model or CONTACT_MODEL
        sample = self.env[model].search([], limit=1)
        if sample:
            try:
                self._render_placeholders(sample.ids)
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

    def _trigger_queue(self, at):
        cron = self.env.ref("sms_marketing_custom.ir_cron_sms_marketing_process_queue", raise_if_not_found=False)
        if cron:
            cron._trigger(at)

    def _parse_domain(self):
        """The recipient filter as a list, checked against the model, or a ValidationError a marketer can read."""
        self.ensure_one()
        domain = self._get_recipient_domain()  # audience helper: the domain widget's text evaluated safely
        if self.recipient_model:
            Model = self.env[self.recipient_model]
            try:
                # validates field names and operators against the model ...
                Model._where_calc(domain)
                # ... and values: one PostgreSQL refuses ("abc" for a number, a date that
                # is none) is only seen when the query runs
                with self.env.cr.savepoint(flush=False):
                    Model.search_count(domain, limit=1)
            except (ValueError, KeyError, TypeError, IndexError, AssertionError, NotImplementedError) as error:
                raise ValidationError(_("The recipient filter is not valid: %(error)s", error=error)) from error
            except psycopg2.Error as error:
                raise ValidationError(
                    _(
                        "The recipient filter is not valid: a value does not fit its field (%(error)s).",
                        error=error.diag.message_primary or error.pgcode,
                    )
                ) from error
        return list(domain)

    @api.model
    def _get_default_recipient_domain(self, model_name):
        """Default filter offered when a model is chosen: the one of its SMS configuration."""
        config = self.env["sms.marketing.recipient.model"]._get_for_model(model_name)
        return config.domain or "[]"

    # ------------------------------------------------------------------ sending
    def _cron_process_queue(self):
        """Entry point of the queue cron (implemented by the sending engine)."""
        return True
