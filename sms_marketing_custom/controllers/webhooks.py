from urllib.parse import urlencode

from werkzeug.exceptions import LengthRequired, RequestEntityTooLarge
from werkzeug.wrappers import Response

from odoo import http
from odoo.http import request

# A batch of delivery reports fits many times over. Odoo applies a route's max_content_length
# before it parses the body (a form's included): a larger declared body gets 413, neither
# parsed nor kept (werkzeug reads it away in small chunks).
MAX_WEBHOOK_BODY = 256 * 1024
WEBHOOK_ROUTE = {
    "type": "http",
    "auth": "public",
    "methods": ["POST"],
    "csrf": False,
    "save_session": False,
    "max_content_length": MAX_WEBHOOK_BODY,
}
RAW_BODY_KEY = "sms_marketing.raw_body"  # the body read once, for Odoo's retry of the request


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
        """The request's body as the provider sent it, at most ``MAX_WEBHOOK_BODY`` bytes (413 beyond).

        Odoo parses a form-encoded body (Twilio, Vonage) before the route runs,
        which consumes the stream: the body is then rebuilt from the parsed
        form, with every value of every name (what the providers sign); none
        of it is read as a webhook before the provider verified it. A body
        must say its length: a chunked one, which could be read without end,
        gets 411 unread (the providers all send Content-Length).
        """
        httprequest = request.httprequest
        environ = httprequest.environ
        if RAW_BODY_KEY in environ:  # Odoo retries the request after a serialization failure
            return environ[RAW_BODY_KEY]
        if httprequest.content_length is None and httprequest.headers.get("Transfer-Encoding"):
            raise LengthRequired()
        if (httprequest.content_length or 0) > MAX_WEBHOOK_BODY:
            raise RequestEntityTooLarge()
        raw = httprequest.get_data(cache=False)  # Content-Length bytes at most
        if not raw and httprequest.mimetype == "application/x-www-form-urlencoded" and httprequest.form:
            raw = urlencode(list(httprequest.form.items(multi=True))).encode()
        if len(raw) > MAX_WEBHOOK_BODY:
            raise RequestEntityTooLarge()
        environ[RAW_BODY_KEY] = raw
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
