"""Chromium: a reply arrives, the marketer reads it in Conversations and answers
(static/src/tours/sms_marketing_conversation_tour.js)."""

import json

from odoo.tests import tagged

from .common import SmsProviderCase, load_gateway_simulator

SECRET = "tour-s3cret"


@tagged("post_install", "-at_install")
class TestConversationTour(SmsProviderCase):
    def test_conversation_tour(self):
        gateway = self.env["sms.marketing.gateway"].create(
            {"name": "Tour sandbox", "provider": "sandbox", "webhook_secret": SECRET, "default_price": 1.0}
        )
        gateway._change_balance(50.0, "purchase")
        self.env["sms.marketing.contact"].create({"name": "Tour Replier", "phone": "+32470123987"})
        body = json.dumps(
            {"messages": [{"number": "+32470123987", "content": "Is the offer valid in store?", "id": "tour-1"}]}
        ).encode()
        headers = load_gateway_simulator().signed_headers(SECRET, body)
        response = self.url_open(f"/sms_marketing/inbound/{gateway.id}", data=body, headers=headers)
        self.assertEqual(response.status_code, 200)
        self.start_tour("/web", "sms_marketing_custom_conversation", login=self.user_marketing.login)
        conversation = self.env["sms.marketing.conversation"].search([("number", "=", "+32470123987")])
        answer = conversation.sms_message_ids.filtered(lambda m: m.direction == "out")
        self.assertEqual(answer.body, "Yes, in every store until Sunday.")
        self.assertEqual((answer.state, answer.author_id, answer.gateway_id), ("sent", self.user_marketing, gateway))
        self.assertEqual(conversation.unread_count, 0)
        self.assertAlmostEqual(gateway.balance, 49.0)
