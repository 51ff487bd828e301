from urllib.parse import urlencode

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

    @staticmethod
    def _raw_body():
        """The request's body as the provider sent it.

        Odoo parses a form-encoded body (Twilio, Vonage) before the route runs,
        which consumes the stream: the body is then rebuilt from the parsed
        form, with every value of every name (what the providers sign).
        """
        httprequest = request.httprequest
        raw = httprequest.get_data(cache=False)
        if not raw and httprequest.mimetype == "application/x-www-form-urlencoded" and httprequest.form:
            raw = urlencode(list(httprequest.form.items(multi=True))).encode()
        return raw

    def _answer(self, gateway_id, kind):
        Gateway = request.env["sms.marketing.gateway"]
        status, answer = Gateway._route_webhook(
            gateway_id,
            self._raw_body(),
            dict(request.httprequest.headers),
            request.httprequest.url,
            kind,
        )
        if answer is None:
            return Response(status=status)  # errors reveal nothing
        own = Gateway._webhook_response(gateway_id, kind, answer)
        if own:
            body, content_type = own
            return Response(body, status=status, content_type=content_type)
        return request.make_json_response(answer, status=status)
