from odoo import http
from odoo.http import request

from ..tools import links
from ..tools.links import is_bot

# The pages' forms are a few fields (the opt-out choice, the ids of the lists kept): a larger
# body gets 413 from Odoo before it parses it (route max_content_length).
MAX_PAGE_BODY = 64 * 1024
# What the public pages' routes share: anyone may open them, from a link without a session
# (the code or token in the path is the capability, hence no CSRF token).
PAGE_ROUTE = {
    "type": "http",
    "auth": "public",
    "csrf": False,
    "max_content_length": MAX_PAGE_BODY,
}


def _country_code():
    """ISO code of the visitor's country when GeoIP knows it (optional geoip2 + database)."""
    try:
        return request.geoip.country.iso_code
    except (NameError, AttributeError, OSError, ValueError):  # no geoip2 module / database
        return None


class SmsMarketingLinks(http.Controller):
    # Short paths (every character of a link costs SMS length) that no Odoo 17.0 addon routes:
    # link_tracker owns /r/, mass_mailing_sms /sms/ and /r/<code>/s/<id>, Surveys /s and
    # /s/<session_code> (tests/test_route_coexistence.py compares with every route of the Odoo tree).
    # The legacy /s/<code>/<token> keeps the links sent before the click path changed working; its
    # one-segment form is Surveys'. Nothing appended to the path or the query changes the target:
    # the redirect only ever goes to the tracked URL.
    @http.route(
        [
            f"{links.CLICK_PATH}<string:code>",
            f"{links.CLICK_PATH}<string:code>/<path:rest>",
            f"{links.LEGACY_CLICK_PATH}<string:code>/<path:rest>",
        ],
        methods=["GET", "HEAD"],
        save_session=False,
        **PAGE_ROUTE,
    )
    def sms_marketing_click(self, code, rest="", **kwargs):
        # sudo: anonymous visitors follow links; the model only reads the tracker and adds a click
        url = (
            request.env["sms.marketing.link"]
            .sudo()
            ._route_click(
                code,
                rest.partition("/")[0],
                user_agent=request.httprequest.user_agent.string,
                country_code=_country_code(),
                count=request.httprequest.method == "GET",  # link checkers use HEAD
            )
        )
        if not url:
            # our page, in the visitor's language (werkzeug's NotFound is an English page)
            return request.render("sms_marketing_custom.link_not_found", {}, status=404)
        response = request.redirect(url, code=302, local=False)
        response.headers["Cache-Control"] = "no-store"  # count every click, not once per browser
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @http.route(f"{links.OPTOUT_PATH}<string:token>", methods=["GET", "POST"], **PAGE_ROUTE)
    def sms_marketing_optout(self, token, **kwargs):
        # Only a POST records. A GET (a person's tap, a link preview, a mail or SMS scanner posing as
        # a browser) renders the page without recording; for a person the page submits its
        # confirm form at once by script (one tap), with the button as the fallback. A bot's user
        # agent gets no script. The page's other buttons (undo, choice of lists, stop all) POST a
        # ``choice``.
        method = request.httprequest.method
        record = method == "POST"
        auto_submit = method == "GET" and not is_bot(request.httprequest.user_agent.string)
        choice = kwargs.get("choice") if method == "POST" else None
        if choice not in (None, "undo", "lists", "all"):
            choice = None
        keep = request.httprequest.form.getlist("keep_list_ids") if method == "POST" else []
        values = request.env["sms.marketing.trace"]._route_optout(
            token, record=record, choice=choice, keep_list_ids=keep
        )
        if values is None:
            return request.render("sms_marketing_custom.optout_invalid", {}, status=404)
        if values["lang"]:
            request.update_context(lang=values["lang"])
        return request.render(
            "sms_marketing_custom.optout_page", dict(values, optout_path=links.OPTOUT_PATH, auto_submit=auto_submit)
        )
