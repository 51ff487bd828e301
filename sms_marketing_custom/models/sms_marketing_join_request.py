"""A pending "JOIN <keyword>" of a number: double opt-in by SMS.

Why
    A number that texts ``JOIN VIP`` has not yet proved it is its owner's
    wish (anyone can type any number on a web form, but an inbound SMS comes
    from the phone itself; carriers still expect a confirmation). The request
    waits for a YES from the same number; YES subscribes the number to the
    list and writes the opt-in to the consent log. One pending request per
    number: a new JOIN replaces the previous one; a request older than
    ``JOIN_VALIDITY`` is no longer confirmed.
"""

from datetime import timedelta

from odoo import api, fields, models

from .sms_marketing_consent import ConsentDetails

JOIN_VALIDITY = timedelta(hours=24)


class SmsMarketingJoinRequest(models.Model):
    _name = "sms.marketing.join.request"
    _description = "SMS Subscription Request"
    _order = "id desc"
    _rec_name = "number"

    number = fields.Char(required=True, index=True, readonly=True)
    list_id = fields.Many2one("sms.marketing.list", string="Mailing List", required=True, ondelete="cascade")
    gateway_id = fields.Many2one("sms.marketing.gateway", ondelete="set null", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    state = fields.Selection(
        [("pending", "Waiting for YES"), ("confirmed", "Confirmed"), ("replaced", "Replaced"), ("expired", "Expired")],
        default="pending",
        required=True,
        readonly=True,
    )
    date = fields.Datetime(default=fields.Datetime.now, required=True, readonly=True)
    confirmed_date = fields.Datetime(readonly=True)
    evidence = fields.Text(readonly=True, help="The JOIN message, then the YES.")

    @api.model
    def _request(self, number, keyword, gateway, company, content):
        """The new pending request of ``number`` for the list of ``keyword`` in ``company``; empty if none."""
        Lists = self.env["sms.marketing.list"].sudo()  # sudo: the sender of the SMS is anonymous
        sms_list = Lists.search([("keyword", "=", keyword), ("company_id", "in", [company.id, False])], limit=1)
        if not sms_list:
            return self.browse()
        return self._request_list(number, sms_list, gateway, company, content)

    @api.model
    def _request_list(self, number, sms_list, gateway, company, content):
        """The new pending request of ``number`` for ``sms_list`` (replacing its previous one); also
        for sign-ups that name the list itself (the website form of sms_marketing_custom_website)."""
        requests = self.sudo()
        requests.search([("number", "=", number), ("state", "=", "pending")]).write({"state": "replaced"})
        return requests.create(
            {
                "number": number,
                "list_id": sms_list.id,
                "gateway_id": gateway.id,
                "company_id": sms_list.company_id.id or company.id,
                "evidence": content,
            }
        )

    @api.model
    def _confirm(self, number, gateway, company, content):
        """Confirm the pending request of ``number`` (subscribe it); empty recordset when there is none."""
        requests = self.sudo()
        request = requests.search(
            [("number", "=", number), ("state", "=", "pending"), ("company_id", "in", [company.id, False])], limit=1
        )
        if not request:
            return request
        now = fields.Datetime.now()
        if request.date < now - JOIN_VALIDITY:
            request.state = "expired"
            return self.browse()
        request.write({"state": "confirmed", "confirmed_date": now, "evidence": f"{request.evidence}\n{content}"})
        details = ConsentDetails(source="keyword", gateway_id=gateway.id, evidence=request.evidence)
        # an explicit YES from the phone is consent to SMS marketing again
        self.env["sms.marketing.blacklist"]._remove_numbers([number], "keyword", details=details)
        Contact = self.env["sms.marketing.contact"].sudo().with_context(sms_marketing_consent=details)
        contact = Contact._find_by_numbers([number]).filtered(
            lambda c: not c.company_id or c.company_id == request.list_id.company_id
        )[:1]
        if not contact:
            contact = Contact.create(
                {"name": number, "phone": number, "company_id": request.list_id.company_id.id or company.id}
            )
        Subscription = self.env["sms.marketing.subscription"].sudo().with_context(sms_marketing_consent=details)
        subscription = Subscription.search([("contact_id", "=", contact.id), ("list_id", "=", request.list_id.id)])
        if subscription:
            if subscription.opt_out:
                subscription.opt_out = False
            else:  # already subscribed: the YES is still logged as proof
                subscription._log_consent("opt_in")
        else:
            Subscription.create({"contact_id": contact.id, "list_id": request.list_id.id})
        return request
