from odoo import api, models


class ResCountry(models.Model):
    _inherit = "res.country"

    @api.model
    def _sms_marketing_by_code(self, codes):
        """{ISO code: country} of ``codes``, empty and unknown codes left out: one search for the
        numbers' countries of a whole recordset (a trace's, a contact's number)."""
        codes = {code for code in codes if code}
        return {country.code: country for country in self.search([("code", "in", list(codes))])} if codes else {}
