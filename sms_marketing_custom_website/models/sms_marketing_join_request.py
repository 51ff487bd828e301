from odoo import api, models


class SmsMarketingJoinRequest(models.Model):
    _inherit = "sms.marketing.join.request"

    @api.model
    def _confirm(self, number, gateway, company, content):
        """The YES of a website sign-up also logs the consent given on the website, with its evidence."""
        request = super()._confirm(number, gateway, company, content)
        if request:
            signup = self.env["website.sms.signup"].sudo().search([("join_request_id", "=", request.id)], limit=1)
            signup._log_consent(content)
        return request
