from werkzeug.wrappers import Response

from odoo import http
from odoo.http import request

WEBHOOK_ROUTE = {"type": "http", "auth": "public", "methods": ["POST"], "csrf": False, "save_session": False}


class SmsMarketingWebhooks(http.Controller):
    """The providers' signed webhooks (docs/design.md): delivery reports and inbound SMS (STOP/START).

    Each provider posts in its own format and signature scheme; the gateway's
    provider checks and reads the call (``sms.marketing.gateway._route_webhook``).
    """

    @http.route("/sms_marketing/status/<int:gateway_id>", **WEBHOOK_ROUTE)
    def sms_marketing_status(self, gateway_id, **kwargs):
        return self._answer(gateway_id, "statuses")

    @http.route("/sms_marketing/inbound/<int:gateway_id>", **WEBHOOK_ROUTE)
    def sms_marketing_inbound(self, gateway_id, **kwargs):
        return self._answer(gateway_id, "messages")

    def _answer(self, gateway_id, kind):
        status, answer = request.env["sms.marketing.gateway"]._route_webhook(
            gateway_id,
            request.httprequest.get_data(cache=False),
            dict(request.httprequest.headers),
            request.httprequest.url,
            kind,
        )
        if answer is None:
            return Response(status=status)  # errors reveal nothing
        return request.make_json_response(answer, status=status)
