import json
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.addons.sms_marketing_custom.tests.common import SmsEngineCase
from odoo.addons.sms_marketing_custom_sms.models.sms_sms import ROUTE_ODOO_SMS_PARAM
from odoo.addons.sms_marketing_custom_sms.tools.sms_api import GATEWAYS_CONTEXT_KEY
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

BE_NUMBER = "+32470000001"
FR_NUMBER = "+33612345678"
SLEEP = "odoo.addons.sms_marketing_custom.models.sms_marketing_engine_send.time.sleep"
ODOO_IAP = "odoo.addons.sms_marketing_custom_sms.tools.sms_api._contact_odoo_iap"


def odoo_iap_answer(api, local_endpoint, params, timeout=15):
    """Odoo's SMS service (IAP) as it answers a batch: every number taken."""
    return [{"uuid": n["uuid"], "state": "success", "credit": 1} for m in params["messages"] for n in m["numbers"]]


@tagged("post_install", "-at_install")
class TestOdooSmsThroughGateways(SmsEngineCase):
    """Odoo's own SMS (chatter) through the gateways, the option on; the http gateway on the simulator."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["sms.marketing.gateway.route"].search([]).unlink()
        cls.http_gateway.write({"sequence": -100, "default_price": 1.0})  # the default gateway, before any other
        cls.partner_be, cls.partner_fr = cls.env["res.partner"].create(
            [{"name": "Belgian customer", "mobile": BE_NUMBER}, {"name": "French customer", "mobile": FR_NUMBER}]
        )
        cls.iap_gateway = cls.env.ref("sms_marketing_custom_iap.sms_marketing_gateway_odoo_iap")

    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].sudo().set_param(ROUTE_ODOO_SMS_PARAM, "True")

    def _chatter_sms(self, partner, body="Your order is ready", user=None):
        record = partner.with_user(user) if user else partner
        message = record._message_sms(body, partner_ids=partner.ids)
        self.env.invalidate_all()
        notification = message.notification_ids.filtered(lambda n: n.notification_type == "sms")
        sms = self.env["sms.sms"].sudo().search([("mail_message_id", "=", message.id)])
        return notification, sms

    def _report(self, gateway, uuid, state):
        body = json.dumps({"statuses": [{"uuid": uuid, "state": state}]}).encode()
        headers = self.simulator_module.signed_headers(gateway.webhook_secret, body)
        Gateway = self.env["sms.marketing.gateway"]
        return Gateway._route_webhook(gateway.id, body, headers, gateway._get_webhook_url(), "statuses")

    def _numbers_sent_by_odoo_iap(self, iap):
        """The numbers Odoo's own call to IAP (behind the bridge's seam, stubbed) was given."""
        return [n["number"] for call in iap.call_args_list for m in call.args[2]["messages"] for n in m["numbers"]]

    def test_chatter_sms_leaves_through_gateway_and_is_charged(self):
        balance = self.http_gateway.balance
        notification, sms = self._chatter_sms(self.partner_be)
        [sent] = self.sim.state()["sent"]
        self.assertEqual((sent["number"], sent["content"], sent["uuid"]), (BE_NUMBER, "Your order is ready", sms.uuid))
        self.assertEqual(
            (sms.state, sms.failure_type, sms.sms_marketing_gateway_id), ("pending", False, self.http_gateway)
        )
        self.assertEqual(notification.notification_status, "pending")
        self.assertEqual(sms.sms_tracker_id.sms_marketing_gateway_id, self.http_gateway)
        self.assertEqual(round(balance - self.http_gateway.balance, 4), 1.0)  # one segment at 1 credit

    def test_delivery_reports_move_sms_and_notification(self):
        notification, sms = self._chatter_sms(self.partner_be)
        self.assertEqual(self._report(self.http_gateway, sms.uuid, "delivered")[0], 200)
        self.env.invalidate_all()
        self.assertEqual((sms.state, notification.notification_status), ("sent", "sent"))
        # undelivered: Odoo's delivery failure on the notification
        notification, sms = self._chatter_sms(self.partner_fr)
        self._report(self.http_gateway, sms.uuid, "undelivered")
        self.env.invalidate_all()
        self.assertEqual((sms.state, sms.failure_type), ("error", "unknown"))
        self.assertEqual(
            (notification.notification_status, notification.failure_type), ("exception", "sms_not_delivered")
        )

    def test_one_report_for_a_mailing_and_odoo_sms_looks_up_the_sms_alone(self):
        self._make_contacts(2)
        mailing = self._start(self._make_mailing(gateway=self.http_gateway))
        self._run_cron()
        traces = mailing.trace_ids
        self.assertEqual(set(traces.mapped("state")), {"sent"})
        notification, sms = self._chatter_sms(self.partner_be)
        statuses = [{"uuid": uuid, "state": "delivered"} for uuid in [*traces.mapped("uuid"), sms.uuid]]
        body = json.dumps({"statuses": statuses}).encode()
        headers = self.simulator_module.signed_headers(self.http_gateway.webhook_secret, body)
        Gateway = type(self.env["sms.marketing.gateway"])
        looked_up = []

        def apply_odoo_sms_reports(gateway, state, uuids):
            looked_up.extend(uuids)
            return apply_reports(gateway, state, uuids)

        apply_reports = Gateway._apply_odoo_sms_reports
        with patch.object(Gateway, "_apply_odoo_sms_reports", apply_odoo_sms_reports):
            status, answer = self.env["sms.marketing.gateway"]._route_webhook(
                self.http_gateway.id, body, headers, self.http_gateway._get_webhook_url(), "statuses"
            )
        self.assertEqual((status, answer), (200, {"updated": 3}))
        self.assertEqual(looked_up, [sms.uuid], "the mailing's traces are not looked up among Odoo's SMS")
        self.env.invalidate_all()
        self.assertEqual(set(traces.mapped("state")), {"delivered"})
        self.assertEqual((sms.state, notification.notification_status), ("sent", "sent"))

    def test_report_of_another_gateway_moves_nothing(self):
        notification, sms = self._chatter_sms(self.partner_be)
        other = self.http_gateway.copy({"name": "Other gateway", "webhook_secret": "another-secret"})
        self._report(other, sms.uuid, "undelivered")
        self.env.invalidate_all()
        self.assertEqual((sms.state, notification.notification_status), ("pending", "pending"))

    def test_country_routing(self):
        Route = self.env["sms.marketing.gateway.route"]
        Route.create({"gateway_id": self.http_gateway.id, "country_ids": [(6, 0, self.belgium.ids)], "sequence": 1})
        Route.create({"gateway_id": self.sandbox.id, "sequence": 2})  # every other country
        self.sandbox._change_balance(10.0, "purchase")
        _notification, sms_be = self._chatter_sms(self.partner_be)
        _notification, sms_fr = self._chatter_sms(self.partner_fr)
        self.assertEqual([m["number"] for m in self.sim.state()["sent"]], [BE_NUMBER])
        self.assertEqual(sms_be.sms_marketing_gateway_id, self.http_gateway)
        self.assertEqual(
            (sms_fr.sms_marketing_gateway_id, sms_fr.state), (self.sandbox, "sent")
        )  # the sandbox delivers

    def test_sms_goes_through_its_records_company(self):
        """An SMS posted on a record of company B leaves through B's gateway, whoever sends it (the queue
        cron runs as a user of the main company)."""
        b_gateway = self.env["sms.marketing.gateway"].create(
            {"name": "Company B sandbox", "provider": "sandbox", "company_id": self.company_b.id, "sequence": -200}
        )
        b_gateway._change_balance(10.0, "purchase")
        partner_b = self.env["res.partner"].create(
            {"name": "Company B customer", "mobile": BE_NUMBER, "company_id": self.company_b.id}
        )
        _notification, sms = self._chatter_sms(partner_b)
        self.assertEqual(sms.sms_marketing_gateway_id, b_gateway)
        self.assertFalse(self.sim.state()["sent"], "nothing through the main company's gateway")

    def test_failover_to_the_next_gateway_of_the_route(self):
        backup = self.http_gateway.copy(
            {"name": "Backup gateway", "sequence": 2, "api_key": self.sim.api_key, "allow_private_network": True}
        )
        backup._change_balance(10.0, "purchase")
        Route = self.env["sms.marketing.gateway.route"]
        Route.create([{"gateway_id": self.http_gateway.id, "sequence": 1}, {"gateway_id": backup.id, "sequence": 2}])
        self.sim.configure(fail_next=[503])
        notification, sms = self._chatter_sms(self.partner_be)
        self.assertEqual(len(self.sim.state()["sent"]), 1)
        self.assertEqual((sms.sms_marketing_gateway_id, sms.state), (backup, "pending"))
        self.assertEqual(notification.notification_status, "pending")
        self.assertEqual(self.http_gateway.consecutive_failures, 1)

    def test_unknown_outcome_stays_with_its_gateway(self):
        """A gateway that timed out may have taken the SMS: it is not handed to the route's next gateway
        (which would send it a second time), but stays outgoing with its gateway, and a later queue run
        sends it there again under its uuid (answered duplicate if taken)."""
        backup = self.http_gateway.copy(
            {"name": "Backup gateway", "sequence": 2, "api_key": self.sim.api_key, "allow_private_network": True}
        )
        backup._change_balance(10.0, "purchase")
        Route = self.env["sms.marketing.gateway.route"]
        Route.create([{"gateway_id": self.http_gateway.id, "sequence": 1}, {"gateway_id": backup.id, "sequence": 2}])
        self.sim.configure(fail_next=["timeout"])  # the answer is lost: the client gives up first
        _notification, sms = self._chatter_sms(self.partner_be)
        self.assertEqual(self.sim.state()["sent"], [], "not sent through the backup")
        self.assertEqual((sms.sms_marketing_gateway_id, sms.state), (self.http_gateway, "outgoing"))
        uuid = sms.uuid
        self.env["sms.sms"].sudo()._process_queue(ids=sms.ids)
        self.assertEqual([message["uuid"] for message in self.sim.state()["sent"]], [uuid])
        self.assertEqual((sms.sms_marketing_gateway_id, sms.state), (self.http_gateway, "pending"))

    def test_failure_types_mapped_from_ours(self):
        self.sim.configure(number_states={BE_NUMBER: "wrong_number_format"})
        notification, sms = self._chatter_sms(self.partner_be)
        self.assertEqual((sms.state, sms.failure_type), ("error", "sms_number_format"))
        self.assertEqual(
            (notification.notification_status, notification.failure_type), ("exception", "sms_number_format")
        )
        self.sim.configure(number_states={}, fail_next=[503])  # no other gateway: Odoo's server error
        _notification, sms = self._chatter_sms(self.partner_be)
        self.assertEqual((sms.state, sms.failure_type), ("error", "sms_server"))
        self.http_gateway.sudo().api_key = "wrong key"  # refused for good: Odoo's account error
        _notification, sms = self._chatter_sms(self.partner_be)
        self.assertEqual((sms.state, sms.failure_type), ("error", "sms_acc"))

    def test_credits_short_on_the_ledger(self):
        self.http_gateway._change_balance(-self.http_gateway.balance, "spend")
        _notification, sms = self._chatter_sms(self.partner_be)
        self.assertEqual((sms.state, sms.failure_type), ("error", "sms_credit"))
        self.assertFalse(self.sim.state()["sent"])

    def test_rate_limit_paces_the_sends(self):
        self.http_gateway.rate_limit = 0.01  # one SMS every 100 seconds (the sleep is mocked)
        with patch(SLEEP) as sleep:
            self._chatter_sms(self.partner_be)
            self._chatter_sms(self.partner_fr)
        self.assertEqual(len(self.sim.state()["sent"]), 2)
        [wait] = [call.args[0] for call in sleep.call_args_list]  # the second waits for its slot
        self.assertGreater(wait, 50)

    def test_iap_gateway_goes_odoo_way(self):
        self.env["sms.marketing.gateway.route"].create({"gateway_id": self.iap_gateway.id})
        with patch(ODOO_IAP, side_effect=odoo_iap_answer) as iap:
            notification, sms = self._chatter_sms(self.partner_be)
        self.assertEqual(self._numbers_sent_by_odoo_iap(iap), [BE_NUMBER])  # Odoo's own call to IAP
        self.assertFalse(self.sim.state()["sent"])
        self.assertFalse(sms.sms_marketing_gateway_id)
        self.assertEqual(notification.notification_status, "pending")

    def test_option_off_is_odoo_way(self):
        self.env["ir.config_parameter"].sudo().set_param(ROUTE_ODOO_SMS_PARAM, "False")
        with patch(ODOO_IAP, side_effect=odoo_iap_answer) as iap:
            self._chatter_sms(self.partner_be)
        self.assertEqual(self._numbers_sent_by_odoo_iap(iap), [BE_NUMBER])
        self.assertFalse(self.sim.state()["sent"])

    def test_expired_claim_after_a_call_that_cannot_be_repeated(self):
        """A runner died during the call to a provider without idempotency key (Twilio): its SMS is not
        sent again blindly but becomes Odoo's "Server Error", which a user may resend from the chatter."""
        twilio = self.env["sms.marketing.gateway"].create(
            {
                "name": "Twilio",
                "provider": "twilio",
                "account_id": "AC" + "7" * 32,
                "api_key": "token",
                "sender": "+15005550006",
                "endpoint_url": "https://api.twilio.com",
            }
        )
        notification, sms = self._chatter_sms(self.partner_be)
        past = fields.Datetime.now() - timedelta(seconds=1)
        # what the dead runner left committed: its claim, and the gateway it called
        sms.write(
            {
                "state": "outgoing",
                "to_delete": False,
                "sms_marketing_claim_until": past,
                "sms_marketing_gateway_id": twilio.id,
            }
        )
        sms.send()
        self.assertEqual((sms.state, sms.failure_type, sms.sms_marketing_claim_until), ("error", "sms_server", False))
        self.assertEqual(notification.notification_status, "exception")
        self.assertEqual(len(self.sim.state()["sent"]), 1, "only the first send")
        # a live claim is another runner's: left alone
        sms.write(
            {
                "state": "outgoing",
                "to_delete": False,
                "sms_marketing_claim_until": fields.Datetime.now() + timedelta(minutes=5),
            }
        )
        sms.send()
        self.assertEqual(sms.state, "outgoing")
        self.assertEqual(len(self.sim.state()["sent"]), 1)

    # ------------------------------------------------------------------ attacks
    def test_attack_steer_sms_to_a_gateway_by_context(self):
        """An employee's request carries the bridge's context key (JSON: ids): Odoo's SMS do not follow it,
        the option off or on."""
        self.env["ir.config_parameter"].sudo().set_param(ROUTE_ODOO_SMS_PARAM, "False")
        # the least an SMS from a contact's chatter needs: an employee who may edit contacts
        employee = new_test_user(
            self.env, login="sms_contact_editor", groups="base.group_user,base.group_partner_manager"
        )
        forged = self.partner_be.with_context(**{GATEWAYS_CONTEXT_KEY: [self.http_gateway.id]})
        with patch(ODOO_IAP, side_effect=odoo_iap_answer) as iap:
            self._chatter_sms(forged, user=employee)
        self.assertFalse(self.sim.state()["sent"])
        self.assertEqual(self._numbers_sent_by_odoo_iap(iap), [BE_NUMBER])

    def test_attack_manager_turns_the_option_on(self):
        """An SMS Marketing manager (not a Settings administrator) cannot send every SMS of the database
        through the gateways: neither the settings nor the system parameter."""
        self.env["ir.config_parameter"].sudo().set_param(ROUTE_ODOO_SMS_PARAM, "False")
        for user in (self.user_manager, self.user_marketing):
            with self.assertRaises(AccessError):
                self.env["res.config.settings"].with_user(user).create({"sms_marketing_route_odoo_sms": True}).execute()
            with self.assertRaises(AccessError):
                self.env["ir.config_parameter"].with_user(user).set_param(ROUTE_ODOO_SMS_PARAM, "True")
        self.assertEqual(self.env["ir.config_parameter"].sudo().get_param(ROUTE_ODOO_SMS_PARAM), "False")
        # the administrator can
        settings = (
            self.env["res.config.settings"].with_user(self.user_admin).create({"sms_marketing_route_odoo_sms": True})
        )
        settings.execute()
        self.assertEqual(self.env["ir.config_parameter"].sudo().get_param(ROUTE_ODOO_SMS_PARAM), "True")
