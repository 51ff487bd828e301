import re

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..providers import ACCEPTED, SmsGatewayError
from ..tools import phone as phone_tools
from ..tools.sms_encoding import segment_count


class SmsMarketingMailingTest(models.TransientModel):
    _name = "sms.marketing.mailing.test"
    _description = "Test SMS Mailing"

    mailing_id = fields.Many2one("sms.marketing.mailing", required=True, ondelete="cascade")
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
        """Send now, one SMS per number, through the mailing's gateway; no trace, nothing for the cron."""
        self.ensure_one()
        mailing = self.mailing_id
        numbers = self._parse_numbers()
        if not (mailing.body or "").strip():
            raise UserError(_("The SMS has no content yet."))
        gateway = mailing._engine_gateway()
        if not gateway:
            raise UserError(_("No SMS gateway is configured."))
        body = mailing.body  # a test has no recipient record: placeholders stay as written
        prices = gateway._get_prices()
        cost = segment_count(body) * max(prices.values())
        reserved = cost * len(numbers)
        if not gateway._reserve(reserved, mailing=mailing):
            raise UserError(_("The gateway %(name)s has not enough credits for this test.", name=gateway.name))
        messages = [
            {"uuid": gateway._new_uuid(), "number": n, "content": body, "sender": gateway.sender or ""} for n in numbers
        ]
        try:
            results = gateway._send_batch(messages)
        except SmsGatewayError as e:
            gateway._settle(reserved, 0.0, mailing=mailing)
            raise UserError(_("The test SMS could not be sent: %(error)s", error=str(e))) from e
        by_uuid = {r["uuid"]: r for r in results}
        labels = self._result_labels()
        spent = 0.0
        lines = []
        for message in messages:
            result = by_uuid.get(message["uuid"], {"state": "server_error"})
            if result["state"] in ACCEPTED:
                spent += result.get("credits") or 0.0
            lines.append((message["number"], labels.get(result["state"], result["state"])))
        gateway._settle(reserved, spent, mailing=mailing)
        rows = Markup("").join(Markup("<li>%s: %s</li>") % (number, label) for number, label in lines)
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

    def _result_labels(self):
        return {
            "sent": _("Sent"),
            "duplicate": _("Sent"),
            "insufficient_credit": _("Not sent: not enough credits"),
            "wrong_number_format": _("Refused: wrong number format"),
            "country_not_supported": _("Refused: country not supported"),
            "rejected": _("Refused by the gateway"),
            "server_error": _("Gateway error, not sent"),
        }
