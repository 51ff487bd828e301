"""A journey's UTM campaign and medium, which each of its Send steps may replace, and which the
steps' system mailings carry (their links' utm_campaign and utm_medium, the orders they bring).

A step's mailing keeps a UTM source of its own (``sms.marketing.mailing._ensure_utm_values``): an
order's source names the one mailing, hence the step, that brought it (the campaign analysis).
"""

from odoo import api, fields, models


class SmsMarketingJourney(models.Model):
    _inherit = "sms.marketing.journey"

    utm_campaign_id = fields.Many2one(
        "utm.campaign",
        string="UTM Campaign",
        ondelete="set null",
        help="The UTM campaign of the SMS the journey sends (utm_campaign of their links), unless a step "
        "names its own; created with the journey.",
    )
    utm_medium_id = fields.Many2one("utm.medium", string="UTM Medium", ondelete="set null")

    @api.model_create_multi
    def create(self, vals_list):
        journeys = super().create(vals_list)
        journeys._ensure_utm_values()
        return journeys

    def write(self, vals):
        res = super().write(vals)
        if {"utm_campaign_id", "utm_medium_id"} & set(vals):
            self.step_ids._update_mailing_utm()
        return res

    def _ensure_utm_values(self):
        """Journeys without a UTM campaign get one of their name; without a medium, SMS."""
        missing = self.filtered(lambda journey: not journey.utm_campaign_id)
        # sudo: the UTM campaign is the journey's, whoever creates it
        utm_campaigns = self.env["utm.campaign"].sudo().create([{"title": journey.name} for journey in missing])
        for journey, utm_campaign in zip(missing, utm_campaigns, strict=True):
            journey.utm_campaign_id = utm_campaign
        without_medium = self.filtered(lambda journey: not journey.utm_medium_id)
        if without_medium:
            without_medium.utm_medium_id = self.env["sms.marketing.mailing"]._get_sms_utm_medium()


class SmsMarketingJourneyStep(models.Model):
    _inherit = "sms.marketing.journey.step"

    utm_campaign_id = fields.Many2one(
        "utm.campaign",
        string="UTM Campaign",
        ondelete="set null",
        help="The UTM campaign of this step's SMS; empty: the journey's.",
    )
    utm_medium_id = fields.Many2one(
        "utm.medium",
        string="UTM Medium",
        ondelete="set null",
        help="The UTM medium of this step's SMS; empty: the journey's.",
    )

    def write(self, vals):
        res = super().write(vals)
        if {"utm_campaign_id", "utm_medium_id"} & set(vals):
            self._update_mailing_utm()
        return res

    def _get_mailing_values(self):
        return {**super()._get_mailing_values(), **self._get_utm_values()}

    def _get_utm_values(self):
        """The UTM campaign and medium of the step's SMS: the step's own, else its journey's."""
        self.ensure_one()
        journey = self.journey_id
        return {
            "utm_campaign_id": (self.utm_campaign_id or journey.utm_campaign_id).id,
            "utm_medium_id": (self.utm_medium_id or journey.utm_medium_id).id,
        }

    def _update_mailing_utm(self):
        """The next SMS of a step whose UTM values changed carry the new ones."""
        for step in self.filtered("mailing_id"):
            values = {key: value for key, value in step._get_utm_values().items() if value}
            step.mailing_id.sudo().write(values)  # sudo: the step's system mailing follows the step
