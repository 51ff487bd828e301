import hashlib
import hmac

from odoo import api, fields, models
from odoo.osv import expression

from ..tools import links


class SmsMarketingTrace(models.Model):
    """Trace tokens (clicks and opt-out) and the opt-out date of a trace.

    A token is the trace id plus a truncated HMAC-SHA256 of it keyed with the
    database secret: nobody can build the token of another trace, and no token
    is stored (one HMAC per SMS at send time, one to check it).
    """

    _inherit = "sms.marketing.trace"

    optout_at = fields.Datetime(string="Opted Out On", readonly=True, copy=False, index="btree_not_null")

    # ------------------------------------------------------------------ tokens
    @api.model
    def _get_token_key(self):
        # sudo: the database secret is a system parameter; it never leaves this method
        return self.env["ir.config_parameter"].sudo().get_param("database.secret").encode()

    @api.model
    def _get_tokens(self, trace_ids, key=None):
        """{trace_id: (click token, opt-out token)}: one HMAC per trace."""
        key = key or self._get_token_key()
        digest = hmac.digest
        return {
            trace_id: links.tokens_from_digest(trace_id, digest(key, links.TOKEN_SCOPE % trace_id, hashlib.sha256))
            for trace_id in trace_ids
        }

    @api.model
    def _check_token(self, token, kind):
        """The trace id carried by a valid ``kind`` ("click"/"optout") token, else None."""
        mac_length = links.CLICK_MAC_LENGTH if kind == "click" else links.OPTOUT_MAC_LENGTH
        trace_id, _mac = links.split_token(token, mac_length)
        if not trace_id or trace_id > 2**31 - 1:
            return None
        expected = self._get_tokens([trace_id])[trace_id][0 if kind == "click" else 1]
        return trace_id if hmac.compare_digest(expected, token) else None

    @api.model
    def _check_click_token(self, token):
        return self._check_token(token, "click")

    @api.model
    def _get_from_optout_token(self, token):
        """The trace of a valid opt-out token (sudo: read by the public page), or an empty recordset."""
        trace_id = self._check_token(token, "optout")
        # sudo: the visitor is anonymous; the valid HMAC proves they received this SMS
        return self.sudo().browse(trace_id).exists() if trace_id else self.sudo().browse()

    # ------------------------------------------------------------------ opt-out
    @api.model
    def _route_optout(self, token, record=True):
        """Values of the opt-out page of ``/o/<token>``; None when the token is not valid.

        With ``record`` the opt-out is recorded (idempotent); without (a link preview),
        the page only asks for confirmation.
        """
        trace = self._get_from_optout_token(token)
        if not trace:
            return None
        if record:
            trace._optout()
        mailing = trace.mailing_id
        return {
            "token": token,
            "done": bool(trace.optout_at),
            "number": links.mask_number(trace.number),
            "list_names": mailing._get_optout_lists().mapped("name"),
            "company_name": (mailing.company_id or self.env.company).name,
        }

    def _optout(self):
        """Record that this trace's recipient left: the mailing's lists, or all SMS marketing."""
        self.ensure_one()
        lists = self.mailing_id._get_optout_lists()
        if lists:
            contact_domain = [("contact_id.phone_sanitized", "=", self.number)] if self.number else []
            if self.res_model == "sms.marketing.contact" and self.res_id:
                contact_domain = expression.OR([contact_domain, [("contact_id", "=", self.res_id)]])
            if contact_domain:
                subscriptions = self.env["sms.marketing.subscription"].search(
                    expression.AND([[("list_id", "in", lists.ids), ("opt_out", "=", False)], contact_domain])
                )
                subscriptions.write({"opt_out": True})
        elif self.number:
            self.env["sms.marketing.blacklist"]._add_numbers([self.number], "optout_link")
        if not self.optout_at:
            self.optout_at = fields.Datetime.now()
        return True
