"""Send's confirmation, and the gateway's prices, of one mailing.

What the marketer confirms is what is sent: the recipients, the SMS parts
and the credits come from the mailing's own definitions (audience,
``_get_credit_estimate``), the balance from the gateway just refreshed by
Send's check. Confirming calls ``mailing.action_send_now()``, the one entry
point that queues the sending.
"""

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.tools import format_datetime

from ..tools import pricing, quiet_hours


def _hour_text(hour):
    """9.5 -> "09:30" (a float time field, as the form shows it)."""
    hours, minutes = divmod(round(hour * 60), 60)
    return f"{hours:02d}:{minutes:02d}"


class SmsMarketingMailingSend(models.TransientModel):
    _name = "sms.marketing.mailing.send"
    _description = "SMS Mailing Send Confirmation"

    mailing_id = fields.Many2one("sms.marketing.mailing", required=True, ondelete="cascade")
    recipient_count = fields.Integer(string="Recipients", compute="_compute_summary")
    parts_text = fields.Char(string="SMS Parts per Message", compute="_compute_summary")
    parts_each_text = fields.Char(string="SMS Parts (Wording)", compute="_compute_summary")
    credits = fields.Float(compute="_compute_summary", digits=(16, 2))
    balance = fields.Float(string="Credits Available", compute="_compute_summary", digits=(16, 2))
    balance_after = fields.Float(string="Credits After Sending", compute="_compute_summary", digits=(16, 2))
    gateway_name = fields.Char(string="Gateway", compute="_compute_summary")
    estimate_sampled = fields.Boolean(compute="_compute_summary")
    estimate_html = fields.Html(string="Estimate by Country", compute="_compute_summary", sanitize=False)
    prices_html = fields.Html(string="Prices", compute="_compute_prices_html", sanitize=False)
    window_note = fields.Char(string="Sending Window", compute="_compute_window_note")

    @api.depends("mailing_id")
    def _compute_summary(self):
        for wizard in self:
            mailing = wizard.mailing_id
            gateway = mailing._get_gateway() if mailing else mailing
            estimate = mailing._get_credit_estimate(gateway) if mailing else None
            wizard.recipient_count = mailing.audience_to_send
            wizard.parts_text = mailing._format_parts_range(estimate) if estimate else ""
            # the word after the number: singular for a message of one part, as the form's counter says
            single = bool(estimate) and estimate["segments_max"] == 1
            wizard.parts_each_text = _("SMS part each, for") if single else _("SMS parts each, for")
            wizard.credits = estimate["credits"] if estimate else 0.0
            wizard.estimate_sampled = bool(estimate and estimate["sampled"])
            wizard.balance = gateway.balance if gateway else 0.0
            wizard.balance_after = wizard.balance - wizard.credits
            wizard.gateway_name = gateway.display_name if gateway else ""
            wizard.estimate_html = mailing._render_estimate_html(estimate) if estimate else False

    @api.depends("mailing_id")
    def _compute_window_note(self):
        """What the sending window does to this Send, said before it is confirmed: a window closed now
        (in the company's zone, the one most recipients share) means the messages wait."""
        for wizard in self:
            mailing = wizard.mailing_id
            if not mailing or not mailing.quiet_hours:
                wizard.window_note = False
                continue
            hours = {"start": _hour_text(mailing.window_start), "end": _hour_text(mailing.window_end)}
            zone = mailing._get_fallback_time_zone()
            now = fields.Datetime.now()
            args = (mailing.window_start, mailing.window_end, mailing.window_no_sunday)
            opening = quiet_hours.next_opening(zone, now, *args)
            if opening == now:
                wizard.window_note = _(
                    "SMS leave only between %(start)s and %(end)s in each recipient's time zone.", **hours
                )
            else:
                wizard.window_note = _(
                    "The sending window (%(start)s-%(end)s, each recipient's time) is closed now in %(zone)s: "
                    "the messages wait until it opens (%(opening)s there).",
                    zone=zone,
                    # in the zone the note names, in the user's language's format (as Odoo's lists show dates)
                    opening=format_datetime(self.env, opening, tz=zone, dt_format=False) if opening else "-",
                    **hours,
                )

    @api.depends("mailing_id")
    def _compute_prices_html(self):
        for wizard in self:
            gateway = wizard.mailing_id._get_gateway() if wizard.mailing_id else False
            wizard.prices_html = wizard._render_prices_html(gateway) if gateway else False

    def _render_prices_html(self, gateway):
        """The gateway's ``_get_prices``: a line per country, then "Other countries" (the default)."""
        prices = gateway._get_prices()
        countries = self.env["res.country"]._sms_marketing_by_code(prices)
        lines = sorted(
            ((countries[code].name if code in countries else code, price) for code, price in prices.items() if code)
        )
        lines.append((_("Other countries"), prices[False]))
        rows = Markup("").join(
            Markup("<tr><td>%s</td><td class='text-end'>%s</td></tr>") % (name, pricing.format_credits(self.env, price))
            for name, price in lines
        )
        return Markup(
            "<table class='table table-sm o_sms_marketing_prices'><thead><tr><th>%s</th>"
            "<th class='text-end'>%s</th></tr></thead><tbody>%s</tbody></table>"
        ) % (_("Country"), _("Credits per SMS part"), rows)

    def action_confirm(self):
        """Send: the mailing's own entry point, which checks everything again."""
        self.ensure_one()
        self.mailing_id.action_send_now()
        return {"type": "ir.actions.act_window_close"}
