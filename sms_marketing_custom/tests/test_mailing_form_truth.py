"""The form tells the truth: preview, counter, parts, credits, confirmation, prices, test SMS.

Every figure the marketer reads on the form is compared with what the
sending really does (the queue run with the sandbox gateway).
"""

import ast

from lxml import etree

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from ..tools import links
from ..tools.sms_encoding import count_segments
from .common import SmsEngineCase


@tagged("post_install", "-at_install")
class TestMailingFormTruth(SmsEngineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.us, cls.fr = cls.env.ref("base.us"), cls.env.ref("base.fr")
        cls.truth_list = cls.env["sms.marketing.list"].create({"name": "Truth list"})
        subscribed = {"list_ids": [(4, cls.truth_list.id)]}
        # names of different lengths: with placeholders, messages of 1 and 2 parts
        cls.truth_contacts = cls.env["sms.marketing.contact"].create(
            [
                {"name": "Ann", "phone": "+1 202-555-0143", "country_id": cls.us.id, **subscribed},
                {"name": "Bob " + "B" * 60, "phone": "+1 202-555-0178", "country_id": cls.us.id, **subscribed},
                {"name": "Chloé", "phone": "+32 470 98 76 54", "country_id": cls.belgium.id, **subscribed},
                {"name": "Denis " + "D" * 50, "phone": "+33 6 12 34 56 78", "country_id": cls.fr.id, **subscribed},
                {"name": "Eve", "phone": "+44 7911 123456", **subscribed},
            ]
        )
        cls.priced = cls.env["sms.marketing.gateway"].create(
            {"name": "Priced sandbox", "provider": "sandbox", "default_price": 1.7, "sequence": 300}
        )
        cls.priced._change_balance(1000.0, "purchase")
        cls.env["sms.marketing.gateway.price"].create(
            [
                {"gateway_id": cls.priced.id, "country_id": cls.us.id, "price": 0.5},
                {"gateway_id": cls.priced.id, "country_id": cls.belgium.id, "price": 1.25},
            ]
        )
        cls.default_only = cls.env["sms.marketing.gateway"].create(
            {"name": "Default price only", "provider": "sandbox", "default_price": 2.0, "sequence": 400}
        )
        cls.default_only._change_balance(100.0, "purchase")

    def _form(self, gateway, body, include_optout=True):
        form = Form(self.env["sms.marketing.mailing"].with_user(self.user_marketing))
        form.subject = "Truth"
        form.list_ids.add(self.truth_list)
        form.gateway_id = gateway
        form.include_optout = include_optout
        form.body = body
        return form

    # ---------------------------------------------------------------- preview and counter
    def test_preview_of_a_new_record_counts_link_and_optout(self):
        body = "Flash sale: 30% off everything this weekend only, see https://preview.example.org/flash?utm=sms now!"
        form = self._form(self.priced, body)
        preview = form.sms_preview
        base = self.env["sms.marketing.mailing"].get_base_url().rstrip("/")
        self.assertIn(base + links.CLICK_PATH, preview, "the link in its tracked short form")
        self.assertNotIn("https://preview.example.org", preview)
        self.assertIn(base + links.OPTOUT_PATH, preview, "the opt-out line is shown")
        self.assertIn("Opt out", form.sms_preview_html)
        self.assertIn("o_sms_preview_optout", form.sms_preview_html)
        info = count_segments(preview)
        self.assertEqual((form.sms_units, form.sms_segments), (info.units, info.segments))
        unsaved = (form.sms_units, form.sms_segments, form.estimated_credits)
        self.assertFalse(self.env["sms.marketing.link"].search([("url", "=like", "https://preview.example.org%")]))
        mailing = form.save()
        self.assertEqual((mailing.sms_units, mailing.sms_segments, mailing.estimated_credits), unsaved)
        self.assertEqual(len(mailing.sms_preview), len(preview))
        self.assertEqual(mailing.sms_units, len(preview))

    def test_preview_renders_placeholders_for_the_chosen_recipient(self):
        form = self._form(self.priced, "Hi {{ object.name }}!", include_optout=False)
        first = min(self.truth_contacts.ids)
        self.assertEqual(form.preview_ref, f"sms.marketing.contact,{first}")
        self.assertEqual(form.sms_preview, "Hi Ann!")
        form.preview_ref = f"sms.marketing.contact,{self.truth_contacts[2].id}"
        self.assertEqual(form.sms_preview, "Hi Chloé!")
        self.assertEqual(form.sms_encoding, "GSM-7", "é is in the GSM-7 alphabet")
        self.assertEqual(form.sms_units, len("Hi Chloé!"))

    def test_form_html_escapes_the_records_it_shows(self):
        """The preview bubble and the estimate table are QWeb: a name typed with markup is text."""
        hostile = "<script>alert(1)</script>"
        self.truth_contacts[0].name = hostile
        self.us.name = f"U{hostile}S"
        form = self._form(self.priced, "Hi {{ object.name }}!")
        self.assertEqual(form.sms_preview.split("\n")[0], f"Hi {hostile}!")
        for html in (str(form.sms_preview_html), str(form.estimate_html)):
            self.assertNotIn("<script>", html)
            self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html)
        self.assertIn("o_sms_preview_optout", str(form.sms_preview_html))
        self.assertIn(f"U{hostile}S".replace("<", "&lt;").replace(">", "&gt;"), str(form.estimate_html))

    # ---------------------------------------------------------------- price
    def test_estimate_with_only_a_default_price(self):
        form = self._form(self.default_only, "Hello", include_optout=False)
        self.assertEqual(form.estimated_credits, 5 * 2.0)
        self.assertIn('<td class="text-end">2.00</td>', form.estimate_html)

    def test_empty_body_takes_no_part_and_no_credit(self):
        """Contacts (partners, who have a language) or list contacts: an empty body is 0 parts and
        0 credits, as the counter says (the opt-out line alone was counted as 1 part); Send refuses it."""
        partners = self.env["res.partner"].create(
            [{"name": f"Empty {i}", "mobile": f"+32 470 66 00 0{i}", "lang": "en_US"} for i in range(3)]
        )
        for values in (
            {
                "recipient_model_id": self.env["ir.model"]._get_id("res.partner"),
                "domain": f"[('id', 'in', {partners.ids})]",
                "list_ids": [],
            },
            {"list_ids": [(6, 0, self.truth_list.ids)]},
        ):
            mailing = self._make_mailing(self.default_only, body="", include_optout=True, **values)
            self.assertGreater(mailing.audience_to_send, 0)
            self.assertEqual(mailing.sms_segments, 0)
            self.assertEqual((mailing.sms_segments_min, mailing.sms_segments_max), (0, 0))
            self.assertEqual(mailing.estimated_credits, 0.0)
            with self.assertRaisesRegex(UserError, "no SMS content"):
                mailing.with_user(self.user_marketing).action_send_now()

    def test_prices_button_shows_the_default_price(self):
        mailing = self._form(self.default_only, "Hello").save()
        action = mailing.action_view_prices()
        wizard = self.env[action["res_model"]].with_context(**action["context"]).create({})
        self.assertIn("Other countries", wizard.prices_html)
        self.assertIn(">2.00<", wizard.prices_html)
        mailing.invalidate_recordset()
        self.assertEqual(str(mailing.gateway_prices_html), str(wizard.prices_html), "the form shows the same")
        priced = self._form(self.priced, "Hello").save()
        wizard = self.env["sms.marketing.mailing.send"].create({"mailing_id": priced.id})
        for text in ("United States", "0.5", "Belgium", "1.25", "Other countries", "1.7"):
            self.assertIn(text, wizard.prices_html)

    def test_estimate_equals_spent(self):
        """Default price, country prices, a link, the opt-out line and placeholders: estimate == spent."""
        body = "Hi {{ object.name }}, our spring sale starts now: https://shop.example.com/spring?from=sms"
        mailing = self._form(self.priced, body).save()
        estimate, low, high = mailing.estimated_credits, mailing.sms_segments_min, mailing.sms_segments_max
        self.assertEqual((low, high), (1, 2))
        self.assertFalse(mailing.estimate_sampled)
        balance = self.priced.balance
        action = mailing.action_open_send_confirm()
        confirm = self.env[action["res_model"]].with_context(**action["context"]).create({})
        self.assertEqual(confirm.recipient_count, 5)
        self.assertEqual(confirm.parts_text, "1 to 2")
        self.assertEqual(confirm.parts_each_text, "SMS parts each, for", "up to 2 parts: the plural")
        self.assertAlmostEqual(confirm.credits, estimate)
        self.assertAlmostEqual(confirm.balance_after, balance - estimate)
        confirm.action_confirm()
        self.assertEqual(mailing.state, "scheduled")
        self.env["sms.marketing.mailing"]._cron_process_queue()
        self.env.invalidate_all()
        traces = mailing.trace_ids
        self.assertEqual(set(traces.mapped("state")), {"sent", "delivered"} & set(traces.mapped("state")))
        self.assertEqual(len(traces), 5)
        self.assertAlmostEqual(sum(traces.mapped("cost")), estimate, places=4)
        self.assertAlmostEqual(self.priced.balance, balance - estimate, places=4)
        self.assertEqual((min(traces.mapped("segments")), max(traces.mapped("segments"))), (low, high))
        for trace in traces:
            self.assertEqual(trace.segments, count_segments(trace.body).segments)
        # the preview had the length of the first recipient's real message
        first = traces.filtered(lambda t: t.res_id == min(self.truth_contacts.ids))
        self.assertEqual(len(first.body), mailing.sms_units)

    def test_estimate_equals_spent_without_placeholders(self):
        mailing = self._form(self.priced, "Spring sale https://shop.example.com/s " + "x" * 90).save()
        estimate, segments = mailing.estimated_credits, mailing.sms_segments
        # 2 US at 0.5, 1 BE at 1.25, FR and GB at the default 1.7, per part
        self.assertAlmostEqual(estimate, segments * (2 * 0.5 + 1.25 + 2 * 1.7))
        mailing.action_send_now()
        self.env["sms.marketing.mailing"]._cron_process_queue()
        self.env.invalidate_all()
        self.assertAlmostEqual(sum(mailing.trace_ids.mapped("cost")), estimate, places=4)
        self.assertEqual(set(mailing.trace_ids.mapped("segments")), {segments})

    # ---------------------------------------------------------------- confirmation
    def test_send_button_refreshes_an_http_gateway(self):
        self.sim.configure(balance=3.0, prices={"*": 1.0})
        mailing = self._form(self.http_gateway, "Hello", include_optout=False).save()
        with self.assertRaisesRegex(UserError, "Not enough credits"):
            mailing.action_open_send_confirm()
        self.sim.configure(balance=50.0)
        action = mailing.action_open_send_confirm()
        confirm = self.env[action["res_model"]].with_context(**action["context"]).create({})
        self.assertAlmostEqual(confirm.balance, 50.0)
        self.assertAlmostEqual(confirm.balance_after, 45.0)

    def test_send_button_says_when_the_gateway_cannot_be_reached(self):
        mailing = self._form(self.http_gateway, "Hello", include_optout=False).save()
        self.sim.configure(raw_answers={"/sms/v1/balance": "<html>maintenance</html>"})
        with self.assertRaisesRegex(UserError, "cannot be reached"):
            mailing.action_open_send_confirm()
        self.assertEqual(mailing.state, "draft")

    # ---------------------------------------------------------------- test SMS
    def test_test_sms_is_the_real_message(self):
        body = "Hi {{ object.name }}: https://shop.example.com/test"
        mailing = self._form(self.priced, body).save()
        chloe = self.truth_contacts[2]
        wizard = self.env["sms.marketing.mailing.test"].create(
            {"mailing_id": mailing.id, "numbers": chloe.phone_sanitized}
        )
        balance = self.priced.balance
        wizard.action_send()
        self.assertIn("Hi Chloé: ", wizard.result_html)
        base = mailing.get_base_url().rstrip("/")
        self.assertIn(base + links.CLICK_PATH, wizard.result_html)
        self.assertIn(base + links.OPTOUT_PATH, wizard.result_html)
        self.assertIn("Sent", mailing.message_ids[0].body)
        self.assertIn("Hi Chloé", mailing.message_ids[0].body)
        text = mailing._render_messages([0], [chloe.id])[0]
        # Belgium: 1.25 per part, as the engine charges
        self.assertAlmostEqual(balance - self.priced.balance, count_segments(text).segments * 1.25)

    # ---------------------------------------------------------------- recipients
    def test_recipient_choice_reads_like_the_documentation(self):
        choices = self.env["sms.marketing.mailing"]._selection_recipient_choice()
        self.assertEqual(choices[0], ("sms.marketing.contact", "Mailing List"))
        self.assertIn(("res.partner", "Contact"), choices)
        form = Form(self.env["sms.marketing.mailing"].with_user(self.user_marketing))
        self.assertEqual(form.recipient_choice, "sms.marketing.contact")
        form.recipient_choice = "res.partner"
        self.assertEqual(form.recipient_model, "res.partner")
        self.assertNotEqual(form.domain, "[]")

    def test_a_figures_button_never_shows_made_up_rows(self):
        # a view with sample="1" shows made-up rows when it finds nothing; only a help puts them behind
        # Odoo's empty-screen text. Every button of a new record (each figure 0) opens its list with one.
        records = {
            "sms.marketing.mailing": self.env["sms.marketing.mailing"].create(
                {"subject": "Nothing yet", "body": "Hi", "list_ids": [(4, self.truth_list.id)]}
            ),
            "sms.marketing.list": self.env["sms.marketing.list"].create({"name": "Empty list"}),
            "sms.marketing.campaign": self.env["sms.marketing.campaign"].create({"name": "Empty campaign"}),
            "sms.marketing.template": self.env["sms.marketing.template"].create({"name": "Unused", "body": "Hi"}),
            "sms.marketing.link": self.env["sms.marketing.link"].create({"url": "https://example.com/empty"}),
            "sms.marketing.gateway": self.default_only,
        }
        opened_sample_views = 0
        for model_name, record in records.items():
            buttons = sorted(name for name in dir(type(record)) if name.startswith("action_view_"))
            self.assertTrue(buttons, model_name)
            for button in buttons:
                action = getattr(record.with_user(self.user_admin), button)()
                if action.get("type") != "ir.actions.act_window":
                    continue
                views = action.get("views") or [(False, view_type) for view_type in action["view_mode"].split(",")]
                archs = self.env[action["res_model"]].get_views(views)
                if any('sample="1"' in view["arch"] for view in archs["views"].values()):
                    opened_sample_views += 1
                    self.assertTrue(action.get("help"), f"{model_name}.{button} opens made-up rows without a help")
        self.assertGreaterEqual(opened_sample_views, 10, "the trace lists, the lists' mailings, the reports")

    def test_the_analysis_filters_count_what_the_form_counts(self):
        # "Sent (312)" on the form and the analysis's "Sent" filter are one figure: accepted by the gateway,
        # a message that failed to arrive afterwards included
        mailing = self.env["sms.marketing.mailing"].create({"subject": "Figures", "body": "Hi"})
        now = fields.Datetime.now()
        rows = [
            ("pending", False, False),
            ("sent", now, False),
            ("delivered", now, False),
            ("delivered", now, now),
            ("failed", now, False),  # undelivered: the gateway took it
            ("failed", False, False),  # refused before it left
            ("canceled", False, False),
        ]
        self.env["sms.marketing.trace"].create(
            [
                {
                    "mailing_id": mailing.id,
                    "res_model": "sms.marketing.contact",
                    "res_id": 900001 + i,
                    # the one refused before it left had no valid number
                    "number": f"+32470555{i:03d}" if sent_at or state != "failed" else False,
                    "state": state,
                    "sent_at": sent_at,
                    "optout_at": optout_at,
                }
                for i, (state, sent_at, optout_at) in enumerate(rows)
            ]
        )
        mailing.invalidate_recordset()
        search_view = self.env.ref("sms_marketing_custom.sms_marketing_trace_view_search")
        search = etree.fromstring(
            self.env["sms.marketing.trace"].get_views([(search_view.id, "search")])["views"]["search"]["arch"]
        )
        figures = {
            "filter_sent": "sent_count",
            "filter_delivered": "delivered_count",
            "filter_failed": "failed_count",
            "filter_canceled": "canceled_count",
            "filter_optout": "optout_count",
        }
        for filter_name, figure in figures.items():
            domain = ast.literal_eval(search.find(f".//filter[@name='{filter_name}']").get("domain"))
            found = self.env["sms.marketing.trace"].search_count([("mailing_id", "=", mailing.id), *domain])
            self.assertEqual(found, mailing[figure], filter_name)
        self.assertEqual(mailing.sent_count, 4)
        refused = self.env["sms.marketing.trace"].search([("mailing_id", "=", mailing.id), ("number", "=", False)])
        self.assertEqual(refused.display_name, "No number", "its breadcrumb, instead of Odoo's Unnamed")
