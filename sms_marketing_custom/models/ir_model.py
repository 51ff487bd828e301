from odoo import api, fields, models


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
