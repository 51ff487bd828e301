import json

from odoo.tests import HttpCase, tagged

from .common import load_gateway_simulator


@tagged("post_install", "-at_install")
class TestStatusWebhook(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.simulator = load_gateway_simulator()
        cls.gateway = cls.env["sms.marketing.gateway"].create(
            {"name": "Webhook", "provider": "http", "endpoint_url": "http://127.0.0.1:9", "webhook_secret": "s3cret"}
        )
        cls.other_gateway = cls.env["sms.marketing.gateway"].create(
            {"name": "Other", "provider": "http", "endpoint_url": "http://127.0.0.1:9", "webhook_secret": "other"}
        )
        mailing = cls.env["sms.marketing.mailing"].create(
            {"subject": "Webhook", "body": "Hi", "gateway_id": cls.gateway.id}
        )
        other_mailing = cls.env["sms.marketing.mailing"].create(
            {"subject": "Other", "body": "Hi", "gateway_id": cls.other_gateway.id}
        )
        cls.traces = cls.env["sms.marketing.trace"].create(
            [{"mailing_id": mailing.id, "res_id": i, "number": f"+3247000000{i}", "state": "sent"} for i in range(4)]
        )
        cls.traces[3].mailing_id = other_mailing

    def _post(self, gateway_id, statuses, secret="s3cret", signature=None, kind="status", key="statuses"):
        body = json.dumps({key: statuses}).encode()
        headers = self.simulator.signed_headers(secret, body)
        if signature is False:  # no header at all
            del headers["X-Signature"]
        elif signature is not None:
            headers["X-Signature"] = signature
        return self.url_open(f"/sms_marketing/{kind}/{gateway_id}", data=body, headers=headers)

    def test_signed_reports_move_traces(self):
        t0, t1, t2, t3 = self.traces
        response = self._post(
            self.gateway.id,
            [
                {"uuid": t0.uuid, "state": "delivered"},
                {"uuid": t1.uuid, "state": "undelivered"},
                {"uuid": t2.uuid, "state": "expired"},
                {"uuid": t3.uuid, "state": "delivered"},  # another gateway's trace: untouched
            ],
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["updated"], 3)
        self.traces.invalidate_recordset()
        self.assertEqual(self.traces.mapped("state"), ["delivered", "failed", "failed", "sent"])
        self.assertTrue(t0.delivered_at)
        self.assertEqual(t1.failure_type, "undelivered")
        self.assertEqual(t2.failure_type, "expired")
        # statuses never go backwards
        self._post(self.gateway.id, [{"uuid": t0.uuid, "state": "undelivered"}])
        t0.invalidate_recordset()
        self.assertEqual(t0.state, "delivered")

    def test_bad_signature_and_unknown_gateway_get_403(self):
        statuses = [{"uuid": self.traces[0].uuid, "state": "delivered"}]
        bad = self._post(self.gateway.id, statuses, secret="wrong")
        unknown = self._post(self.gateway.id + 1000, statuses)
        empty = self._post(self.gateway.id, statuses, signature="")
        missing = self._post(self.gateway.id, statuses, signature=False)
        other_secret = self._post(self.gateway.id, statuses, secret="other")
        for response in (bad, unknown, empty, missing, other_secret):
            self.assertEqual(response.status_code, 403)
            self.assertEqual(response.content, b"", "a 403 reveals nothing")
        self.traces.invalidate_recordset()
        self.assertEqual(self.traces[0].state, "sent")

    def test_signed_garbage_gets_400(self):
        body = b'{"statuses": "delivered"}'
        headers = self.simulator.signed_headers("s3cret", body)
        response = self.url_open(f"/sms_marketing/status/{self.gateway.id}", data=body, headers=headers)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.content, b"")

    def test_inbound_through_the_gateways_provider(self):
        messages = [{"number": "+32470000099", "content": "STOP"}]
        other = self._post(self.other_gateway.id, messages, kind="inbound", key="messages")
        self.assertEqual(other.status_code, 403, "signed with another gateway's secret")
        response = self._post(self.other_gateway.id, messages, secret="other", kind="inbound", key="messages")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["results"], [{"number": "+32470000099", "action": "optout"}])
        blacklist = self.env["sms.marketing.blacklist"].search([("number", "=", "+32470000099")])
        self.assertEqual(blacklist.source, "keyword")
