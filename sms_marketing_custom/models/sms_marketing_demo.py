"""Demo data that tells a story: lists of a few hundred contacts and mailings with their life.

Only called from demo/sms_marketing_story_demo.xml. The figures are drawn
from a seeded random generator, so every demo database tells the same story:
three sent mailings (delivered, failed, canceled, clicked, opted out), one
scheduled and one draft; a few recipients answered the last one
(``CONVERSATIONS``: received through the real inbound path, one answered).
"""

import random
from datetime import timedelta

from odoo import _, api, fields, models

from ..tools import pricing
from ..tools.sms_encoding import segment_count
from .sms_marketing_conversation import CHATTER_MODELS

FIRST_NAMES = (
    "Emma Liam Olivia Noah Ava Lucas Mia Leo Sofia Hugo Chloé Louis Léa Jules Alice Adam Lina Gabriel Zoé Arthur "
    "Giulia Marco Anna Luca Sara Matteo Laura Jan Eva Tom Nina Max Lisa Paul Julia Finn Clara Ben Lena Elias"
).split()
LAST_NAMES = (
    "Smith Johnson Brown Martin Bernard Dubois Thomas Robert Petit Durand Peeters Janssens Maes Jacobs Mertens "
    "Rossi Russo Ferrari Esposito Müller Schmidt Schneider Fischer Weber Garcia Lopez Martinez Wilson Taylor Moore"
).split()
# (country xmlid, number pattern with {n} the contact's sequence, count)
AUDIENCE = (
    ("base.us", "+1 202 555 {n:04d}", 120),
    ("base.be", "+32 470 {n:06d}", 110),
    ("base.fr", "+33 6 12 {n:06d}", 90),
)
STORY = (
    # subject, body, days ago, delivered, failed, click rate, opt-out rate
    (
        "Spring sale: 20% off",
        "Hi {{ object.name.split()[0] }}, our spring sale starts today: 20% off everything at "
        "https://shop.example.com/spring",
        21,
        0.93,
        0.03,
        0.14,
        0.010,
    ),
    (
        "Weekend flash sale",
        "Flash sale this weekend only: buy 2, get the 3rd free! https://shop.example.com/flash",
        9,
        0.91,
        0.05,
        0.09,
        0.015,
    ),
    (
        "New store opening",
        "Our new store opens Saturday at 10am, with a gift for the first 100 visitors. "
        "Directions: https://shop.example.com/stores/new",
        3,
        0.95,
        0.02,
        0.18,
        0.005,
    ),
)

# Answers to the last mailing of the story: (minutes after it, "in" or "out", text), per recipient.
CONVERSATIONS = (
    (
        (42, "in", "Hi! Is the gift for everyone or only for the first 100 visitors?"),
        (65, "out", "Only the first 100 visitors, so come early: doors open at 10am. See you Saturday!"),
        (71, "in", "Great, thanks! I'll be there 😊"),
    ),
    ((180, "in", "Is there parking near the new store?"),),
    (
        (1310, "in", "Ciao, il negozio è aperto anche la domenica?"),
        (1312, "in", "E avete anche la taglia S della giacca blu?"),
    ),
)
ANSWERED = 1  # the conversations up to this one were read and answered by the Responsible


class SmsMarketingDemo(models.AbstractModel):
    _name = "sms.marketing.demo"
    _description = "SMS Marketing Demo Data"

    @api.model
    def _create_demo_story(self):
        rng = random.Random(17)
        env = self.env
        customers = env["sms.marketing.list"].create({"name": "Customers"})
        vip = env["sms.marketing.list"].create({"name": "VIP Club"})
        values = []
        for xmlid, pattern, count in AUDIENCE:
            country = env.ref(xmlid)
            for n in range(count):
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                lists = [customers.id] + ([vip.id] if rng.random() < 0.25 else [])
                values.append(
                    {
                        "name": name,
                        "phone": pattern.format(n=100 + n * 7),
                        "country_id": country.id,
                        "list_ids": [(6, 0, lists)],
                    }
                )
        contacts = env["sms.marketing.contact"].create(values)
        # a few numbers typed wrong, a few blacklisted: the canceled traces of the story
        contacts[:4].write({"phone": "0612"})
        env["sms.marketing.blacklist"]._add_numbers(contacts[10:14].mapped("phone_sanitized"))
        now = fields.Datetime.now()
        admin = env.ref("base.user_admin")
        for subject, body, days, delivered, failed, click_rate, optout_rate in STORY:
            mailing = env["sms.marketing.mailing"].create(
                {
                    "subject": subject,
                    "body": body,
                    "list_ids": [(6, 0, customers.ids)],
                    "include_optout": True,
                    "user_id": admin.id,
                }
            )
            self._demo_send(mailing, now - timedelta(days=days), rng, delivered, failed, click_rate, optout_rate)
        self._demo_conversations(mailing, now - timedelta(days=STORY[-1][2]))
        env["sms.marketing.mailing"].create(
            {
                "subject": "VIP early access",
                "body": "VIP early access: the summer collection is yours 48h before everyone. "
                "https://shop.example.com/vip",
                "list_ids": [(6, 0, vip.ids)],
                "include_optout": True,
                "schedule_type": "scheduled",
                "schedule_date": now + timedelta(days=5),
                "state": "scheduled",
                "sender_id": env.ref("base.user_admin").id,
            }
        )
        env["sms.marketing.mailing"].create(
            {
                "subject": "Summer teaser",
                "body": "Summer is coming, {{ object.name.split()[0] }}! Sneak peek: https://shop.example.com/summer",
                "list_ids": [(6, 0, customers.ids)],
                "include_optout": True,
            }
        )

    @api.model
    def _demo_send(self, mailing, sent_at, rng, delivered_rate, failed_rate, click_rate, optout_rate):
        """The life of a sent mailing, as the engine and the gateway would have written it."""
        self.env.cr.execute(self.env["sms.marketing.audience"]._get_classified_query(mailing))
        rows = self.env.cr.dictfetchall()
        traces = self.env["sms.marketing.trace"].create(
            [
                {
                    "mailing_id": mailing.id,
                    "res_model": "sms.marketing.contact",
                    "res_id": row["res_id"],
                    "number": row["number"],
                    "country_code": row["country_code"],
                    "state": "canceled" if row["reason"] else "pending",
                    "failure_type": row["reason"] or False,
                }
                for row in rows
            ]
        )
        to_send = traces.filtered(lambda trace: trace.state == "pending")
        bodies = mailing._render_messages(to_send.ids, to_send.mapped("res_id"))
        gateway = mailing._get_gateway()
        prices = gateway._get_prices()
        link = self.env["sms.marketing.link"].search([("mailing_id", "=", mailing.id)], limit=1)
        clicks = []
        for trace in to_send:
            body = bodies[trace.id]
            segments = segment_count(body)
            draw = rng.random()
            state = (
                "delivered" if draw < delivered_rate else "failed" if draw < delivered_rate + failed_rate else "sent"
            )
            trace.write(
                {
                    "body": body,
                    "segments": segments,
                    "cost": pricing.message_cost(segments, pricing.price_for(prices, trace.country_code)),
                    "state": state,
                    "gateway_id": gateway.id,
                    "failure_type": "undelivered" if state == "failed" else False,
                    "sent_at": sent_at,
                    "delivered_at": sent_at + timedelta(seconds=rng.randint(3, 90)) if state == "delivered" else False,
                    # the report of the failure, as the delivery's, comes soon after the sending
                    "failed_at": sent_at + timedelta(seconds=rng.randint(3, 90)) if state == "failed" else False,
                    "optout_at": sent_at + timedelta(hours=rng.randint(1, 48))
                    if state == "delivered" and rng.random() < optout_rate
                    else False,
                }
            )
            if link and state == "delivered" and rng.random() < click_rate:
                when = sent_at + timedelta(minutes=rng.randint(1, 600))
                clicks.append({"link_id": link.id, "trace_id": trace.id, "click_date": when})
        self.env["sms.marketing.link.click"].create(clicks)
        # the rest of the story as the sending and the opt-out page write it: the credits on the gateway's
        # ledger (bought for the story, then spent: the balance the demo starts with stays), the recipients
        # who opted out left the mailing's lists, in the consent log (else they looked subscribed still)
        spent = round(sum(to_send.mapped("cost")), pricing.LEDGER_DIGITS)
        if spent:
            gateway = gateway.sudo()
            gateway._change_balance(spent, "purchase", note=_("Demo credits"))
            gateway._change_balance(-spent, "spend", mailing=mailing)
        for trace in to_send.filtered("optout_at"):
            trace._optout()
        mailing.write(
            {
                "state": "done",
                "schedule_date": sent_at,
                "sent_date": sent_at,
                "trace_build_done": True,
                "sender_id": self.env.ref("base.user_admin").id,
            }
        )

    @api.model
    def _demo_conversations(self, mailing, sent_at):
        """``CONVERSATIONS``: the answers of a few of ``mailing``'s recipients, received as a provider's
        webhook delivers them (``_receive``: kept, matched, on the chatters, announced), then dated
        after the mailing; ours as ``_send_text`` records them, without calling the provider."""
        Conversation = self.env["sms.marketing.conversation"]
        gateway = mailing._get_gateway().sudo()
        traces = self.env["sms.marketing.trace"].search(
            [("mailing_id", "=", mailing.id), ("state", "=", "delivered"), ("optout_at", "=", False)],
            order="id",
            limit=len(CONVERSATIONS),
        )
        admin = self.env.ref("base.user_admin")
        for index, (trace, messages) in enumerate(zip(traces, CONVERSATIONS, strict=False)):
            for minutes, direction, text in messages:
                date = sent_at + timedelta(minutes=minutes)
                last_note = self.env["mail.message"].search([], order="id desc", limit=1).id
                if direction == "in":
                    Conversation._receive(gateway, [{"number": trace.number, "content": text}])
                    conversation = Conversation.search([("number", "=", trace.number)], limit=1)
                    message = conversation.sms_message_ids[-1:]
                else:
                    message = self.env["sms.marketing.conversation.message"].create(
                        {
                            "conversation_id": conversation.id,
                            "company_id": conversation.company_id.id,
                            "direction": "out",
                            "number": trace.number,
                            "body": text,
                            "gateway_id": gateway.id,
                            "uuid": gateway._new_uuid(),
                            "author_id": admin.id,
                            "state": "sent",
                            "cost": conversation._new_reply_message(gateway, text, "")["cost"],
                            "is_read": True,
                        }
                    )
                    conversation.write({"last_message": text})
                message.write({"date": date})
                conversation.write({"last_message_at": date})
                notes = self.env["mail.message"].search([("id", ">", last_note), ("model", "in", CHATTER_MODELS)])
                notes.write({"date": date})
            if index < ANSWERED:
                conversation.with_user(admin).action_mark_read()
