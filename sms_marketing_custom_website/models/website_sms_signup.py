"""A website sign-up to an SMS list: the request of the "Get our SMS offers" block.

What: the public form asks for a number, a country and a ticked consent for
one list offered on the website. The number is sent an SMS asking for YES
(the JOIN keyword's pending request, ``sms.marketing.join.request``); the
YES subscribes it, and the consent given on the website is logged then with
its evidence (page, text shown, time, IP: ``_log_consent``).

How: the route only validates and inserts a row here (``_submit``), and
answers the same page whatever becomes of it; a cron (triggered at once)
sends the SMS (``_cron_send_confirmations``): already subscribed or
blacklisted numbers get nothing, so neither the answer nor its time tell
what the number is. Rows are also the flood guard, limits in system
parameters: attempts per address (1 hour; an IPv6 address counts as its /64,
which one subscriber line gets whole: ``ip_key``), per number (24 hours), and
the JOIN SMS a company's forms may send in an hour, whoever asks (the form
cannot be used to send paid SMS to many numbers from many addresses). Rows older than
``KEEP_DAYS`` are deleted (the evidence of a consent lives in the join
request and the consent log).

Caveats: a STOPped (blacklisted) number is never sent the question: its
owner texts START or JOIN. A visitor behind a shared address (office, mobile
carrier NAT) shares its IP limit.
"""

import ipaddress
import logging
import threading
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.addons.sms_marketing_custom.tools import phone as phone_tools
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

IP_LIMIT_PARAM = "sms_marketing_custom_website.signup_limit_per_ip"  # per hour
NUMBER_LIMIT_PARAM = "sms_marketing_custom_website.signup_limit_per_number"  # per 24 hours
COMPANY_LIMIT_PARAM = "sms_marketing_custom_website.signup_limit_per_company"  # JOIN SMS per hour
DEFAULT_IP_LIMIT = 10
DEFAULT_NUMBER_LIMIT = 3
DEFAULT_COMPANY_LIMIT = 100
DEFAULT_LIMITS = {
    IP_LIMIT_PARAM: DEFAULT_IP_LIMIT,
    NUMBER_LIMIT_PARAM: DEFAULT_NUMBER_LIMIT,
    COMPANY_LIMIT_PARAM: DEFAULT_COMPANY_LIMIT,
}
COMPANY_WINDOW = timedelta(hours=1)
IP_WINDOW = timedelta(hours=1)
NUMBER_WINDOW = timedelta(hours=24)
KEEP_DAYS = 30
CRON_BATCH = 200
# bounds of what a visitor sends (the route refuses a larger body before reading it)
MAX_PHONE = 32
MAX_URL = 2048


class WebsiteSmsSignup(models.Model):
    _name = "website.sms.signup"
    _description = "Website SMS Sign-up"
    _order = "id desc"
    _rec_name = "number"

    number = fields.Char(readonly=True, index=True, help="E.164; empty when the visitor typed no valid number.")
    ip = fields.Char(string="IP Address", required=True, readonly=True)
    ip_key = fields.Char(
        string="Address Counted",
        compute="_compute_ip_key",
        store=True,
        index=True,
        help="What the limit per address counts: the IPv4 address, or the /64 network of an IPv6 address.",
    )
    list_id = fields.Many2one("sms.marketing.list", string="Mailing List", ondelete="cascade", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    lang = fields.Char(readonly=True)
    page_url = fields.Char(string="Page", readonly=True)
    consent_text = fields.Text(readonly=True, help="The consent text the visitor was shown and ticked.")
    state = fields.Selection(
        [
            ("queued", "To Send"),
            ("sent", "Asked for YES"),
            ("subscribed", "Already Subscribed"),
            ("blacklisted", "Blacklisted"),
            ("limited", "Too Many Requests"),
            ("invalid", "Invalid Number"),
            ("failed", "Not Sent"),
        ],
        required=True,
        readonly=True,
        default="queued",
    )
    join_request_id = fields.Many2one("sms.marketing.join.request", ondelete="set null", readonly=True)

    @api.depends("ip")
    def _compute_ip_key(self):
        for signup in self:
            signup.ip_key = ip_key(signup.ip)

    # ------------------------------------------------------------------ public entry
    @api.model
    def _submit(self, sms_list, raw_number, country_code, ip, page_url, lang):
        """Record a sign-up of the form (called by the public route, as superuser).

        Returns "flood" when ``ip`` made too many attempts (nothing recorded), "invalid" for a number
        that cannot be read, else "ok": queued, or refused because the number asked too often, which
        the visitor is not told (nobody learns what happens to someone else's number).
        """
        company = sms_list.company_id or self.env.company
        # one attempt of an address, then of a company, at a time: two requests at once cannot both pass a limit
        key = ip_key(ip)
        for lock in (f"website.sms.signup:{key}", f"website.sms.signup.company:{company.id}"):
            self.env.cr.execute(SQL("SELECT pg_advisory_xact_lock(hashtext(%s))", lock))
        since = fields.Datetime.now() - IP_WINDOW
        if self.search_count([("ip_key", "=", key), ("create_date", ">=", since)]) >= self._get_limit(IP_LIMIT_PARAM):
            return "flood"
        if self._is_company_limit_reached(company):
            _logger.info("website sign-up: company %s reached its hourly limit of JOIN SMS", company.id)
            return "flood"
        number = phone_tools.normalize((raw_number or "")[:MAX_PHONE], country_code).e164
        values = {
            "ip": ip,
            "list_id": sms_list.id,
            "company_id": company.id,
            "lang": lang,
            "page_url": (page_url or "")[:MAX_URL],
            "consent_text": sms_list.website_consent_text,
        }
        if not number:
            self.create({**values, "state": "invalid"})
            return "invalid"
        since = fields.Datetime.now() - NUMBER_WINDOW
        limited = self.search_count([("number", "=", number), ("create_date", ">=", since)]) >= self._get_limit(
            NUMBER_LIMIT_PARAM
        )
        self.create({**values, "number": number, "state": "limited" if limited else "queued"})
        if not limited:
            self.env.ref("sms_marketing_custom_website.ir_cron_website_sms_signup")._trigger()
        return "ok"

    # ------------------------------------------------------------------ sending
    @api.model
    def _cron_send_confirmations(self):
        """Ask each queued number for its YES, through the gateway of its country."""
        signups = self.search([("state", "=", "queued")], order="id", limit=CRON_BATCH)
        for signup in signups:
            signup._send_confirmation()
            if not self.env.registry.in_test_mode() and not getattr(threading.current_thread(), "testing", False):
                # each SMS is sent once: its outcome is kept before the next provider call (the cron
                # owns its transaction; never in tests)
                self.env.cr.commit()  # pylint: disable=invalid-commit
        if len(signups) == CRON_BATCH:
            self.env.ref("sms_marketing_custom_website.ir_cron_website_sms_signup")._trigger()

    def _send_confirmation(self):
        self.ensure_one()
        company, sms_list = self.company_id, self.list_id
        Subscription = self.env["sms.marketing.subscription"]
        contacts = self.env["sms.marketing.contact"]._find_by_numbers([self.number])
        if not sms_list:
            self.state = "failed"
        elif Subscription.search_count(
            [("contact_id", "in", contacts.ids), ("list_id", "=", sms_list.id), ("opt_out", "=", False)], limit=1
        ):
            self.state = "subscribed"
        elif self.env["sms.marketing.blacklist"]._get_blacklisted_numbers([self.number]):
            self.state = "blacklisted"
        else:
            country = phone_tools.country_of(self.number)
            gateway = self.env["sms.marketing.gateway.route"]._get_gateway(company, country) or self.env[
                "sms.marketing.gateway"
            ]._get_default(company)
            if not gateway:
                _logger.warning("website sign-up %s: no SMS gateway for company %s", self.id, company.id)
                self.state = "failed"
                return
            request = self.env["sms.marketing.join.request"]._request_list(
                self.number, sms_list, gateway, company, self._get_evidence()
            )
            content = company._get_sms_marketing_reply("join", self.lang or company.partner_id.lang, sms_list.name)
            results = self.env["sms.marketing.blacklist"]._send_keyword_replies(
                gateway, [{"number": self.number, "content": content}]
            )
            sent = any(
                self.env["sms.marketing.trace"]._get_outcome(result.get("state"))[0] == "sent" for result in results
            )
            self.write({"join_request_id": request.id, "state": "sent" if sent else "failed"})

    # ------------------------------------------------------------------ consent
    def _get_evidence(self):
        """What the visitor saw and did, as the join request and the consent log keep it."""
        self.ensure_one()
        return _(
            "Website form on %(page)s at %(date)s UTC from IP %(ip)s; text shown and ticked: %(text)s",
            page=self.page_url or "?",
            date=fields.Datetime.to_string(self.create_date),
            ip=self.ip,
            text=self.consent_text or "",
        )

    def _log_consent(self, confirmation):
        """The opt-in given on the website, logged when the YES (``confirmation``) confirms it (the log
        dates it then; the evidence says when it was given). The one call of this addon to the consent
        log: events of the form's own, beside the keyword event the YES logs."""
        events = [
            {
                "number": signup.number,
                "event": "opt_in",
                "source": "form",
                "list_id": signup.list_id.id,
                "company_id": signup.company_id.id,
                "gateway_id": signup.join_request_id.gateway_id.id,
                "evidence": f"{signup._get_evidence()}\n{confirmation}",
            }
            for signup in self
        ]
        self.env["sms.marketing.consent"].sudo()._log(events)

    # ------------------------------------------------------------------ tools
    @api.model
    def _is_company_limit_reached(self, company):
        """True when ``company``'s forms asked for as many YES (sent or to send) in the last hour as allowed."""
        since = fields.Datetime.now() - COMPANY_WINDOW
        domain = [("company_id", "=", company.id), ("state", "in", ("queued", "sent")), ("create_date", ">=", since)]
        return self.search_count(domain) >= self._get_limit(COMPANY_LIMIT_PARAM)

    @api.model
    def _get_limit(self, param):
        value = self.env["ir.config_parameter"].sudo().get_param(param, "")
        return int(value) if value.strip().isdigit() else DEFAULT_LIMITS[param]

    @api.autovacuum
    def _gc_signups(self):
        self.search([("create_date", "<", fields.Datetime.now() - timedelta(days=KEEP_DAYS))]).unlink()


def ip_key(ip):
    """What the limit per address counts for ``ip``: an IPv4 address itself (also written as IPv6), the /64
    network of an IPv6 address (a subscriber gets a whole /64 and may use any address of it), anything
    unreadable as it is."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return ip
    if address.version == 6 and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
