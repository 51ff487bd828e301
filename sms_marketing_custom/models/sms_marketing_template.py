"""SMS template: a reusable SMS text, for one recipient model, to start a mailing from.

What: a marketer saves a text that works (placeholders, links, opt-out line)
and starts the next mailing from it (the mailing's "Start from template"), or
saves a mailing's text as a template ("Save as Template" on the mailing).

How: a template holds no rule of its own. Its form shows the same counter,
preview and price as the mailing form because they are read from an
in-memory mailing (``_get_sample_mailing``: ``sms.marketing.mailing.new``
with the template's body, model, opt-out choice and sample recipient): the
mailing's ``_get_preview``, ``_compute_sms_counts`` and
``_get_credit_estimate`` are the only definitions. Who may write placeholders
is the mailing's ``_check_body_rights``.

Caveats: the price is the cost of one message to the sample recipient (its
country, its language's opt-out line, the company's default gateway and
routes); a sample that cannot receive SMS (no valid number, blacklisted) has
no price.
"""

from odoo import _, api, fields, models

from .sms_marketing_recipient_model import CONTACT_MODEL

# the form fields of a mailing that a template fills, and "Save as Template" reads
TEMPLATE_FIELDS = ("body", "include_optout", "recipient_model_id")


class SmsMarketingTemplate(models.Model):
    _name = "sms.marketing.template"
    _inherit = ["sms.marketing.recipient.choice.mixin"]
    _description = "SMS Template"
    _order = "name, id"

    name = fields.Char(required=True, translate=False)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    recipient_model_id = fields.Many2one(help="The model of the records the placeholders are rendered on.")
    recipient_choice = fields.Selection(
        string="Recipients Type",
        help="Mailing List, or another SMS-enabled model: the records the placeholders are rendered on.",
    )
    body = fields.Text(string="SMS Content", required=True)
    include_optout = fields.Boolean(string="Include opt-out link", default=True)
    mailing_count = fields.Integer(string="Mailings", compute="_compute_mailing_count")
    # the counter, preview and price of the mailing form, for a sample recipient
    preview_ref = fields.Reference(
        selection="_selection_preview_models",
        string="Preview For",
        compute="_compute_preview_ref",
        store=True,
        readonly=False,
        copy=False,
        help="The recipient whose SMS the preview shows (by default the first one a mailing would send to).",
    )
    sms_link_length = fields.Integer(string="Tracked Link Length", compute="_compute_sms")
    sms_optout_suffix = fields.Char(string="Opt-out Text", compute="_compute_sms")
    sms_preview = fields.Text(string="Preview", compute="_compute_sms")
    sms_preview_html = fields.Html(string="SMS Preview", compute="_compute_sms", sanitize=False)
    sms_preview_error = fields.Char(compute="_compute_sms")
    sms_encoding = fields.Char(string="Encoding", compute="_compute_sms")
    sms_segments = fields.Integer(string="SMS Parts", compute="_compute_sms")
    sms_units = fields.Integer(string="Length", compute="_compute_sms")
    sample_country_id = fields.Many2one("res.country", compute="_compute_sms")
    sample_credits = fields.Float(
        string="Credits per Message",
        compute="_compute_sms",
        digits=(16, 4),
        help="What one message to the sample recipient costs with the company's default gateway.",
    )
    sample_gateway_id = fields.Many2one("sms.marketing.gateway", string="Gateway", compute="_compute_sms")

    # ------------------------------------------------------------------ computes
    def _compute_mailing_count(self):
        counts = {}
        if self.ids:
            counts = dict(
                self.env["sms.marketing.mailing"]._read_group(
                    [("template_id", "in", self.ids)], ["template_id"], ["__count"]
                )
            )
        for template in self:
            template.mailing_count = counts.get(template, 0)

    @api.depends("recipient_model_id")
    def _compute_preview_ref(self):
        for template in self:
            res_id = template._get_default_sample_id()
            template.preview_ref = f"{template.recipient_model},{res_id}" if res_id else False

    @api.depends("body", "include_optout", "preview_ref", "recipient_model_id", "company_id")
    @api.depends_context("uid", "allowed_company_ids", "lang")
    def _compute_sms(self):
        for template in self:
            mailing = template._get_sample_mailing()
            template.sms_link_length = mailing.sms_link_length
            template.sms_optout_suffix = mailing.sms_optout_suffix
            template.sms_preview = mailing.sms_preview
            template.sms_preview_html = mailing.sms_preview_html
            template.sms_preview_error = mailing.sms_preview_error
            template.sms_encoding = mailing.sms_encoding
            template.sms_segments = mailing.sms_segments
            template.sms_units = mailing.sms_units
            price = template._get_sample_price(mailing)
            template.sample_country_id = price["country"]
            template.sample_credits = price["credits"]
            template.sample_gateway_id = price["gateway"]

    # ------------------------------------------------------------------ the mailing's rules
    def _get_sample_mailing(self, res_id=None):
        """An in-memory mailing (never saved) of this template's text, whose audience is the sample
        recipient alone: its preview, counter and estimate are the template's."""
        self.ensure_one()
        res_id = res_id if res_id is not None else self._get_preview_res_id()
        values = {
            "subject": self.name or "",
            "body": self.body or "",
            "include_optout": self.include_optout,
            "recipient_model_id": self.recipient_model_id.id,
            "company_id": (self.company_id or self.env.company).id,
            "user_id": self.env.user.id,
            "frequency_cap_count": 0,
            "domain": str([("id", "=", res_id or 0)]),
            "preview_ref": f"{self.recipient_model},{res_id}" if res_id else False,
        }
        if (self.recipient_model or CONTACT_MODEL) == CONTACT_MODEL:
            # a contact receives a list mailing: through the lists it is subscribed to
            contact = self.env[CONTACT_MODEL].browse(res_id) if res_id else self.env[CONTACT_MODEL]
            values["list_ids"] = [(6, 0, contact.list_ids.ids)]
        return self.env["sms.marketing.mailing"].new(values)

    def _get_default_sample_id(self):
        """The first record of the template's model that a mailing would send to (a valid number,
        neither blacklisted nor opted out), as the mailing's own preview does; else the first one."""
        self.ensure_one()
        if not self.recipient_model_id:
            return None
        model = self.recipient_model or CONTACT_MODEL
        Mailing = self.env["sms.marketing.mailing"]
        values = {"recipient_model_id": self.recipient_model_id.id, "frequency_cap_count": 0}
        if model == CONTACT_MODEL:
            values["list_ids"] = [(6, 0, self.env["sms.marketing.list"].search([], limit=100).ids)]
        rows = self.env["sms.marketing.audience"]._get_sendable_rows(Mailing.new(values), limit=1)
        if rows:
            return rows[0][0]
        return self.env[model].search([], limit=1).id or None

    def _get_sample_price(self, mailing):
        """{"credits", "country", "gateway"} of one message to the sample recipient:
        the mailing's estimate (routes, prices, parts) of an audience of that one recipient."""
        self.ensure_one()
        empty = {"credits": 0.0, "country": False, "gateway": False}
        if not self.body or not self._get_preview_res_id() or not mailing.audience_to_send:
            return empty
        gateway = mailing._get_gateway()
        estimate = mailing._get_credit_estimate(gateway)
        if not estimate["lines"]:
            return empty
        code = estimate["lines"][0][0]
        country = self.env["res.country"].search([("code", "=", code)], limit=1) if code else False
        payer = next(iter(estimate["by_gateway"]), gateway)
        return {
            "credits": estimate["credits"],
            "country": country.id if country else False,
            "gateway": payer.id or False,
        }

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        Mailing = self.env["sms.marketing.mailing"]
        for vals in vals_list:
            Mailing._strip_nul(vals)
            Mailing._check_body_rights(vals.get("body"))
        return super().create(vals_list)

    def write(self, vals):
        Mailing = self.env["sms.marketing.mailing"]
        Mailing._strip_nul(vals)
        if "body" in vals:
            Mailing._check_body_rights(vals["body"])
        return super().write(vals)

    def copy(self, default=None):
        self.ensure_one()
        default = dict(default or {})
        default.setdefault("name", _("%(name)s (copy)", name=self.name))
        return super().copy(default)

    # ------------------------------------------------------------------ mailings
    def _get_mailing_values(self):
        """What a mailing started from this template takes from it."""
        self.ensure_one()
        return {"body": self.body, "include_optout": self.include_optout, "recipient_model_id": self.recipient_model_id}

    @api.model
    def _prepare_from_mailing(self, mailing):
        """Values of a template saved from ``mailing``."""
        return {
            "name": mailing.subject,
            "body": mailing._get_winning_body(),
            "include_optout": mailing.include_optout,
            "recipient_model_id": mailing.recipient_model_id.id,
            "company_id": mailing.company_id.id,
            "preview_ref": f"{mailing.preview_ref._name},{mailing.preview_ref.id}" if mailing.preview_ref else False,
        }

    def action_new_mailing(self):
        """A new mailing started from this template."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("New SMS Mailing"),
            "res_model": "sms.marketing.mailing",
            "view_mode": "form",
            "target": "current",
            "context": {"default_template_id": self.id},
        }

    def action_view_mailings(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("sms_marketing_custom.sms_marketing_mailing_action")
        action["domain"] = [("template_id", "=", self.id)]
        action["context"] = {"default_template_id": self.id}
        action["view_mode"] = "tree,kanban,form"
        action["views"] = [(False, "tree"), (False, "kanban"), (False, "form")]
        return action
