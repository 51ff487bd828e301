import json
import logging

from werkzeug.wrappers import Response

from odoo import http
from odoo.http import request

_logger = logging.getLogger(__name__)


class SmsMarketingStatusController(http.Controller):
    @http.route(
        "/sms_marketing/status/<int:gateway_id>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def sms_marketing_status(self, gateway_id, **kwargs):
        """Delivery reports of a gateway, signed with its webhook secret (DESIGN.md).

        An unknown gateway and a bad signature get the same bare 403.
        """
        body = request.httprequest.get_data(cache=False)
        signature = request.httprequest.headers.get("X-Signature", "")
        # sudo: a public route; the HMAC signature is the authentication
        gateway = request.env["sms.marketing.gateway"].sudo().browse(gateway_id).exists()
        if not gateway or not gateway._check_signature(body, signature):
            return Response(status=403)
        try:
            statuses = json.loads(body or b"{}").get("statuses") or []
        except (ValueError, AttributeError):
            return Response(status=400)
        count = gateway._process_statuses(statuses if isinstance(statuses, list) else [])
        return Response(json.dumps({"updated": count}), status=200, content_type="application/json")
