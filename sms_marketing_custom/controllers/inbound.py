from odoo import http
from odoo.http import request


class SmsMarketingInbound(http.Controller):
    @http.route(
        "/sms_marketing/inbound/<int:gateway_id>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def sms_marketing_inbound(self, gateway_id, **kwargs):
        """Inbound SMS of a gateway (STOP/START keywords), signed with its webhook secret."""
        status, answer = request.env["sms.marketing.gateway"]._route_inbound(
            gateway_id, request.httprequest.get_data(), request.httprequest.headers.get("X-Signature")
        )
        return request.make_json_response(answer, status=status)
