"""The gateways' side of Odoo's SMS (models/sms_sms.py): sending a batch of ``sms.sms`` and their delivery reports.

Sending (``_send_odoo_sms``): the gateways of the message's route in turn,
each through the engine's one way out (``sms.marketing.engine._send_now``):
its rate limit, a reservation of the credits on its ledger committed before
the provider call and settled with what the provider charged, no lock held
during the call, and its count of consecutive failures (a gateway that fails
is skipped by the routes for a while). The answer is IAP's, for Odoo to read
(``TO_IAP_STATE``).

Delivery reports (``_process_other_statuses``): those that moved no mailing trace
move the ``sms.tracker`` (notifications, Odoo's SMS Marketing traces) and the
``sms.sms`` sent through this gateway as Odoo's ``/sms/status`` moves them for
IAP; a report never moves what another gateway sent.
"""

import logging
from collections import defaultdict

from odoo import models
from odoo.addons.sms_marketing_custom.providers import (
    INSUFFICIENT_CREDIT,
    PROVIDERS,
    SERVER_ERROR,
    UNKNOWN,
    SmsGatewayTransientError,
)
from odoo.addons.sms_marketing_custom.tools import phone as phone_tools
from odoo.addons.sms_marketing_custom.tools.messages import new_message
from odoo.addons.sms_marketing_custom.tools.sms_encoding import segment_count
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# our result state (providers/__init__.py) -> IAP's, which Odoo's sms.sms._send reads
TO_IAP_STATE = {
    "sent": "success",
    "duplicate": "success",
    "wrong_number_format": "wrong_number_format",  # sms_number_format
    "country_not_supported": "country_not_supported",  # sms_country_not_supported
    "rejected": "rejected",  # the tracker's sms_rejected (a bounce)
    INSUFFICIENT_CREDIT: "insufficient_credit",  # sms_credit
    SERVER_ERROR: "server_error",  # sms_server
    UNKNOWN: "processing",  # may have left: Odoo's "Processing", never sent again blindly
}
GATEWAY_REFUSED = "unregistered"  # the gateway refused the call for good (credentials): sms_acc
# a provider that knows the outcome at once
DELIVERY_TO_IAP_STATE = {"delivered": "delivered", "undelivered": "not_delivered"}
# a delivery report's state -> the provider error Odoo's trackers read (sms.tracker._action_update_from_provider_error)
REPORT_ERRORS = {"undelivered": "not_delivered", "failed": "not_delivered", "expired": "expired"}


class SmsMarketingGateway(models.Model):
    _inherit = "sms.marketing.gateway"

    # ------------------------------------------------------------------ sending
    def _send_odoo_sms(self, iap_messages):
        """IAP's answer [{uuid, state, credit}] to IAP's batch ``iap_messages`` ([{content, numbers:
        [{uuid, number}]}]), sent through the gateways of ``self`` in turn: a gateway that surely took
        nothing (refused credentials or request, credits short) hands what it did not take to the next;
        a batch whose outcome is unknown (a time-out) stays with its gateway, unanswered: still
        outgoing, sent again there under its uuid (``sms.sms._split_by_gateways``)."""
        answers, messages = {}, []
        for group in iap_messages:
            for number in group.get("numbers") or []:
                e164 = phone_tools.normalize(number.get("number")).e164
                if not e164:
                    answers[number["uuid"]] = {"uuid": number["uuid"], "state": "wrong_number_format", "credit": 0}
                    continue
                messages.append(
                    {
                        "uuid": number["uuid"],
                        "number": e164,
                        "content": group.get("content") or "",
                        "country_code": phone_tools.country_of(e164),
                        "segments": segment_count(group.get("content") or ""),
                    }
                )
        left, state = messages, "server_error"
        for gateway in self:
            if not left:
                break
            sent, left, state = gateway._send_odoo_sms_batch(left)
            answers.update(sent)
        answers.update({m["uuid"]: {"uuid": m["uuid"], "state": state, "credit": 0} for m in left})
        if left:  # no gateway took them: none is named on them
            self.env.cr.execute(
                SQL(
                    "UPDATE sms_sms SET sms_marketing_gateway_id = NULL WHERE uuid = ANY(%s)", [m["uuid"] for m in left]
                )
            )
            self.env["sms.sms"].invalidate_model(["sms_marketing_gateway_id"])
        return list(answers.values())

    def _send_odoo_sms_batch(self, messages):
        """({uuid: IAP answer}, messages not taken, IAP state for those) of one gateway.

        Through the engine's one way out (``sms.marketing.engine._send_now``):
        the reservation (credits, rate slots) and the gateway named on the
        ``sms.sms`` are committed before the provider call, no lock is held
        during it, the answers are settled after it. A message the provider
        did not answer for may have been taken: it is not handed to another
        gateway; only what the gateway refused, surely did not take
        (``SmsGatewayTransientError.not_taken``) or lacked credits for is.
        """
        self.ensure_one()
        prices = self._get_prices()
        batch = [
            new_message(m["uuid"], m["number"], m["content"], self.sender, m["country_code"], prices, m["segments"])
            for m in messages
        ]
        self._mark_odoo_sms_in_flight([m["uuid"] for m in batch])
        delivery = self.env["sms.marketing.engine"]._send_now(self, batch)
        left = batch[delivery.count :]  # the balance did not cover them: the next gateway's
        if left:
            _logger.warning("gateway %s: not enough credits for %s of Odoo's SMS", self.id, len(left))
        if not delivery.count:
            return {}, left, "insufficient_credit"
        if delivery.error or delivery.transient_error:  # nothing is charged
            _logger.warning("gateway %s: Odoo's SMS not sent: %s", self.id, delivery.error or delivery.transient_error)
            refused = delivery.error and not isinstance(delivery.error, SmsGatewayTransientError)
            if not refused and len(delivery.results or {}) < len(batch):
                # a time-out, a lost answer: the provider may have taken them. They stay with this
                # gateway (named on them), outgoing: a later queue run sends them again here under
                # their uuid (answered duplicate if taken), never through another gateway
                return {}, [], "server_error"
            return {}, batch, GATEWAY_REFUSED if refused else "server_error"
        if delivery.recovered:  # the answers stand: the provider took them, only the reservation was closed
            _logger.warning("gateway %s: Odoo's SMS answered after their lease expired", self.id)
        answers = {}
        for message in batch[: delivery.count]:
            result = (delivery.results or {}).get(message["uuid"]) or {}
            state = TO_IAP_STATE.get(result.get("state"), "server_error")
            if state == "success" and result.get("delivery") in DELIVERY_TO_IAP_STATE:
                state = DELIVERY_TO_IAP_STATE[result["delivery"]]
            answers[message["uuid"]] = {"uuid": message["uuid"], "state": state, "credit": result.get("credits") or 0}
        self._mark_odoo_sms_sent([uuid for uuid, answer in answers.items() if answer["state"] != "server_error"])
        return answers, left, "insufficient_credit"

    def _is_resend_safe(self):
        """True when an Odoo SMS this gateway may have taken can be sent again under its uuid: no gateway
        was called yet, or its provider answers a second send of a uuid as a duplicate."""
        if not self:
            return True
        cls = PROVIDERS.get(self.provider)
        return bool(cls and cls.idempotent)

    def _mark_odoo_sms_in_flight(self, uuids):
        """Name this gateway on the ``sms.sms`` about to leave through it, committed with the reservation:
        should the sender die during the call, the recovery of its claim knows whom it asked
        (``sms.sms._claim_outgoing``)."""
        self.env.cr.execute(
            SQL("UPDATE sms_sms SET sms_marketing_gateway_id = %s WHERE uuid = ANY(%s)", self.id, uuids)
        )
        self.env["sms.sms"].invalidate_model(["sms_marketing_gateway_id"])

    def _mark_odoo_sms_sent(self, uuids):
        """This gateway sent these messages: its delivery reports may move them."""
        if uuids:
            values = {"sms_marketing_gateway_id": self.id}
            self.env["sms.sms"].sudo().search([("uuid", "in", uuids)]).write(values)
            self.env["sms.tracker"].sudo().search([("sms_uuid", "in", uuids)]).write(values)

    # ------------------------------------------------------------------ delivery reports
    def _process_other_statuses(self, statuses):
        count = super()._process_other_statuses(statuses)
        by_state = defaultdict(list)
        for uuid, state in statuses:
            by_state[state].append(uuid)
        for state, uuids in by_state.items():
            if state == "delivered" or state in REPORT_ERRORS:
                count += self._apply_odoo_sms_reports(state, uuids)
        return count

    def _apply_odoo_sms_reports(self, state, uuids):
        """Move Odoo's SMS and trackers of ``uuids`` sent through this gateway; the count moved."""
        domain = [("sms_marketing_gateway_id", "=", self.id)]
        # sudo: the caller is the provider, authenticated by its signature
        trackers = self.env["sms.tracker"].sudo().search([("sms_uuid", "in", uuids), *domain])
        sms = (
            self.env["sms.sms"].sudo().search([("uuid", "in", uuids), ("state", "in", ("pending", "process")), *domain])
        )
        if state == "delivered":
            trackers._action_update_from_sms_state("sent")
            sms.write({"state": "sent", "failure_type": False})
        else:
            trackers._action_update_from_provider_error(REPORT_ERRORS[state])
            sms.write({"state": "error", "failure_type": "unknown"})
        return len(set(trackers.mapped("sms_uuid")) | set(sms.mapped("uuid")))
