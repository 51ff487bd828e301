"""A mailing's UTM campaign, source and medium, and the sales it brought.

Defaults, as Odoo's own mailings (mass_mailing): the source is the mailing's
own, named after its subject (``utm.source._generate_name``), created with it
and never copied; the medium is "SMS" (``_get_sms_utm_medium``); the campaign
is its SMS campaign's UTM campaign. Each may be changed by hand; the
source is unique per mailing, so that an order's source names one mailing.
A journey step's system mailing takes the step's (or its journey's) UTM
campaign and medium (models/sms_marketing_journey.py).
"""

from urllib.parse import urlencode, urlsplit, urlunsplit

from odoo import _, api, fields, models
from odoo.exceptions import AccessError


class SmsMarketingMailing(models.Model):
    _name = "sms.marketing.mailing"
    _inherit = ["sms.marketing.mailing", "sms.marketing.sale.figures"]

    utm_campaign_id = fields.Many2one(
        "utm.campaign",
        string="UTM Campaign",
        compute="_compute_utm_campaign_id",
        store=True,
        readonly=False,
        ondelete="set null",
        help="Added to the pages the tracked links open (utm_campaign); by default the SMS campaign's.",
    )
    utm_source_id = fields.Many2one(
        "utm.source",
        string="UTM Source",
        copy=False,
        ondelete="restrict",
        index="btree_not_null",
        help="Added to the pages the tracked links open (utm_source): the orders placed from them are this "
        "mailing's. Created from the subject.",
    )
    utm_medium_id = fields.Many2one(
        "utm.medium",
        string="UTM Medium",
        compute="_compute_utm_medium_id",
        store=True,
        readonly=False,
        ondelete="set null",
        help="Added to the pages the tracked links open (utm_medium); SMS by default.",
    )
    utm_link_tracking = fields.Boolean(
        string="UTM Parameters on Links",
        default=True,
        help="Tracked links open their page with utm_campaign, utm_source and utm_medium added (parameters "
        "already in the URL are kept), so that Odoo attributes the visit, the quotations and the orders.",
    )

    _sql_constraints = [
        ("utm_source_unique", "unique(utm_source_id)", "Each mailing has its own UTM source."),
    ]

    @api.depends("campaign_id.utm_campaign_id")
    def _compute_utm_campaign_id(self):
        for mailing in self:
            mailing.utm_campaign_id = mailing.campaign_id.utm_campaign_id or mailing.utm_campaign_id

    @api.depends("campaign_id.utm_medium_id")
    def _compute_utm_medium_id(self):
        sms = self._get_sms_utm_medium()
        for mailing in self:
            mailing.utm_medium_id = mailing.campaign_id.utm_medium_id or mailing.utm_medium_id or sms

    @api.depends_context("uid")
    def _compute_sale_figures(self):
        """Every mailing of the batch in one query on the campaign analysis."""
        Report = self.env["sms.marketing.campaign.report"]
        figures = Report._get_sale_figures([mid for mid in self.ids if isinstance(mid, int)])
        for mailing in self:
            values = figures.get(mailing._origin.id, {})
            mailing.sale_currency_id = (mailing.company_id or self.env.company).currency_id
            mailing.sale_quotation_count = values.get("sale_quotation_count", 0)
            mailing.sale_order_count = values.get("sale_order_count", 0)
            mailing.sale_revenue = values.get("sale_revenue", 0.0)

    @api.model_create_multi
    def create(self, vals_list):
        if any(vals.get("utm_source_id") for vals in vals_list):
            self._check_utm_source_change()
        mailings = super().create(vals_list)
        mailings._ensure_utm_values()
        return mailings

    def write(self, vals):
        if "utm_source_id" in vals:
            self._check_utm_source_change()
        return super().write(vals)

    def _check_utm_source_change(self):
        """Only SMS marketing managers choose a mailing's UTM source: the orders of a source are the
        mailing's, so whoever picks any source (with the schedule date) reads its sales of any period."""
        if not self.env.su and not self.env.user.has_group("sms_marketing_custom.group_sms_marketing_manager"):
            raise AccessError(_("Only SMS marketing managers can change the UTM source of a mailing."))

    # ------------------------------------------------------------------ actions
    def action_view_sale_quotations(self):
        return self._action_view_orders(_("Quotations"), [("state", "in", ("draft", "sent"))])

    def action_view_sale_orders(self):
        return self._action_view_orders(_("Orders"), [("state", "=", "sale")])

    def _action_view_orders(self, name, domain):
        # called over RPC with any ids: only the mailings the user may read tell which orders they brought
        self.check_access_rights("read")
        self.check_access_rule("read")
        ids = self.env["sms.marketing.campaign.report"]._get_attributed_order_ids(self.ids)
        action = self.env["ir.actions.act_window"]._for_xml_id("sale.action_orders")
        action.update(name=name, domain=[("id", "in", ids), *domain], context={"create": False})
        return action

    # ------------------------------------------------------------------ tools
    @api.model
    def _get_sms_utm_medium(self):
        """The "SMS" medium: Odoo's SMS Marketing's when installed, else the one of that name, else a new one."""
        medium = self.env.ref("mass_mailing_sms.utm_medium_sms", raise_if_not_found=False)
        if not medium:
            # sudo: a marketer may find or create this shared reference value
            medium = self.env["utm.mixin"].sudo()._find_or_create_record("utm.medium", "SMS")
        return medium.with_env(self.env)

    def _ensure_utm_values(self):
        """Mailings without a source get their own (named after the subject), without a medium SMS."""
        missing = self.filtered(lambda mailing: not mailing.utm_source_id)
        Source = self.env["utm.source"].sudo()  # sudo: the source is the mailing's, whoever creates it
        sources = Source.create([{"name": Source._generate_name(mailing, mailing.subject)} for mailing in missing])
        for mailing, source in zip(missing, sources, strict=True):
            mailing.sudo().utm_source_id = source  # sudo: its own new source, not a choice of the user
        without_medium = self.filtered(lambda mailing: not mailing.utm_medium_id)
        if without_medium:
            without_medium.utm_medium_id = self._get_sms_utm_medium()

    def _get_utm_url(self, url):
        """``url`` with the mailing's UTM parameters, as Odoo's link_tracker redirects: the URL's own
        parameters win, nothing is added when the mailing's UTM tracking is off, nor to another site's
        URL when the system parameter ``link_tracker.no_external_tracking`` is set."""
        if len(self) != 1 or not self.utm_link_tracking:
            return url
        parts = urlsplit(url)
        external = parts.netloc != urlsplit(self.get_base_url()).netloc
        if external and self.env["ir.config_parameter"].sudo().get_param("link_tracker.no_external_tracking"):
            return url
        present = {pair.partition("=")[0] for pair in parts.query.split("&")}
        utms = [
            (parameter, self[f"utm_{fname}"].name)
            for parameter, fname, _cookie in self.env["utm.mixin"].tracking_fields()
            if self[f"utm_{fname}"] and parameter not in present
        ]
        if not utms:
            return url
        query = "&".join(filter(None, [parts.query, urlencode(utms)]))
        return urlunsplit(parts._replace(query=query))
