"""SMS campaign: mailings grouped under one name, with their figures summed.

What: a tag-like record (name, dates, responsible, color) that mailings point
to with their ``campaign_id``; its form and the Reporting menu show the
figures of all its mailings together.

How: the figures are the campaign analysis (``sms.marketing.campaign.report``,
an SQL view with one row per mailing and its trace counts) summed with one
``_read_group`` per batch of campaigns: the same rows the Reporting pivot and
graph show, so that the campaign form and the report cannot disagree.

Caveats: our own model rather than Odoo's ``utm.campaign``, so that the addon
depends on base, mail and web only (docs/design.md). Archived mailings of a
campaign still count: what they spent is spent.
"""

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

# figures summed from the campaign analysis: {campaign field: report field}
SUMMED_FIGURES = {
    "recipient_count": "recipient_count",
    "sent_count": "sent_count",
    "delivered_count": "delivered_count",
    "failed_count": "failed_count",
    "clicked_count": "clicked_count",
    "optout_count": "optout_count",
    "credits_spent": "credits_spent",
}


class SmsMarketingCampaign(models.Model):
    _name = "sms.marketing.campaign"
    _description = "SMS Campaign"
    _order = "date_start desc, id desc"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    color = fields.Integer(string="Color Index")
    date_start = fields.Date(string="Start Date")
    date_end = fields.Date(string="End Date")
    user_id = fields.Many2one(
        "res.users",
        string="Responsible",
        default=lambda self: self.env.user,
        domain="[('share', '=', False)]",
    )
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    description = fields.Text()
    mailing_ids = fields.One2many("sms.marketing.mailing", "campaign_id", string="Mailings")
    # figures, summed over the campaign's mailings (archived ones included)
    mailing_count = fields.Integer(string="Number of Mailings", compute="_compute_figures")
    recipient_count = fields.Integer(string="Recipients", compute="_compute_figures")
    sent_count = fields.Integer(string="SMS Sent", compute="_compute_figures")
    delivered_count = fields.Integer(string="SMS Delivered", compute="_compute_figures")
    failed_count = fields.Integer(string="SMS Failed", compute="_compute_figures")
    clicked_count = fields.Integer(string="Clicked", compute="_compute_figures")
    optout_count = fields.Integer(string="Opted Out", compute="_compute_figures")
    credits_spent = fields.Float(compute="_compute_figures", digits=(16, 4))
    delivered_ratio = fields.Float(string="Delivered (%)", compute="_compute_figures", help="Delivered / sent.")
    failed_ratio = fields.Float(string="Failed (%)", compute="_compute_figures", help="Failed / recipients.")
    clicked_ratio = fields.Float(string="Clicked (%)", compute="_compute_figures", help="Clicked / sent.")
    optout_ratio = fields.Float(string="Opted Out (%)", compute="_compute_figures", help="Opted out / sent.")

    # ------------------------------------------------------------------ figures
    @api.depends_context("uid", "allowed_company_ids")
    def _compute_figures(self):
        """Every figure of a batch of campaigns with one grouped query on the campaign analysis."""
        ids = [cid for cid in self.ids if isinstance(cid, int)]
        rows = {}
        if ids:
            Report = self.env["sms.marketing.campaign.report"]
            aggregates = ["__count", *(f"{fname}:sum" for fname in SUMMED_FIGURES.values())]
            for campaign, *values in Report._read_group([("campaign_id", "in", ids)], ["campaign_id"], aggregates):
                rows[campaign.id] = dict(zip(["mailing_count", *SUMMED_FIGURES], values, strict=True))
        for campaign in self:
            figures = rows.get(campaign._origin.id or campaign.id, {})
            campaign.mailing_count = figures.get("mailing_count", 0)
            for fname in SUMMED_FIGURES:
                campaign[fname] = figures.get(fname) or 0
            sent, total = campaign.sent_count, campaign.recipient_count
            campaign.delivered_ratio = 100.0 * campaign.delivered_count / sent if sent else 0.0
            campaign.failed_ratio = 100.0 * campaign.failed_count / total if total else 0.0
            campaign.clicked_ratio = 100.0 * campaign.clicked_count / sent if sent else 0.0
            campaign.optout_ratio = 100.0 * campaign.optout_count / sent if sent else 0.0

    # ------------------------------------------------------------------ constraints
    @api.constrains("date_start", "date_end")
    def _check_dates(self):
        for campaign in self:
            if campaign.date_start and campaign.date_end and campaign.date_end < campaign.date_start:
                raise ValidationError(_("The campaign “%(name)s” cannot end before it starts.", name=campaign.name))

    @api.constrains("company_id")
    def _check_mailing_company(self):
        # sudo: the other company's mailings are exactly the ones not readable
        for campaign in self.sudo().filtered("company_id"):
            if campaign.with_context(active_test=False).mailing_ids.filtered(
                lambda m, company=campaign.company_id: m.company_id and m.company_id != company
            ):
                raise ValidationError(
                    _(
                        "The campaign “%(name)s” has mailings of another company than %(company)s.",
                        name=campaign.name,
                        company=campaign.company_id.name,
                    )
                )

    # ------------------------------------------------------------------ actions
    def action_view_mailings(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("sms_marketing_custom.sms_marketing_mailing_action")
        action["domain"] = [("campaign_id", "=", self.id)]
        # the count includes the mailings archived since (their figures stay in the campaign's): so does the list
        action["context"] = {"default_campaign_id": self.id, "active_test": False}
        return action

    def _action_view_traces(self, figure):
        """The traces behind one of the form's figures, as the mailing's buttons open them."""
        self.ensure_one()
        # archived mailings count in the figures (their credits are spent): their recipients are listed too
        mailings = self.with_context(active_test=False).mailing_ids
        return self.env["sms.marketing.trace"]._get_figure_action(
            figure, mailings.ids, _("None of this campaign's recipients is in this list for now.")
        )

    def action_view_traces_sent(self):
        return self._action_view_traces("sent")

    def action_view_traces_delivered(self):
        return self._action_view_traces("delivered")

    def action_view_clicks(self):
        return self._action_view_traces("clicked")

    def action_view_optouts(self):
        return self._action_view_traces("optout")

    def action_view_report(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "sms_marketing_custom.sms_marketing_campaign_report_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["context"] = {"pivot_row_groupby": ["mailing_id"]}
        return action
