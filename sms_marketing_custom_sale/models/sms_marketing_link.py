from odoo import api, models


class SmsMarketingLink(models.Model):
    _inherit = "sms.marketing.link"

    @api.model
    def _resolve_click(self, code, token=None):
        """The target URL comes with the mailing's UTM parameters: the page it opens (on this Odoo,
        ``ir.http`` keeps them in cookies) attributes the visit and its orders to the mailing."""
        row = super()._resolve_click(code, token)
        if not row:
            return row
        link_id, url, trace_id = row
        return link_id, self.browse(link_id).mailing_id._get_utm_url(url), trace_id
