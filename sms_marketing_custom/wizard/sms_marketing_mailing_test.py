import re

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..providers import SERVER_ERROR, SmsGatewayError
from ..tools import phone as phone_tools
from ..tools import pricing
from ..tools.sms_encoding import segment_count


class SmsMarketingMailingTest(models.TransientModel):
    _name = "sms.marketing.mailing.test"
    _description = "Test SMS Mailing"

    mailing_id = fields.Many2one("sms.marketing.mailing", required=True, ondelete="cascade")
    ab_testing = fields.Boolean(related="mailing_id.ab_testing")
    variant_id = fields.Many2one(
        "sms.marketing.mailing.variant",
        string="Version",
        domain="[('mailing_id', '=', mailing_id)]",
        help="The A/B test's version to send (default: version A, the mailing's SMS content).",
    )
    numbers = fields.Char(required=True, help="Comma-separated phone numbers, in international format (+32...).")
    state = fields.Selection([("draft", "Draft"), ("done", "Done")], default="draft")
    result_html = fields.Html(readonly=True, sanitize=False)

    @api.model
    def _normalize_number(self, raw, region):
        """E.164 of ``raw`` or None."""
        return phone_tools.normalize(raw, region=region).e164

    def _parse_numbers(self):
        self.ensure_one()
        region = (self.env.company.country_id.code or self.env.user.country_id.code or None) or None
        numbers, errors = [], []
        for raw in re.split(r"[,;\n]", self.numbers or ""):
            raw = raw.strip()
            if not raw:
                continue
            number = self._normalize_number(raw, region)
            if number:
                if number not in numbers:
                    numbers.append(number)
            else:
                errors.append(_("%(number)s is not a valid phone number.", number=raw))
        if errors:
            raise UserError("\n".join(errors))
        if not numbers:
            raise UserError(_("Enter at least one phone number."))
        return numbers

    def action_send(self):
        """Send now, one SMS per number, through the mailing's gateway; no trace, nothing for the cron.

        Each number gets the real SMS (``mailing._render_messages``) of the
        audience record with that number, else of the first recipient of the
        audience, charged as the engine would charge it.
        """
        self.ensure_one()
        mailing = self.mailing_id
        numbers = self._parse_numbers()
        body = self.variant_id.body if self.variant_id else None
        if not ((mailing.body if body is None else body) or "").strip():
            raise UserError(_("The SMS has no content yet."))
        gateway = mailing._get_gateway().sudo()  # sudo: a test is charged on a gateway marketers only read
        if not gateway:
            raise UserError(_("No SMS gateway is configured."))
        prices = gateway._get_prices()
        messages = []
        for number, res_id in self._get_sample_recipients(numbers).items():
            # trace id 0: a test SMS has the real length, but its tokens belong to no trace
            text = mailing._render_messages([0], [res_id], body)[0]
            country = phone_tools.normalize(number).region
            cost = pricing.message_cost(segment_count(text), pricing.price_for(prices, country))
            messages.append(
                {
                    "uuid": gateway._new_uuid(),
                    "number": number,
                    "content": text,
                    "sender": gateway.sender or "",
                    "country_code": country,
                    "cost": cost,
                }
            )
        reserved = round(sum(message["cost"] for message in messages), pricing.LEDGER_DIGITS)
        if not gateway._reserve(reserved, mailing=mailing):
            raise UserError(_("The gateway %(name)s has not enough credits for this test.", name=gateway.name))
        try:
            results = gateway.with_context(sms_marketing_prices=prices)._send_batch(messages)
        except SmsGatewayError as e:
            gateway._settle(reserved, 0.0, mailing=mailing)
            raise UserError(_("The test SMS could not be sent: %(error)s", error=str(e))) from e
        by_uuid = {r["uuid"]: r for r in results}
        Trace = self.env["sms.marketing.trace"]
        spent = 0.0
        lines = []
        for message in messages:
            result = by_uuid.get(message["uuid"], {"state": SERVER_ERROR})
            if Trace._get_outcome(result["state"])[0] == "sent":
                spent += result.get("credits") or 0.0
            lines.append((message["number"], Trace._describe_result(result["state"]), message["content"]))
        gateway._settle(reserved, spent, mailing=mailing)
        rows = Markup("").join(
            Markup("<li>%s: %s<br/><code style='white-space: pre-wrap'>%s</code></li>") % line for line in lines
        )
        result_html = Markup("<p>%s</p><ul>%s</ul>") % (_("Test SMS"), rows)
        mailing._message_log(body=result_html)
        self.write({"state": "done", "result_html": result_html})
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": _("Test SMS"),
        }

    def _get_sample_recipients(self, numbers):
        """{number: res_id of the audience record whose SMS it receives (None without audience)}:
        the recipient with that number, else the audience's first (as the form's preview)."""
        mailing = self.mailing_id
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT ON (c.number) c.number, c.res_id
                     FROM (%s) c
                    WHERE c.reason IS NULL AND c.number = ANY(%s)
                 ORDER BY c.number, c.res_id""",
                mailing._get_recipients_classified_query(),
                numbers,
            )
        )
        by_number = dict(self.env.cr.fetchall())
        first_rows = mailing._get_sendable_rows(limit=1)
        first = first_rows[0][0] if first_rows else None
        if first is None and "{{" in (mailing.body or ""):
            raise UserError(_("The SMS has placeholders and no recipient to fill them: choose recipients first."))
        return {number: by_number.get(number, first) for number in numbers}
