"""Conversations: inbound SMS kept once, matched, answered; through our protocol, Twilio and Vonage."""

import json
import secrets
import uuid

import psycopg2

from odoo import SUPERUSER_ID, api, fields, sql_db
from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, tagged

from ..tools.pricing import format_credits
from .common import SmsProviderCase, load_gateway_simulator, load_script

SECRET = "conv-s3cret"


class ConversationFixtures:
    """Gateways of the three webhook formats (their stand-ins on 127.0.0.1), a contact, a partner and a
    mailing sent to the contact's number."""

    @classmethod
    def _setup_conversation_fixtures(cls):
        cls.simulator = load_gateway_simulator()
        cls.sim = cls.simulator.Simulator(delivery=None).start()
        cls.addClassCleanup(cls.sim.stop)
        cls.http_gateway = cls.env["sms.marketing.gateway"].create(
            {
                "name": "Our protocol",
                "provider": "http",
                "endpoint_url": cls.sim.url,
                "allow_private_network": True,  # the stand-in listens on 127.0.0.1
                "api_key": cls.sim.api_key,
                "webhook_secret": SECRET,
                "default_price": 1.0,
            }
        )
        cls.http_gateway._change_balance(100.0, "purchase")
        cls.twilio_standin = load_script("twilio_standin.py", "sms_twilio_standin").TwilioStandin().start()
        cls.addClassCleanup(cls.twilio_standin.stop)
        cls.twilio = cls.env["sms.marketing.gateway"].create(
            {
                "name": "Twilio",
                "provider": "twilio",
                "endpoint_url": cls.twilio_standin.url,
                "allow_private_network": True,
                "account_id": cls.twilio_standin.account_sid,
                "api_key": cls.twilio_standin.auth_token,
                "sender": "+15005550006",
                "default_price": 1.0,
            }
        )
        cls.twilio._change_balance(100.0, "purchase")
        cls.vonage_standin = load_script("vonage_standin.py", "sms_vonage_standin").VonageStandin().start()
        cls.addClassCleanup(cls.vonage_standin.stop)
        cls.vonage = cls.env["sms.marketing.gateway"].create(
            {
                "name": "Vonage",
                "provider": "vonage",
                "endpoint_url": cls.vonage_standin.url,
                "allow_private_network": True,
                "account_id": cls.vonage_standin.api_key,
                "api_key": cls.vonage_standin.api_secret,
                "webhook_secret": cls.vonage_standin.signature_secret,
                "sender": "AcmeShop",
                "default_price": 0.05,
            }
        )
        cls.vonage._change_balance(100.0, "purchase")
        cls.contact = cls.env["sms.marketing.contact"].create({"name": "Ann Replier", "phone": "+32470111222"})
        cls.partner = cls.env["res.partner"].create({"name": "Ann's company", "mobile": "+32470111222"})
        cls.mailing = cls.env["sms.marketing.mailing"].create(
            {"subject": "Spring sale", "body": "Spring sale!", "user_id": cls.user_marketing.id}
        )
        cls.env["sms.marketing.trace"].create(
            {
                "mailing_id": cls.mailing.id,
                "res_model": "sms.marketing.contact",
                "res_id": cls.contact.id,
                "number": "+32470111222",
                "state": "delivered",
                "sent_at": fields.Datetime.now(),
            }
        )


@tagged("post_install", "-at_install")
class TestConversationsInbound(ConversationFixtures, SmsProviderCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_conversation_fixtures()

    def setUp(self):
        super().setUp()
        self.twilio_standin.reset()
        self.vonage_standin.reset()
        self.Conversation = self.env["sms.marketing.conversation"]

    def _post_ours(self, messages, gateway=None):
        body = json.dumps({"messages": messages}).encode()
        url = f"{self.odoo_url}/sms_marketing/inbound/{(gateway or self.http_gateway).id}"
        response = self.url_open(url, data=body, headers=self.simulator.signed_headers(SECRET, body))
        self.env.invalidate_all()
        self.assertEqual(response.status_code, 200)
        return response.json()["results"]

    def _conversation(self, number, gateway=None):
        company = (gateway or self.http_gateway).company_id or self.env.company
        return self.Conversation.search([("number", "=", number), ("company_id", "=", company.id)])

    def test_our_protocol_kept_once_matched_and_keywords_still_act(self):
        results = self._post_ours(
            [
                {
                    "number": "+32470111222",
                    "content": "Is the offer valid in store?",
                    "id": "m-1",
                    "media": ["https://media.example.com/a.jpg", "javascript:alert(1)"],
                },
                {"number": "32470111222", "content": "HELP", "id": "m-2"},
            ]
        )
        self.assertEqual([r["action"] for r in results], ["ignored", "help"])
        conversation = self._conversation("+32470111222")
        self.assertEqual(len(conversation), 1)
        self.assertEqual(conversation.name, "Ann Replier", "named after the list contact")
        thread = conversation.sms_message_ids
        self.assertEqual(thread.mapped("body"), ["Is the offer valid in store?", "HELP"])
        self.assertEqual(thread.mapped("provider_message_id"), ["m-1", "m-2"])
        self.assertEqual(thread[0].media_urls, "https://media.example.com/a.jpg", "only https links are kept")
        self.assertEqual(thread.mapped("is_keyword"), [False, True])
        self.assertEqual(thread.mapped("mailing_id"), self.mailing)
        self.assertEqual((conversation.unread_count, conversation.last_mailing_id), (1, self.mailing))
        self.assertEqual(conversation.last_gateway_id, self.http_gateway)
        matched = {(m.res_model, m.res_id) for m in conversation.sudo().match_ids}
        self.assertEqual(matched, {("sms.marketing.contact", self.contact.id), ("res.partner", self.partner.id)})
        # the provider delivers the same messages again in a new call: nothing more is stored or applied
        answers = self.env["sms.marketing.credit.move"].search_count([("gateway_id", "=", self.http_gateway.id)])
        again = self._post_ours(
            [
                {"number": "+32470111222", "content": "HELP", "id": "m-2"},
                {"number": "+32470111222", "content": "Is the offer valid in store?", "id": "m-1"},
            ]
        )
        self.assertEqual([r["action"] for r in again], ["duplicate", "duplicate"])
        self.assertEqual(len(conversation.sms_message_ids), 2)
        self.assertEqual(conversation.unread_count, 1)
        self.assertEqual(
            self.env["sms.marketing.credit.move"].search_count([("gateway_id", "=", self.http_gateway.id)]),
            answers,
            "HELP answered once",
        )

    def test_reply_on_the_chatters_counted_on_the_mailing_and_announced_once(self):
        Activity = self.env["mail.activity"]

        def activities(conversation):
            return Activity.search([("res_model", "=", conversation._name), ("res_id", "=", conversation.id)])

        self._post_ours([{"number": "+32470111222", "content": "Is the offer valid in store?", "id": "c-1"}])
        conversation = self._conversation("+32470111222")
        for record in (self.contact, self.partner):
            note = record.message_ids.filtered(lambda m: "valid in store" in (m.body or ""))
            self.assertEqual(len(note), 1, record._name)
            self.assertEqual(note.subtype_id, self.env.ref("mail.mt_note"))
            self.assertEqual(note.author_id, self.partner, "written by the person (the partner with the number)")
            self.assertEqual(note.subject, "SMS reply", "its team reads English here (_get_note_subject)")
        self.assertEqual(self.mailing.reply_count, 1)
        first = activities(conversation)
        self.assertEqual(first.user_id, self.user_marketing, "the mailing's Responsible")
        # more messages before anyone read them: no second announcement
        self._post_ours([{"number": "+32470111222", "content": "And online?", "id": "c-2"}])
        self._post_ours([{"number": "+32470111222", "content": "STOP", "id": "c-3"}])
        self.assertEqual(activities(conversation), first)
        self.assertEqual(conversation.unread_count, 2, "the keyword is applied, not waiting for an answer")
        self.assertEqual(self.mailing.reply_count, 2)
        self.assertFalse(self.contact.message_ids.filtered(lambda m: (m.body or "").find("STOP") >= 0))
        conversation.with_user(self.user_marketing).action_mark_read()
        self.assertEqual(conversation.unread_count, 0)
        self.assertFalse(activities(conversation), "done when its user read the conversation")
        self.env["sms.marketing.blacklist"]._remove_numbers(["+32470111222"], "keyword")
        self._post_ours([{"number": "+32470111222", "content": "Thanks!", "id": "c-4"}])
        self.assertEqual(len(activities(conversation)), 1, "a new unread message after reading: announced again")
        # a number no mailing reached: the company's conversation team
        self.env.company.sms_marketing_conversation_user_ids = self.user_manager
        self._post_ours([{"number": "+32470999111", "content": "Who is this?", "id": "c-5"}])
        stranger = self._conversation("+32470999111")
        self.assertEqual(stranger.name, "+32470999111")
        self.assertEqual(activities(stranger).user_id, self.user_manager)

    def test_replied_figures_ab_winner_and_engagement_filter(self):
        Contact = self.env["sms.marketing.contact"]
        mailing = self.env["sms.marketing.mailing"].create(
            {"subject": "A/B", "body": "Version A text", "ab_testing": True, "ab_winner_metric": "replies"}
        )
        version_a = mailing.variant_ids
        version_b = self.env["sms.marketing.mailing.variant"].create(
            {"mailing_id": mailing.id, "body": "Version B text", "sequence": 20}
        )
        numbers = [f"+3247033300{i}" for i in range(4)]
        contacts = Contact.create([{"name": f"AB {i}", "phone": n} for i, n in enumerate(numbers)])
        sent_at = fields.Datetime.now()
        self.env["sms.marketing.trace"].create(
            [
                {
                    "mailing_id": mailing.id,
                    "res_model": "sms.marketing.contact",
                    "res_id": contact.id,
                    "number": contact.phone_sanitized,
                    "state": "delivered",
                    "sent_at": sent_at,
                    "variant_id": (version_a if i < 2 else version_b).id,
                    "ab_sample": True,
                }
                for i, contact in enumerate(contacts)
            ]
        )
        self.assertEqual(self.env["sms.marketing.mailing.variant"]._pick_winner(mailing), version_a, "tie: A")
        # both of B's recipients answer (one twice), one of A's sends only a keyword
        self._post_ours(
            [
                {"number": numbers[2], "content": "Yes please", "id": "ab-1"},
                {"number": numbers[3], "content": "How much?", "id": "ab-2"},
                {"number": numbers[3], "content": "Hello?", "id": "ab-3"},
                {"number": numbers[0], "content": "HELP", "id": "ab-4"},
            ]
        )
        self.env.invalidate_all()
        self.assertEqual((version_a.replied_count, version_b.replied_count), (0, 2))
        self.assertEqual(version_b.reply_rate, 100.0)
        self.assertEqual(self.env["sms.marketing.mailing.variant"]._pick_winner(mailing), version_b)
        self.assertEqual((mailing.replied_count, mailing.reply_count), (2, 3))
        self.assertEqual(mailing.replied_ratio, 50.0)
        # each button opens what it counts, as a marketer: the three answers, the two who answered (HELP is none)
        as_marketer = mailing.with_user(self.user_marketing)
        buttons = (("action_view_replies", "reply_count", 3), ("action_view_repliers", "replied_count", 2))
        for button, figure, count in buttons:
            action = getattr(as_marketer, button)()
            opened = self.env[action["res_model"]].with_user(self.user_marketing).search(action["domain"])
            self.assertEqual((len(opened), as_marketer[figure]), (count, count), button)
        answers = self.env["sms.marketing.conversation.message"].search(mailing.action_view_replies()["domain"])
        self.assertEqual(sorted(answers.mapped("body")), ["Hello?", "How much?", "Yes please"])
        conversation = answers[0].action_open_conversation()
        self.assertEqual(
            (conversation["res_model"], conversation["res_id"]),
            ("sms.marketing.conversation", answers[0].conversation_id.id),
        )
        row = self.env["sms.marketing.campaign.report"].search([("mailing_id", "=", mailing.id)])
        self.assertEqual(row.replied_count, 2)
        # the engagement filter, as a marketer: the contacts who answered lately
        as_marketer = Contact.with_user(self.user_marketing)
        replied = as_marketer.search([("sms_replied_30d", "=", True), ("id", "in", contacts.ids)])
        self.assertEqual(replied, contacts[2:])
        self.assertEqual(
            as_marketer.search([("sms_replied_30d", "=", False), ("id", "in", contacts.ids)]), contacts[:2]
        )
        self.assertEqual(as_marketer.browse(contacts.ids).mapped("sms_replied_30d"), [False, False, True, True])
        # a marketer of another company sees no answer received by company A
        other = Contact.with_user(self.marketer_ab).with_context(allowed_company_ids=[self.company_b.id])
        self.assertFalse(other.search([("sms_replied_30d", "=", True), ("id", "in", contacts.ids)]))

    def test_twilio_inbound_with_mms_links_kept_once(self):
        url = f"{self.odoo_url}/sms_marketing/inbound/{self.twilio.id}"
        sid = "SM" + uuid.uuid4().hex
        params = [
            ("AccountSid", self.twilio_standin.account_sid),
            ("Body", "Here is my receipt"),
            ("From", "+32470111222"),
            ("MessageSid", sid),
            ("NumMedia", "2"),
            ("MediaUrl0", "https://api.twilio.com/media/ME1"),
            ("MediaUrl1", "https://api.twilio.com/media/ME2"),
            ("To", "+15005550006"),
        ]
        status, body = self.twilio_standin._post_signed(url, params)
        self.assertEqual(status, 200)
        self.assertIn(b"<Response>", body)
        self.env.invalidate_all()
        message = self._conversation("+32470111222", self.twilio).sms_message_ids
        self.assertEqual(message.provider_message_id, sid)
        self.assertEqual(
            message.media_urls.split("\n"), ["https://api.twilio.com/media/ME1", "https://api.twilio.com/media/ME2"]
        )
        self.assertEqual(message.gateway_id, self.twilio)
        # Twilio's retry of the same message: answered, stored once
        self.assertEqual(self.twilio_standin._post_signed(url, params)[0], 200)
        self.env.invalidate_all()
        self.assertEqual(len(self._conversation("+32470111222", self.twilio).sms_message_ids), 1)
        # forged: nothing stored
        status, _body = self.twilio_standin.post_inbound(url, "+32470999888", "hello", auth_token="forged")
        self.assertEqual(status, 403)
        self.assertFalse(self._conversation("+32470999888", self.twilio))

    def test_vonage_inbound_kept(self):
        url = f"{self.odoo_url}/sms_marketing/inbound/{self.vonage.id}"
        status, _body = self.vonage_standin.post_inbound(url, "32470111222", "Do you deliver to Ghent?")
        self.assertEqual(status, 200)
        self.env.invalidate_all()
        message = self._conversation("+32470111222", self.vonage).sms_message_ids
        self.assertEqual(message.body, "Do you deliver to Ghent?")
        self.assertTrue(message.provider_message_id)
        self.assertEqual(message.mailing_id, self.mailing)
        self.assertEqual(self.vonage_standin.post_inbound(url, "32470111222", "x", secret="forged")[0], 403)

    def test_reply_window_ties_replies_to_recent_mailings_only(self):
        self.env.company.sms_marketing_reply_window_days = 7
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE sms_marketing_trace SET sent_at = now() at time zone 'UTC' - interval '8 days'
                WHERE mailing_id = %s""",
            [self.mailing.id],
        )
        self._post_ours([{"number": "+32470111222", "content": "late answer", "id": "late"}])
        self.assertFalse(self._conversation("+32470111222").sms_message_ids.mailing_id)
        self.env.company.sms_marketing_reply_window_days = 9
        self._post_ours([{"number": "+32470111222", "content": "still counts", "id": "later"}])
        self.assertEqual(self._conversation("+32470111222").sms_message_ids[-1].mailing_id, self.mailing)

    def test_burst_announced_to_readers_set_wise(self):
        """Who may read each new conversation is checked once per user, not once per conversation."""
        self.env.company.sms_marketing_conversation_user_ids = self.user_manager | self.user_marketing
        numbers = [f"+3247{3000000 + i:07d}" for i in range(400)]
        self.env["sms.marketing.contact"].create([{"name": f"Burst {n}", "phone": n} for n in numbers[:200]])
        rows = [
            {"index": i, "number": n, "content": "hi", "provider_id": f"team-{i}", "media": None}
            for i, n in enumerate(numbers)
        ]
        stored = self.Conversation._store_inbound(self.http_gateway, self.env.company, rows)
        conversations = self.env["sms.marketing.conversation.message"].browse(stored.values()).conversation_id
        self.env.flush_all()
        queries_before = self.env.cr.sql_log_count
        readers = conversations._get_readers(lambda c: c.company_id.sms_marketing_conversation_user_ids)
        self.assertLess(self.env.cr.sql_log_count - queries_before, 50, "a few per user, not one per conversation")
        known = conversations.filtered(lambda c: c.number in numbers[:200])
        self.assertEqual({readers[c.id] for c in known}, {self.user_manager | self.user_marketing})
        self.assertEqual({readers[c.id] for c in conversations - known}, {self.user_manager}, "unknown: managers")

    def test_burst_of_a_thousand_set_wise(self):
        numbers = [f"+3247{2000000 + i:07d}" for i in range(1000)]
        self.env["sms.marketing.contact"].create([{"name": f"Burst {n}", "phone": n} for n in numbers[:500]])
        items = [{"number": n, "content": f"reply {i}", "id": f"burst-{i}"} for i, n in enumerate(numbers)]
        queries_before = self.env.cr.sql_log_count
        results = self.Conversation._receive(self.http_gateway, items, "nonce:burst")
        queries = self.env.cr.sql_log_count - queries_before
        self.assertEqual([r["action"] for r in results], ["ignored"] * 1000)
        self.assertEqual(self.Conversation.search_count([("number", "in", numbers)]), 1000)
        self.assertEqual(self.env["sms.marketing.conversation.message"].search_count([("number", "in", numbers)]), 1000)
        self.assertLess(queries, 300, "set-wise: a bounded number of queries, not several per message")
        again = self.Conversation._receive(self.http_gateway, items, "nonce:burst-again")
        self.assertEqual({r["action"] for r in again}, {"duplicate"})
        self.assertEqual(self.env["sms.marketing.conversation.message"].search_count([("number", "in", numbers)]), 1000)


@tagged("post_install", "-at_install")
class TestInboundTakesNoGatewayLock(TransactionCase):
    """An inbound SMS being stored holds no lock on the gateway's row that a sender needs: on committed
    connections of their own, the sender's row lock is taken (NOWAIT) while the inbound's transaction
    is still open."""

    def _cursor(self):
        return sql_db.db_connect(self.env.cr.dbname).cursor()

    def setUp(self):
        super().setUp()
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            gateway = env["sms.marketing.gateway"].create(
                {"name": "Busy", "provider": "sandbox", "webhook_secret": SECRET}
            )
            gateway._change_balance(10.0, "purchase")
            self.gateway_id = gateway.id
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self._cursor() as cr:
            cr.execute("DELETE FROM sms_marketing_conversation WHERE number = '+32470555666'")
            cr.execute("DELETE FROM sms_marketing_credit_move WHERE gateway_id = %s", [self.gateway_id])
            cr.execute("DELETE FROM sms_marketing_gateway WHERE id = %s", [self.gateway_id])
            cr.commit()  # pylint: disable=invalid-commit

    def test_sender_locks_the_gateway_while_an_inbound_is_open(self):
        simulator = load_gateway_simulator()
        body = json.dumps({"messages": [{"number": "+32470555666", "content": "Open on Sunday?"}]}).encode()
        headers = simulator.signed_headers(SECRET, body, nonce=secrets.token_hex(16))
        with self._cursor() as inbound, self._cursor() as sender:
            env = api.Environment(inbound, SUPERUSER_ID, {})
            status, answer = env["sms.marketing.gateway"]._route_webhook(
                self.gateway_id,
                body,
                headers,
                f"http://127.0.0.1/sms_marketing/inbound/{self.gateway_id}",
                "messages",
            )
            self.assertEqual((status, answer["results"][0]["action"]), (200, "ignored"))
            env.flush_all()
            # the inbound's transaction is open: the locks it took are held now
            inbound.execute("SELECT count(*) FROM sms_marketing_conversation_message WHERE number = '+32470555666'")
            self.assertEqual(inbound.fetchone()[0], 1)
            try:
                # what every sender takes (balance, rate slots, failures; _refresh_balance too)
                sender.execute(
                    "SELECT id FROM sms_marketing_gateway WHERE id = %s FOR NO KEY UPDATE NOWAIT", [self.gateway_id]
                )
            except psycopg2.errors.LockNotAvailable:
                self.fail("the inbound path holds a lock on the gateway's row")
            sender.rollback()
            inbound.commit()  # pylint: disable=invalid-commit


@tagged("post_install", "-at_install")
class TestConversationReplies(ConversationFixtures, SmsProviderCase):
    """A marketer answers through the gateway that received the message: each provider, charged."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_conversation_fixtures()
        cls.Receive = cls.env["sms.marketing.conversation"]

    def setUp(self):
        super().setUp()
        self.twilio_standin.reset()
        self.vonage_standin.reset()
        self.sim.configure(reset=True, balance=1000.0, prices={"*": 1.0}, fail_next=[], number_states={})

    def _conversation_through(self, gateway, number="+32470111222", text="Open on Sunday?"):
        self.Receive._receive(gateway, [{"number": number, "content": text, "id": uuid.uuid4().hex}])
        return self.Receive.search([("number", "=", number), ("company_id", "=", self.env.company.id)])

    def _reply(self, conversation, text, user=None):
        conversation = conversation.with_user(user or self.user_marketing)
        conversation.reply_body = text
        conversation.action_send_reply()
        self.env.invalidate_all()
        return conversation.sms_message_ids.filtered(lambda m: m.direction == "out")[-1:]

    def test_reply_through_each_provider_is_sent_charged_and_recorded(self):
        for gateway, received in (
            (self.http_gateway, lambda: [(m["number"], m["content"]) for m in self.sim.sent]),
            (self.twilio, lambda: [(m["to"], m["body"]) for m in self.twilio_standin.messages]),
            (self.vonage, lambda: [("+" + m["to"], m["text"]) for m in self.vonage_standin.messages]),
        ):
            with self.subTest(provider=gateway.provider):
                conversation = self._conversation_through(gateway)
                self.assertEqual(conversation.last_gateway_id, gateway)
                balance = gateway.balance
                conversation.with_user(self.user_marketing).reply_body = "Yes, 9 to 12."
                self.assertIn(
                    "13 characters, GSM-7, 1 SMS part", conversation.with_user(self.user_marketing).reply_sms_info
                )
                self.assertIn(gateway.name, conversation.with_user(self.user_marketing).reply_cost)
                reply = self._reply(conversation, "Yes, 9 to 12.")
                self.assertEqual(received()[-1:], [("+32470111222", "Yes, 9 to 12.")])
                self.assertEqual(
                    (reply.state, reply.gateway_id, reply.author_id), ("sent", gateway, self.user_marketing)
                )
                self.assertGreater(reply.cost, 0)
                self.assertAlmostEqual(gateway.balance, balance - reply.cost, places=4, msg="charged on the ledger")
                self.assertEqual(conversation.unread_count, 0, "answered: read")
                self.assertFalse(conversation.reply_body)
        # the next message after an answer is unread (the reading, still in the ORM's cache, is written before
        # the count grows)
        self.Receive._receive(self.vonage, [{"number": "+32470111222", "content": "One more?", "id": "before"}])
        as_marketer = conversation.with_user(self.user_marketing)
        as_marketer.reply_body = "Sure."
        as_marketer.action_send_reply()
        self.Receive._receive(self.vonage, [{"number": "+32470111222", "content": "Thanks!", "id": "after"}])
        self.env.invalidate_all()
        self.assertEqual(conversation.unread_count, 1)

    def test_reply_estimate_is_what_the_reply_is_charged(self):
        conversation = self._conversation_through(self.http_gateway).with_user(self.user_marketing)
        # two UCS-2 parts as sent; the trailing lines typed in the box are not sent, nor counted
        text = "Grazie ă, " * 13
        conversation.reply_body = text + "\n" * 6
        info, estimate = conversation.reply_sms_info, conversation.reply_cost
        balance = self.http_gateway.balance
        reply = self._reply(conversation, conversation.reply_body)
        self.assertEqual((reply.state, reply.body), ("sent", text.strip()))
        charged = round(balance - self.http_gateway.balance, 4)
        self.assertEqual(charged, 2.0, "two parts at 1 credit")
        self.assertEqual(reply.cost, charged)
        self.assertIn("Unicode (UCS-2), 2 SMS parts", info)
        self.assertEqual(estimate, f"{format_credits(self.env, charged)} credits on {self.http_gateway.name}")
        # the thread says who wrote each line
        self.assertEqual(conversation.sms_message_ids.mapped("sender_name"), ["Ann Replier", self.user_marketing.name])

    def test_reply_refused_to_a_blacklisted_number_with_the_reason(self):
        conversation = self._conversation_through(self.http_gateway)
        self.Receive._receive(self.http_gateway, [{"number": "+32470111222", "content": "STOP", "id": "stop-1"}])
        with self.assertRaisesRegex(UserError, "blacklisted since .* Keyword"):
            self._reply(conversation, "Sorry to see you go")
        self.env["sms.marketing.reply"]._cron_send()  # the keyword's answer leaves by the reply cron
        self.assertEqual(
            [m["content"] for m in self.sim.sent],
            [self.env.company._get_sms_marketing_reply("stop", "en_US")],
            "only the STOP's own compliance answer left",
        )

    def test_a_user_writes_only_the_reply(self):
        conversation = self._conversation_through(self.http_gateway).with_user(self.user_marketing)
        conversation.reply_body = "Draft"
        for field, value in (("number", "+32470000000"), ("unread_count", 0), ("company_id", self.company_b.id)):
            with self.subTest(field=field), self.assertRaises(UserError):
                conversation.write({field: value})


@tagged("post_install", "-at_install")
class TestConversationAccess(ConversationFixtures, SmsProviderCase):
    """Users see the conversations of records they may read, in their companies; an unknown number, managers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_conversation_fixtures()
        Receive = cls.env["sms.marketing.conversation"]
        Receive._receive(cls.http_gateway, [{"number": "+32470111222", "content": "known", "id": "a-1"}])
        Receive._receive(cls.http_gateway, [{"number": "+32470777888", "content": "unknown", "id": "a-2"}])
        cls.known = Receive.search([("number", "=", "+32470111222")])
        cls.unknown = Receive.search([("number", "=", "+32470777888")])

    def _visible(self, user, model="sms.marketing.conversation"):
        return self.env[model].with_user(user).search([("number", "in", ["+32470111222", "+32470777888"])])

    def test_who_sees_which_conversation(self):
        self.assertEqual(self._visible(self.user_marketing), self.known)
        self.assertEqual(self._visible(self.user_manager), self.known | self.unknown)
        self.assertFalse(self._visible(self.marketer_b), "another company's")
        messages = self._visible(self.user_marketing, "sms.marketing.conversation.message")
        self.assertEqual(messages.mapped("body"), ["known"])
        with self.assertRaises(AccessError):
            self.unknown.with_user(self.user_marketing).read(["last_message"])
        # the contact leaves the marketer's company: its conversation goes with it (the partner has the number
        # too, and partners are readable: take the mobile away)
        self.partner.mobile = False
        self.contact.company_id = self.company_b
        self.env["sms.marketing.conversation"]._receive(
            self.http_gateway, [{"number": "+32470111222", "content": "again", "id": "a-3"}]
        )
        self.assertFalse(self._visible(self.user_marketing))
        self.assertEqual(self._visible(self.user_manager), self.known | self.unknown)

    def test_texts_are_not_logged(self):
        """Whatever the addon logs while it receives a message (at any level), the text is not in it."""
        import logging

        records = []
        handler = logging.Handler(logging.DEBUG)
        handler.emit = records.append
        logger = logging.getLogger("odoo.addons.sms_marketing_custom")
        level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        try:
            body = json.dumps({"messages": [{"number": "+32470111222", "content": "SECRET-MARKER-42"}]}).encode()
            url = f"{self.odoo_url}/sms_marketing/inbound/{self.http_gateway.id}"
            headers = self.simulator.signed_headers(SECRET, body)
            self.assertEqual(self.url_open(url, data=body, headers=headers).status_code, 200)
            self.assertEqual(self.url_open(url, data=body, headers=headers).status_code, 200)  # a replay: logged
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
        self.assertTrue(records, "the replay was logged")
        self.assertFalse([r for r in records if "SECRET-MARKER-42" in r.getMessage()])


@tagged("post_install", "-at_install")
class TestInboundCompanyAndReaders(ConversationFixtures, SmsProviderCase):
    """Which company an inbound SMS lands in, and who is told about it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_conversation_fixtures()
        # a gateway of no company, shared by companies A and B
        cls.shared = cls.env["sms.marketing.gateway"].create(
            {
                "name": "Shared",
                "provider": "http",
                "company_id": False,
                "endpoint_url": cls.sim.url,
                "allow_private_network": True,
                "api_key": cls.sim.api_key,
                "webhook_secret": SECRET,
                "default_price": 1.0,
            }
        )
        cls.contact_b = cls.env["sms.marketing.contact"].create(
            {"name": "Bea of B", "phone": "+32470555666", "company_id": cls.company_b.id}
        )
        cls.mailing_b = cls.env["sms.marketing.mailing"].create(
            {"subject": "B's sale", "body": "B's sale!", "company_id": cls.company_b.id, "user_id": cls.marketer_b.id}
        )
        cls.env["sms.marketing.trace"].create(
            {
                "mailing_id": cls.mailing_b.id,
                "res_model": "sms.marketing.contact",
                "res_id": cls.contact_b.id,
                "number": "+32470555666",
                "gateway_id": cls.shared.id,
                "state": "delivered",
                "sent_at": fields.Datetime.now(),
            }
        )

    def _post(self, messages, gateway):
        body = json.dumps({"messages": messages}).encode()
        url = f"{self.odoo_url}/sms_marketing/inbound/{gateway.id}"
        response = self.url_open(url, data=body, headers=self.simulator.signed_headers(SECRET, body))
        self.env.invalidate_all()
        self.assertEqual(response.status_code, 200)
        return response.json()["results"]

    def _activity_users(self, conversation):
        return (
            self.env["mail.activity"]
            .search([("res_model", "=", conversation._name), ("res_id", "=", conversation.id)])
            .user_id
        )

    def test_shared_gateway_follows_the_last_trace_whoever_posts(self):
        Conversation = self.env["sms.marketing.conversation"]
        # the caller holds a session of company A: the answer to B's mailing still lands in B
        self.authenticate("sms_marketer", "sms_marketer")
        self._post([{"number": "+32470555666", "content": "Open on Sunday?", "id": "s-1"}], self.shared)
        conversation = Conversation.search([("number", "=", "+32470555666")])
        self.assertEqual(conversation.company_id, self.company_b, "the company of the mailing last sent to it")
        self.assertEqual(conversation.last_mailing_id, self.mailing_b)
        self.assertEqual(conversation.sms_message_ids.company_id, self.company_b)
        matched = {(m.res_model, m.res_id) for m in conversation.match_ids}
        self.assertEqual(matched, {("sms.marketing.contact", self.contact_b.id)}, "B's contact")
        of_number = [("number", "=", "+32470555666")]
        self.assertEqual(Conversation.with_user(self.marketer_b).search(of_number), conversation)
        self.assertFalse(Conversation.with_user(self.user_marketing).search(of_number))
        # a number the gateway carried nothing to, posted with a session of company B: the main company,
        # not the caller's
        self.authenticate("sms_marketer_b", "sms_marketer_b")
        self._post([{"number": "+32470123123", "content": "Who is this?", "id": "s-2"}], self.shared)
        stranger = Conversation.search([("number", "=", "+32470123123")])
        self.assertEqual(stranger.company_id, self.env.ref("base.main_company"))
        # a gateway of a company receives for its company, whatever the traces
        self._post([{"number": "+32470555666", "content": "Hello A", "id": "s-3"}], self.http_gateway)
        self.assertEqual(
            Conversation.search([("number", "=", "+32470555666")]).company_id, self.company_a | self.company_b
        )

    def test_keywords_act_in_the_company_the_message_lands_in(self):
        self.company_b.sms_marketing_keywords_help = "BHELP"
        results = self._post([{"number": "+32470555666", "content": "BHELP", "id": "k-1"}], self.shared)
        self.assertEqual([r["action"] for r in results], ["help"], "B's keyword for B's number")
        results = self._post([{"number": "+32470123124", "content": "BHELP", "id": "k-2"}], self.shared)
        self.assertEqual([r["action"] for r in results], ["ignored"], "not the main company's keyword")

    def test_shared_gateway_follows_a_mailing_the_engine_sent(self):
        """The engine's traces name no gateway (no route, a provider that needs no in-flight mark): the
        mailing's gateway, else its company's default, is the one the number was written through."""
        Conversation = self.env["sms.marketing.conversation"]
        self.shared.sequence = -1  # the default gateway of every company: the common setup, no routes
        self.shared._change_balance(100.0, "purchase")
        self.company_b.sms_marketing_keywords_optout = "BSTOP"
        sent = {}
        for number, gateway in (("+32470555001", self.shared), ("+32470555002", False)):
            list_b = self.env["sms.marketing.list"].create({"name": number, "company_id": self.company_b.id})
            self.env["sms.marketing.contact"].create(
                {"name": number, "phone": number, "company_id": self.company_b.id, "list_ids": [(4, list_b.id)]}
            )
            mailing = self._make_mailing(gateway, sms_list=list_b, company_id=self.company_b.id)
            self.assertEqual(mailing._get_gateway(), self.shared)
            self._run_engine(mailing)
            sent[number] = mailing
            self.assertEqual(mailing.trace_ids.mapped("state"), ["sent"])
        results = Conversation._receive(
            self.shared,
            [
                {"number": "+32470555001", "content": "BSTOP", "id": "e-1"},
                {"number": "+32470555002", "content": "BSTOP", "id": "e-2"},
            ],
        )
        self.assertEqual([r["action"] for r in results], ["optout", "optout"], "B's STOP word")
        for number, mailing in sent.items():
            conversation = Conversation.search([("number", "=", number)])
            self.assertEqual(conversation.company_id, self.company_b, "the company of the mailing sent to it")
            self.assertEqual(conversation.last_mailing_id, mailing)

    def test_new_reply_told_only_to_who_may_read_it(self):
        Conversation = self.env["sms.marketing.conversation"]
        self.company_a.sms_marketing_conversation_user_ids = self.user_marketing | self.user_manager
        # the Responsible of A's mailing works in B only: they may not read A's contact nor its conversation
        self.mailing.user_id = self.marketer_b
        Conversation._receive(self.http_gateway, [{"number": "+32470111222", "content": "In store?", "id": "n-1"}])
        known = Conversation.search([("number", "=", "+32470111222"), ("company_id", "=", self.company_a.id)])
        self.assertFalse(known.with_user(self.marketer_b).search([("id", "=", known.id)]))
        self.assertEqual(self._activity_users(known), self.user_marketing | self.user_manager, "the team instead")
        # a number no record has: managers only, even when the mailing's Responsible is a marketer
        self.mailing.user_id = self.user_marketing
        self.env["sms.marketing.trace"].create(
            {
                "mailing_id": self.mailing.id,
                "number": "+32470888999",
                "state": "delivered",
                "sent_at": fields.Datetime.now(),
            }
        )
        Conversation._receive(self.http_gateway, [{"number": "+32470888999", "content": "Who?", "id": "n-2"}])
        unknown = Conversation.search([("number", "=", "+32470888999")])
        self.assertEqual(unknown.last_mailing_id, self.mailing)
        self.assertFalse(unknown.match_ids)
        self.assertEqual(self._activity_users(unknown), self.user_manager)


@tagged("post_install", "-at_install")
class TestDemoConversations(TransactionCase):
    def test_the_storys_figures_agree_with_its_ledger_and_lists(self):
        """What the demo's sent mailings show is what the rest of the app shows: the credits they spent are
        on the gateway's ledger, and whoever opted out left the lists (the Italian walk-through found
        "Opted out 3" on a mailing and the three still subscribed, 1,248 credits spent and none in the ledger)."""
        self.env["sms.marketing.demo"]._create_demo_story()
        mailings = self.env["sms.marketing.mailing"].search(
            [("subject", "in", ["Spring sale: 20% off", "Weekend flash sale", "New store opening"])],
            order="id desc",
            limit=3,
        )
        Move = self.env["sms.marketing.credit.move"]
        opted_out = 0
        for mailing in mailings:
            traces = mailing.trace_ids
            spent = -sum(Move.search([("mailing_id", "=", mailing.id), ("move_type", "=", "spend")]).mapped("amount"))
            self.assertGreater(spent, 0)
            self.assertAlmostEqual(spent, sum(traces.mapped("cost")), places=4)
            for trace in traces.filtered("optout_at"):
                opted_out += 1
                subscriptions = self.env["sms.marketing.subscription"].search(
                    [("contact_id", "=", trace.res_id), ("list_id", "in", mailing.list_ids.ids)]
                )
                self.assertTrue(subscriptions)
                self.assertTrue(all(subscriptions.mapped("opt_out")), f"{trace.number} left {mailing.subject}")
                self.assertTrue(
                    self.env["sms.marketing.consent"].search_count(
                        [("contact_id", "=", trace.res_id), ("event", "=", "opt_out")]
                    ),
                    "the opt-out is in the consent log",
                )
        self.assertGreater(opted_out, 0, "the story has opt-outs")
        gateway = mailings[0].gateway_id or mailings[0]._get_gateway()
        ledger = sum(Move.search([("gateway_id", "=", gateway.id)]).mapped("amount"))
        self.assertAlmostEqual(gateway.balance, ledger, places=4, msg="the balance is the sum of the ledger")

    def test_the_story_has_answers_to_its_last_mailing(self):
        # the story told again: the database's own (a demo database has it) is not in the way
        self.env["sms.marketing.conversation"].search([]).unlink()
        self.env["sms.marketing.demo"]._create_demo_story()
        mailing = self.env["sms.marketing.mailing"].search([("subject", "=", "New store opening")], order="id desc")[:1]
        admin = self.env.ref("base.user_admin")
        conversations = (
            self.env["sms.marketing.conversation"].with_user(admin).search([("last_mailing_id", "=", mailing.id)])
        )
        self.assertEqual(len(conversations), 3)
        self.assertEqual(mailing.reply_count, 5, "the Replies button counts them")
        self.assertEqual(mailing.replied_count, 3)
        answered = conversations.filtered(lambda c: not c.unread_count)
        self.assertEqual(answered.sms_message_ids.mapped("direction"), ["in", "out", "in"])
        self.assertEqual(sorted(conversations.mapped("unread_count")), [0, 1, 2])
        for conversation in conversations:
            self.assertGreater(conversation.sms_message_ids[0].date, mailing.sent_date, "answered after it")
            self.assertEqual(conversation.last_message_at, conversation.sms_message_ids[-1].date)
            received = conversation.sms_message_ids.filtered(lambda m: m.direction == "in").mapped("date")
            # every contact with the number (the database may hold the story twice)
            for contact in self.env["sms.marketing.contact"].search([("phone_sanitized", "=", conversation.number)]):
                notes = contact.message_ids.filtered(lambda m: m.subtype_id == self.env.ref("mail.mt_note"))
                self.assertLessEqual(set(received), set(notes.mapped("date")), "on its chatter, when received")
            activities = self.env["mail.activity"].search(
                [("res_model", "=", conversation._name), ("res_id", "=", conversation.id)]
            )
            self.assertEqual(activities.user_id, admin if conversation.unread_count else admin.browse())
