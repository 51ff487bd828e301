from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import request

from ..models.website_sms_signup import MAX_PHONE

# a sign-up is a few short fields: anything larger is refused before its body is read
MAX_BODY = 4096
HONEYPOT = "website_url"  # a field people do not see (off-screen, not focusable) and robots fill


class SmsMarketingSignup(http.Controller):
    def _get_list(self, list_id):
        """The list a visitor may join: one offered on the website, of the website's company or none;
        ``0`` is the first such list (a block whose list was never chosen)."""
        website = request.website
        domain = [("website_signup", "=", True), ("company_id", "in", [website.company_id.id, False])]
        if list_id:
            domain.append(("id", "=", list_id))
        # sudo: visitors read nothing of the lists but the name and the consent text shown to them
        return request.env["sms.marketing.list"].sudo().search(domain, limit=1)

    @http.route("/sms_marketing/signup/form", type="http", auth="public", website=True, methods=["GET"], sitemap=False)
    def sms_marketing_signup_form(self, list_id=0, **kwargs):
        """The form of the "Get our SMS offers" block, with this visitor's CSRF token (the block's HTML is
        saved in the page, so the form is fetched by the block's script)."""
        sms_list = self._get_list(int(list_id) if str(list_id).isdigit() else -1)
        if not sms_list:
            raise NotFound()
        countries = request.env["res.country"].sudo().search([("phone_code", "!=", 0)])
        country_code = (request.geoip.country_code or request.website.company_id.country_id.code or "").upper()
        response = request.render(
            "sms_marketing_custom_website.signup_form",
            {
                "sms_list": sms_list,
                "countries": countries,
                "country_code": country_code,
                "honeypot": HONEYPOT,
                "max_phone": MAX_PHONE,
            },
        )
        response.headers["Cache-Control"] = "no-store"  # it holds the visitor's CSRF token
        return response

    # csrf: as Odoo's website forms, the form carries the session's token (checked by Odoo before this runs);
    # max_content_length: Odoo answers 413 to a larger body before reading it
    @http.route(
        "/sms_marketing/signup",
        type="http",
        auth="public",
        website=True,
        methods=["POST"],
        sitemap=False,
        max_content_length=MAX_BODY,
    )
    def sms_marketing_signup(self, **post):
        sms_list = self._get_list(int(post["list_id"]) if str(post.get("list_id", "")).isdigit() else -1)
        if not sms_list:
            raise NotFound()
        values = {"sms_list": sms_list}
        if post.get(HONEYPOT) or not post.get("consent"):
            # a robot (or a form without the ticked box, which browsers do not send): the same answer, nothing done
            return request.render("sms_marketing_custom_website.signup_done", values)
        country_id = str(post.get("country_id") or "")
        country = request.env["res.country"].sudo().browse(int(country_id) if country_id.isdigit() else [])
        outcome = (
            request.env["website.sms.signup"]
            .sudo()  # sudo: the public user records the sign-up; nothing of it is read back
            ._submit(
                sms_list,
                post.get("phone", ""),
                country.exists().code,
                request.httprequest.remote_addr,
                post.get("page_url") or request.httprequest.referrer or "",
                request.lang.code,
            )
        )
        if outcome == "flood":
            return request.render("sms_marketing_custom_website.signup_flood", values, status=429)
        if outcome == "invalid":
            return request.render("sms_marketing_custom_website.signup_invalid", values, status=400)
        return request.render("sms_marketing_custom_website.signup_done", values)
