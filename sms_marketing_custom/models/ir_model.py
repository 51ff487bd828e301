from odoo import api, fields, models

from . import sms_marketing_engagement as engagement

# the enabled models' names, cached on the cursor while the registry is set up
ENABLED_MODELS_KEY = "sms_marketing_enabled_models"


class IrModel(models.Model):
    _inherit = "ir.model"

    is_sms_marketing_enabled = fields.Boolean(
        string="SMS-enabled",
        compute="_compute_is_sms_marketing_enabled",
        search="_search_is_sms_marketing_enabled",
        help="Records of this model can receive SMS mailings (see SMS Marketing > Configuration).",
    )

    @api.depends_context("uid")
    def _compute_is_sms_marketing_enabled(self):
        # sudo: which models are enabled is not secret, the configuration is manager-only
        enabled = set(self.env["sms.marketing.recipient.model"].sudo().search([]).mapped("model_id").ids)
        for model in self:
            model.is_sms_marketing_enabled = model.id in enabled

    def _search_is_sms_marketing_enabled(self, operator, value):
        enabled = self.env["sms.marketing.recipient.model"].sudo().search([]).mapped("model_id").ids
        positive = (operator == "=") == bool(value)
        return [("id", "in" if positive else "not in", enabled)]


class IrModelFields(models.Model):
    _inherit = "ir.model.fields"

    def _add_manual_fields(self, model):
        result = super()._add_manual_fields(model)
        # the engagement filters of the models an administrator enabled (models/sms_marketing_engagement.py)
        cache = self.env.cr.cache
        if ENABLED_MODELS_KEY not in cache:
            cache[ENABLED_MODELS_KEY] = engagement.get_enabled_models(self.env.cr)
        engagement.setup_engagement_fields(model, cache[ENABLED_MODELS_KEY])
        return result
