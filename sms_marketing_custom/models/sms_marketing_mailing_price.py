"""The mailing's price: what its audience's messages cost, before it is sent.

``_get_credit_estimate`` (per country and gateway: the parts of each message,
from ``_render_messages`` for up to ``PLACEHOLDER_EXACT_LIMIT`` recipients,
else a sample, and the gateway's ``_get_prices`` with ``tools.pricing``, the
same as the engine charges) is the one definition used by the form, Send's
confirmation and Send's credit check (docs/design.md, "One definition of
each rule").
"""

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL
from odoo.tools.misc import formatLang

from ..tools import pricing
from ..tools.sms_encoding import count_segments
from .sms_marketing_mailing import FILTER_ERRORS

# Above this many recipients, a body with placeholders is rendered for a
# spread sample of the audience only (the parts range and credits are then an
# estimate); up to it, every message is rendered and the estimate is exact.
PLACEHOLDER_EXACT_LIMIT = 1000


class SmsMarketingMailing(models.Model):
    _inherit = "sms.marketing.mailing"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------ fields
    gateway_balance = fields.Float(string="Credits Available", compute="_compute_estimate", digits=(16, 2))
    estimated_credits = fields.Float(compute="_compute_estimate", digits=(16, 2))
    sms_segments_min = fields.Integer(string="Fewest SMS Parts", compute="_compute_estimate")
    sms_segments_max = fields.Integer(string="Most SMS Parts", compute="_compute_estimate")
    estimate_sampled = fields.Boolean(
        compute="_compute_estimate", help="The placeholders were rendered for a sample of the audience only."
    )
    estimate_html = fields.Html(string="Estimate by Country", compute="_compute_estimate", sanitize=False)
    gateway_prices_html = fields.Html(
        string="Prices per SMS Part", compute="_compute_gateway_prices_html", sanitize=False
    )

    # ------------------------------------------------------------------ computes
    @api.depends(
        "audience_by_country", "audience_to_send", "sms_segments", "body", "include_optout", "gateway_id", "company_id"
    )
    @api.depends_context("uid", "allowed_company_ids")
    def _compute_estimate(self):
        for mailing in self:
            gateway = mailing._get_gateway()
            estimate = mailing._get_credit_estimate(gateway)
            mailing.gateway_balance = gateway.balance if gateway else 0.0
            mailing.estimated_credits = estimate["credits"]
            mailing.sms_segments_min = estimate["segments_min"]
            mailing.sms_segments_max = estimate["segments_max"]
            mailing.estimate_sampled = estimate["sampled"]
            mailing.estimate_html = mailing._render_estimate_html(estimate)

    @api.depends("gateway_id", "company_id")
    @api.depends_context("uid", "allowed_company_ids", "lang")
    def _compute_gateway_prices_html(self):
        # shown in the form itself: opening them changes nothing (a button would save the mailing)
        Send = self.env["sms.marketing.mailing.send"]
        for mailing in self:
            gateway = mailing._get_gateway()
            mailing.gateway_prices_html = Send._render_prices_html(gateway) if gateway else False

    # ------------------------------------------------------------------ price
    def _get_gateway(self):
        """The gateway this mailing sends through: its own, else the company's default."""
        self.ensure_one()
        if self.gateway_id:
            return self.gateway_id
        return self.env["sms.marketing.gateway"]._get_default(self.company_id or self.env.company)

    def _get_credit_estimate(self, gateway):
        """Parts and credits this audience takes (``_get_body_estimate``); for an A/B test, the costliest
        version sent to the whole audience (the winner is not known yet), the parts range over all versions."""
        self.ensure_one()
        bodies = self._get_version_bodies()
        if len(bodies) < 2:
            return self._get_body_estimate(gateway)
        estimates = [self._get_body_estimate(gateway, body) for body in bodies]
        costliest = dict(max(estimates, key=lambda estimate: estimate["credits"]))
        costliest["segments_min"] = min(estimate["segments_min"] for estimate in estimates)
        costliest["segments_max"] = max(estimate["segments_max"] for estimate in estimates)
        return costliest

    def _get_body_estimate(self, gateway, body=None):
        """Parts and credits this audience takes with ``body`` (default: the mailing's), by country,
        priced as the engine charges.

        ``{"credits", "segments_min", "segments_max", "sampled",
        "lines": [(country_code, recipients, price, credits)]}`` with the
        gateway's ``_get_prices`` (a country without its own price takes the
        gateway's price for other countries) and ``pricing.message_cost`` per
        message, so that it equals what the sending spends when every message
        is accepted (``_get_parts_distribution``).
        """
        self.ensure_one()
        gateway_of = self._get_route_gateways(gateway)
        prices_of = {}
        by_gateway = {}
        distribution, sampled = self._get_parts_distribution(body)
        lines = []
        for code, parts in sorted(distribution.items(), key=lambda item: -sum(item[1].values())):
            routed = gateway_of(code)
            if routed.id not in prices_of:
                prices_of[routed.id] = routed._get_prices() if routed else {False: pricing.FALLBACK_PRICE}
            price = pricing.price_for(prices_of[routed.id], code)
            count = round(sum(parts.values()))
            credits = sum(n * pricing.message_cost(segments, price) for segments, n in parts.items())
            lines.append((code or False, count, price, credits))
            by_gateway[routed] = by_gateway.get(routed, 0.0) + credits
        all_parts = {segments for parts in distribution.values() for segments in parts}
        if not all_parts:  # no one to send to: the preview's parts
            own_body = body is None or body == self.body
            all_parts = {self.sms_segments if own_body else self._get_preview_segments(body)}
        return {
            "credits": round(sum(line[3] for line in lines), pricing.LEDGER_DIGITS),
            "segments_min": min(all_parts),
            "segments_max": max(all_parts),
            "sampled": sampled,
            "lines": lines,
            "by_gateway": by_gateway,
        }

    def _get_route_gateways(self, gateway):
        """country code -> the gateway its messages go through: the routes' choice
        (sms.marketing.gateway.route) when the mailing has no gateway of its own, else ``gateway``."""
        Route = self.env["sms.marketing.gateway.route"]
        company = self.company_id or self.env.company
        if self.gateway_id or not Route._has_routes(company):
            return lambda code: gateway
        cache = {}

        def gateway_of(code):
            if code not in cache:
                cache[code] = Route._get_gateway(company, code or False) or gateway
            return cache[code]

        return gateway_of

    def _get_preview_segments(self, body):
        """SMS parts of the preview of ``body`` (an A/B version's text)."""
        return count_segments(self._get_preview(body)[0] or "").segments

    def _get_parts_distribution(self, body=None):
        """({country code or False: {SMS parts: recipients}}, sampled) of the recipients to send to,
        with ``body`` (an A/B version's text; default: the mailing's).

        Without placeholders every message has the preview's parts (tokens
        have a fixed length). With placeholders, the messages of up to
        ``PLACEHOLDER_EXACT_LIMIT`` recipients are rendered as the engine
        renders them (``_render_messages``); above, a spread sample of that
        size is, and each country's recipients are split like its sample
        (the whole sample for a country it misses).
        """
        self.ensure_one()
        own_body = body is None or body == self.body
        body = (self.body if body is None else body) or ""
        segments = self.sms_segments if own_body else self._get_preview_segments(body)
        by_country = dict(self.audience_by_country or {})
        rest = self.audience_to_send - sum(by_country.values())
        if rest > 0:  # recipients whose country is not known
            by_country[False] = by_country.get(False, 0) + rest
        if not body.strip():  # nothing to send yet (Send refuses it): no part, no credit, as the counter says
            return {code: {0: count} for code, count in by_country.items() if count}, False
        if "{{" not in body or not by_country:
            by_lang = self._get_sendable_langs() if self.include_optout and by_country else None
            if by_lang:
                return self._get_parts_by_lang(by_lang, body), False
            return {code: {segments: count} for code, count in by_country.items() if count}, False
        rows = self.env["sms.marketing.audience"]._get_sendable_rows(self, limit=PLACEHOLDER_EXACT_LIMIT, sample=True)
        sampled = len(rows) < self.audience_to_send
        mailing = self.with_context(sms_marketing_preview=True)
        samples, overall = {}, {}
        for start in range(0, len(rows), 200):
            chunk = rows[start : start + 200]
            try:
                texts = mailing._render_messages(list(range(len(chunk))), [row[0] for row in chunk], body)
            except UserError:
                # a broken placeholder: Send refuses it with the reason; count the preview's parts
                return {code: {segments: count} for code, count in by_country.items() if count}, False
            for index, (_res_id, code) in enumerate(chunk):
                segments = count_segments(texts[index]).segments
                country = samples.setdefault(code or False, {})
                country[segments] = country.get(segments, 0) + 1
                overall[segments] = overall.get(segments, 0) + 1
        if not sampled:
            return samples, False
        distribution = {}
        for code, count in by_country.items():
            sample = samples.get(code) or overall
            size = sum(sample.values())
            distribution[code] = {segments: count * n / size for segments, n in sample.items()}
        return distribution, True

    def _get_sendable_langs(self):
        """{(country code or False, language or None): recipients} when the recipient model has a
        language (the opt-out line is in it), else None."""
        self.ensure_one()
        column = self._get_lang_column()
        if column is None:
            return None
        Model = self.env[self.recipient_model]
        Model.flush_model(["lang"])
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    SQL(
                        """SELECT c.country_code, %s, count(*) FROM (%s) c JOIN %s ON %s = c.res_id
                            WHERE c.reason IS NULL GROUP BY 1, 2""",
                        column,
                        self.env["sms.marketing.audience"]._get_classified_query(self),
                        SQL.identifier(Model._table),
                        SQL.identifier(Model._table, "id"),
                    )
                )
                rows = self.env.cr.fetchall()
        except (*FILTER_ERRORS, KeyError, TypeError, psycopg2.Error):
            return None
        return {(code or False, lang or None): count for code, lang, count in rows}

    def _get_parts_by_lang(self, by_lang, body):
        """{country: {parts: recipients}} of ``body`` without placeholders whose opt-out line
        follows each recipient's language (one message laid out per language)."""
        mailing = self.with_context(sms_marketing_preview=True)
        parts_of_lang, distribution = {}, {}
        for (code, lang), count in by_lang.items():
            if lang not in parts_of_lang:
                text = mailing._apply_tracking([0], {0: body}, {0: lang})[0]
                parts_of_lang[lang] = count_segments(text).segments
            country = distribution.setdefault(code, {})
            country[parts_of_lang[lang]] = country.get(parts_of_lang[lang], 0) + count
        return distribution

    def _render_estimate_html(self, estimate):
        if not estimate["lines"]:
            return False
        countries = self.env["res.country"]._sms_marketing_by_code(line[0] for line in estimate["lines"])
        lines = [
            {
                "country": countries[code].name if code in countries else code or _("Other countries"),
                "count": formatLang(self.env, count, digits=0),
                "price": pricing.format_credits(self.env, price),
                "credits": pricing.format_credits(self.env, credits),
            }
            for code, count, price, credits in estimate["lines"]
        ]
        return self.env["ir.qweb"]._render(
            "sms_marketing_custom.mailing_estimate_table",
            {
                "lines": lines,
                "total_label": _("Total (SMS parts per message: %(parts)s)", parts=self._format_parts_range(estimate)),
                "count": formatLang(self.env, self.audience_to_send, digits=0),
                "credits": pricing.format_credits(self.env, estimate["credits"]),
            },
        )

    @api.model
    def _format_parts_range(self, estimate):
        """ "2", or "1 to 3" when placeholders make the messages of different lengths."""
        low, high = estimate["segments_min"], estimate["segments_max"]
        return str(low) if low == high else _("%(low)s to %(high)s", low=low, high=high)
