import re

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..providers import SERVER_ERROR
from ..tools import phone as phone_tools
from ..tools import pricing
from ..tools.messages import new_message

MAX_TEST_NUMBERS = 10  # a test is a few phones of the team; more is a mailing (and spends credits)


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
    numbers = fields.Char(
        required=True,
        help="Comma-separated phone numbers, in international format (+32...); at most 10.",
    )
    cost_estimate = fields.Char(
        compute="_compute_cost_estimate", help="What the test costs, priced as the sending is charged."
    )
    numbers_error = fields.Char(
        string="Numbers to Fix",
        compute="_compute_cost_estimate",
        help="Why these numbers cannot be sent to: said as they are typed.",
    )
    state = fields.Selection([("draft", "Draft"), ("done", "Done")], default="draft")
    result_html = fields.Html(readonly=True, sanitize=False)

    @api.depends("numbers", "mailing_id", "variant_id")
    def _compute_cost_estimate(self):
        for wizard in self:
            wizard.cost_estimate = wizard.numbers_error = False
            try:
                numbers, _blacklisted = wizard._get_numbers_to_send()
                gateway = wizard._get_gateway()
            except UserError as error:
                # the same sentence Send would raise, shown while the numbers are typed
                wizard.numbers_error = str(error.args[0]) if (wizard.numbers or "").strip() else False
                continue
            body = wizard.variant_id.body if wizard.variant_id else None
            segments = wizard.mailing_id._get_preview_segments(wizard.mailing_id.body if body is None else body)
            prices = gateway._get_prices()
            credits = sum(
                pricing.message_cost(segments, pricing.price_for(prices, phone_tools.normalize(number).region))
                for number in numbers
            )
            # as the user's language writes it (Odoo's extractor cannot read a formatted argument inline)
            amount = pricing.format_credits(self.env, credits)
            wizard.cost_estimate = _(
                "Costs about %(credits)s credits on %(gateway)s.", credits=amount, gateway=gateway.name
            )

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
        if len(numbers) > MAX_TEST_NUMBERS:
            raise UserError(
                _(
                    "A test SMS goes to at most %(max)s numbers; you entered %(count)s.",
                    max=MAX_TEST_NUMBERS,
                    count=len(numbers),
                )
            )
        return numbers

    def _get_numbers_to_send(self):
        """(numbers to send to, blacklisted numbers): a test SMS is marketing too, a STOP holds."""
        numbers = self._parse_numbers()
        blacklisted = self.env["sms.marketing.blacklist"]._get_blacklisted_numbers(numbers)
        return [number for number in numbers if number not in blacklisted], [n for n in numbers if n in blacklisted]

    def _get_gateway(self):
        """The mailing's gateway (its own, else its company's default), only of the mailing's company:
        a mailing without company tests through the current company's, never another's credits."""
        self.ensure_one()
        mailing = self.mailing_id
        # the request's current company, checked against the user's (allowed_company_ids is the request's)
        company = mailing.company_id or self.env(su=False).company
        gateway = mailing.gateway_id or self.env["sms.marketing.gateway"]._get_default(company)
        if not gateway:
            raise UserError(_("No SMS gateway is configured."))
        # sudo: a gateway of another company is exactly one the user may not read
        gateway_company = gateway.sudo().company_id
        if gateway_company and gateway_company != company:
            raise UserError(
                _(
                    "The gateway %(gateway)s belongs to another company than %(company)s: "
                    "choose a gateway of %(company)s for this mailing.",
                    gateway=gateway.sudo().name,
                    company=company.name,
                )
            )
        return gateway.sudo()  # sudo: a test is charged on a gateway marketers only read

    def action_send(self):
        """Send now, one SMS per number (at most ``MAX_TEST_NUMBERS``; blacklisted numbers are skipped
        and listed), through the mailing's gateway of its company; no trace, nothing for the cron.

        Each number gets the real SMS (``mailing._render_messages``) of the
        audience record with that number, else of the first recipient of the
        audience, charged as the engine would charge it.
        """
        self.ensure_one()
        mailing = self.mailing_id
        numbers, blacklisted = self._get_numbers_to_send()
        if not numbers:
            raise UserError(
                _(
                    "Nothing sent: every number is blacklisted (%(numbers)s). They receive no marketing SMS.",
                    numbers=", ".join(blacklisted),
                )
            )
        body = self.variant_id.body if self.variant_id else None
        if not ((mailing.body if body is None else body) or "").strip():
            raise UserError(_("The SMS has no content yet."))
        gateway = self._get_gateway()
        prices = gateway._get_prices()
        Trace = self.env["sms.marketing.trace"]
        # its opt-out link opens the page the recipients see, as a preview that records nothing
        trace_optout, test_optout = Trace._get_tokens([0])[0][1], Trace._get_test_optout_token(mailing.id)
        messages = [
            # trace id 0: a test SMS has the real length, but its tokens belong to no trace
            new_message(
                gateway._new_uuid(),
                number,
                mailing._render_messages([0], [res_id], body)[0].replace(trace_optout, test_optout),
                gateway.sender,
                phone_tools.normalize(number).region,
                prices,
            )
            for number, res_id in self._get_sample_recipients(numbers).items()
        ]
        Engine = self.env["sms.marketing.engine"]
        # the test's work is committed before the provider call, which holds no lock (engine's ``_deliver``)
        delivery = Engine._send_now(gateway, messages, mailing=mailing, on_short=self._refuse_short)
        if delivery.error or delivery.transient_error:
            Engine._commit()  # the reservation given back stays given back
            error = delivery.error or delivery.transient_error
            raise UserError(_("The test SMS could not be sent: %(error)s", error=str(error)))
        lines = [
            (
                message["number"],
                Trace._describe_result((delivery.results or {}).get(message["uuid"], {"state": SERVER_ERROR})["state"]),
                message["content"],
            )
            for message in messages
        ]
        rows = Markup("").join(
            Markup("<li>%s: %s<br/><code style='white-space: pre-wrap'>%s</code></li>") % line for line in lines
        )
        rows += Markup("").join(
            Markup("<li class='o_sms_test_blacklisted'>%s: %s</li>")
            % (number, _("Not sent: the number is blacklisted."))
            for number in blacklisted
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

    def _refuse_short(self, _count):
        """A test SMS goes to every number or to none: a balance short of one refuses it."""
        raise UserError(_("The gateway %(name)s has not enough credits for this test.", name=self._get_gateway().name))

    def _get_sample_recipients(self, numbers):
        """{number: res_id of the audience record whose SMS it receives (None without audience)}:
        the recipient with that number, else the audience's first (as the form's preview)."""
        mailing, audience = self.mailing_id, self.env["sms.marketing.audience"]
        by_number = audience._get_res_ids_of_numbers(mailing, numbers)
        first_rows = audience._get_sendable_rows(mailing, limit=1)
        first = first_rows[0][0] if first_rows else None
        if first is None and "{{" in (mailing.body or ""):
            raise UserError(_("The SMS has placeholders and no recipient to fill them: choose recipients first."))
        return {number: by_number.get(number, first) for number in numbers}
