import json
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import SmsProviderCase
from .standins import gateway as simulator
from .standins import twilio, vonage


@tagged("post_install", "-at_install")
class TestRoutingEndToEnd(SmsProviderCase):
    """One mailing, three countries, three providers (their local stand-ins), routed by country.

    US and Canada through Twilio (then the HTTP gateway when Twilio is down),
    Belgium and France through Vonage, every other country through the HTTP
    gateway (standins/gateway.py).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.twilio = twilio.TwilioStandin().start()
        cls.vonage = vonage.VonageStandin().start()
        cls.sim = simulator.Simulator(delivery=None).start()
        for server in (cls.twilio, cls.vonage, cls.sim):
            cls.addClassCleanup(server.stop)
        Gateway = cls.env["sms.marketing.gateway"]
        cls.gw_twilio = Gateway.create(
            twilio.gateway_values(
                cls.twilio,
                name="Twilio US",
                sender="MG" + "1" * 32,
                default_price=1.0,  # a Messaging Service
            )
        )
        cls.gw_vonage = Gateway.create(vonage.gateway_values(cls.vonage, name="Vonage EU", default_price=0.05))
        cls.gw_http = Gateway.create(simulator.gateway_values(cls.sim, name="World", default_price=2.0))
        for routed in (cls.gw_twilio, cls.gw_vonage, cls.gw_http):
            routed._change_balance(100.0, "purchase")
        us, ca, be, fr = (cls.env.ref(f"base.{code}") for code in ("us", "ca", "be", "fr"))
        cls.env["sms.marketing.gateway.route"].create(
            [
                {"sequence": 10, "country_ids": [(6, 0, (us | ca).ids)], "gateway_id": cls.gw_twilio.id},
                {"sequence": 20, "country_ids": [(6, 0, (us | ca).ids)], "gateway_id": cls.gw_http.id},
                {"sequence": 10, "country_ids": [(6, 0, (be | fr).ids)], "gateway_id": cls.gw_vonage.id},
                {"sequence": 90, "gateway_id": cls.gw_http.id},  # every other country
            ]
        )
        cls.us_numbers = ["+12025550161", "+12025550162"]
        cls.be_numbers = ["+32470000011", "+32470000012"]
        cls.ma_number = "+212612345678"
        cls._make_contacts(cls.us_numbers, us)
        cls._make_contacts(cls.be_numbers, be)
        cls._make_contacts([cls.ma_number], cls.env.ref("base.ma"))

    def setUp(self):
        super().setUp()
        self.twilio.reset()
        self.vonage.reset()
        self.sim.configure(reset=True, balance=1000.0, prices={"*": 2.0}, fail_next=[], number_states={})

    def _post_sim_status(self, gateway, uuid, state, secret=None):
        body = json.dumps({"statuses": [{"uuid": uuid, "state": state}]}).encode()
        headers = simulator.signed_headers(secret or self.sim.webhook_secret, body)
        return self.url_open(f"/sms_marketing/status/{gateway.id}", data=body, headers=headers).status_code

    def test_estimate_follows_the_routes(self):
        mailing = self._make_mailing(False)
        estimate = mailing._get_credit_estimate(mailing._get_gateway())
        prices = {line[0]: (line[1], line[2]) for line in estimate["lines"]}
        self.assertEqual(prices, {"US": (2, 1.0), "BE": (2, 0.05), "MA": (1, 2.0)})
        self.assertAlmostEqual(estimate["credits"], 4.1)
        self.assertEqual(
            {g.name: round(c, 4) for g, c in estimate["by_gateway"].items()},
            {"Twilio US": 2.0, "Vonage EU": 0.1, "World": 2.0},
        )
        # Send reads each paying gateway's balance from its provider: 0.05 left at Vonage, 0.1 needed
        self.addCleanup(setattr, self.vonage, "balance", self.vonage.balance)  # the stand-in outlives the test
        self.vonage.balance = 0.05
        with self.assertRaisesRegex(UserError, "Vonage EU"):
            mailing._check_can_send()

    def test_three_countries_three_providers(self):
        mailing = self._make_mailing(False)
        self._run_engine(mailing)
        self.assertEqual(mailing.state, "done")
        # each stand-in received exactly its messages, in its own format
        self.assertEqual(sorted(m["to"] for m in self.twilio.messages), self.us_numbers)
        self.assertEqual({m["messaging_service_sid"] for m in self.twilio.messages}, {"MG" + "1" * 32})
        self.assertEqual(sorted("+" + m["to"] for m in self.vonage.messages), self.be_numbers)
        self.assertEqual({m["from"] for m in self.vonage.messages}, {"AcmeShop"})
        self.assertEqual([m["number"] for m in self.sim.state()["sent"]], [self.ma_number])
        traces = self._traces_by_number(mailing)
        for numbers, gateway in ((self.us_numbers, self.gw_twilio), (self.be_numbers, self.gw_vonage)):
            for number in numbers:
                self.assertEqual(traces[number].gateway_id, gateway)
        self.assertEqual(traces[self.ma_number].gateway_id, self.gw_http)

        # delivery reports come back signed, each in its provider's format
        us1, us2 = (next(m for m in self.twilio.messages if m["to"] == n) for n in self.us_numbers)
        self.assertEqual(self.twilio.post_status(us1["sid"], "delivered")[0], 200)
        self.assertEqual(self.twilio.post_status(us2["sid"], "delivered", auth_token="forged")[0], 403)
        self.assertEqual(self.vonage.post_dlr(traces[self.be_numbers[0]].uuid, "delivered")[0], 200)
        self.assertEqual(self.vonage.post_dlr(traces[self.be_numbers[1]].uuid, "expired")[0], 200)
        self.assertEqual(self._post_sim_status(self.gw_http, traces[self.ma_number].uuid, "delivered"), 200)
        # a report signed right but for another gateway's message changes nothing
        self.assertEqual(self._post_sim_status(self.gw_http, traces[self.us_numbers[1]].uuid, "undelivered"), 200)
        # and a STOP reply, signed by Vonage
        inbound = f"{self.odoo_url}/sms_marketing/inbound/{self.gw_vonage.id}"
        self.assertEqual(self.vonage.post_inbound(inbound, self.be_numbers[0][1:], "STOP")[0], 200)
        self.assertEqual(self.vonage.post_inbound(inbound, self.be_numbers[1][1:], "STOP", secret="forged")[0], 403)
        self.env["sms.marketing.reply"]._cron_send()  # the answer leaves after the webhook

        self.env.invalidate_all()
        states = {number: traces[number].state for number in traces}
        self.assertEqual(
            states,
            {
                self.us_numbers[0]: "delivered",
                self.us_numbers[1]: "sent",
                self.be_numbers[0]: "delivered",
                self.be_numbers[1]: "failed",
                self.ma_number: "delivered",
            },
        )
        blacklist = self.env["sms.marketing.blacklist"].search([("number", "in", self.be_numbers)])
        self.assertEqual(blacklist.mapped("number"), [self.be_numbers[0]])
        self.assertTrue(traces[self.be_numbers[0]].optout_at)
        # the figures add up: per state, per gateway, in credits
        self.assertEqual(
            (mailing.recipient_count, mailing.sent_count, mailing.delivered_count, mailing.failed_count),
            (5, 5, 3, 1),
        )
        self.assertEqual((mailing.pending_count, mailing.canceled_count, mailing.unknown_count), (0, 0, 0))
        self.assertAlmostEqual(mailing.credits_spent, 2 * 1.0 + 2 * 0.05 + 2.0)
        # the STOP received by Vonage is confirmed by one SMS through Vonage, charged like any SMS (0.05 to BE)
        replies = {self.gw_vonage: 0.05}
        for gateway, spent in ((self.gw_twilio, 2.0), (self.gw_vonage, 0.1), (self.gw_http, 2.0)):
            self.assertAlmostEqual(gateway.balance, 100.0 - spent - replies.get(gateway, 0.0))
            self.assertAlmostEqual(sum(gateway.credit_move_ids.mapped("amount")), gateway.balance)
            self.assertAlmostEqual(
                sum(mailing.trace_ids.filtered(lambda t, g=gateway: t.gateway_id == g).mapped("cost")), spent
            )

    def test_rows_routed_elsewhere_are_claimed_next(self):
        """A batch keeps the rows of its first row's gateway: the runner's next claim starts at the rows
        it left for the other gateways, not after the batch (they would wait for the mailing's end)."""
        mailing = self._make_mailing(False)
        mailing.write({"state": "sending"})
        engine = self.env["sms.marketing.engine"]
        params = engine._get_params()
        engine._build_traces(mailing, params)
        self.assertEqual(engine._send_batch(mailing, params), 2, "the two US numbers, through Twilio")
        left = mailing.trace_ids.filtered(lambda t: t.state == "pending")
        # the counters are asked before a walk from the mailing's first trace
        with patch.object(type(engine), "_count_unclaimed_behind", side_effect=AssertionError("looked behind")):
            rows = engine._claim_rows(mailing, params)
        self.assertEqual([row.id for row in rows], sorted(left.ids))

    def test_failover_when_twilio_is_down(self):
        self.gw_twilio.failover_threshold = 2
        self.twilio.fail_next.extend([503, 503])
        mailing = self._make_mailing(False)
        for _attempt in range(2):
            self._run_engine(mailing)
            self.assertFalse(self.twilio.messages)
            self._make_due(mailing)
        self.assertEqual(self.gw_twilio.consecutive_failures, 2)
        self.assertTrue(self.gw_twilio._is_failing())
        self.assertIn("go through World", mailing.message_ids[0].body)
        self._run_engine()
        self.assertEqual(mailing.state, "done")
        # the US messages left through the next gateway of their route, once each
        sent = sorted(m["number"] for m in self.sim.state()["sent"])
        self.assertEqual(sent, sorted([*self.us_numbers, self.ma_number]))
        self.assertEqual(len(self.twilio.messages), 0)
        self.assertEqual(sorted("+" + m["to"] for m in self.vonage.messages), self.be_numbers)
        traces = self._traces_by_number(mailing)
        self.assertEqual({traces[n].gateway_id for n in self.us_numbers}, {self.gw_http})
        self.assertEqual(set(mailing.trace_ids.mapped("state")), {"sent"})
