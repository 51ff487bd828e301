"""SMS templates: the mailing's counter, preview and price; start from a template; save as template;
who may write placeholders; companies."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from ..models.sms_marketing_recipient_model import CONTACT_MODEL as CONTACT
from ..tools import pricing
from ..tools.sms_encoding import count_segments
from .common import SmsMarketingMailingCase

BODY = "Hi {{ object.name }}, our flash sale ends tonight: https://flash.example.org/sale?utm_source=sms"


@tagged("post_install", "-at_install", "sms_templates")
class TestTemplates(SmsMarketingMailingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the test gateway is the company's default one (the template prices with the default gateway)
        cls.env["sms.marketing.gateway"].search([("id", "!=", cls.gateway.id)]).write({"active": False})
        cls.ann, cls.bob, cls.chloe = cls.contacts
        cls.Template = cls.env["sms.marketing.template"].with_user(cls.user_marketing)
        cls.template = cls.Template.create({"name": "Flash sale", "body": BODY})

    def _mailing_for(self, body, sample, **values):
        """A saved mailing to the test list, previewed for ``sample``, with the company's default gateway."""
        mailing = (
            self.env["sms.marketing.mailing"]
            .with_user(self.user_marketing)
            .create({"subject": "Same text", "body": body, "list_ids": [(6, 0, self.mailing_list.ids)], **values})
        )
        mailing.preview_ref = sample
        return mailing

    # ---------------------------------------------------------------- counter, preview, price
    def test_preview_and_counter_equal_the_mailings(self):
        for body, include_optout in (
            (BODY, True),
            (BODY, False),
            ("Sale \U0001f337 {{ object.name }} " + "x" * 70, True),  # Unicode, two parts
            ("Plain text without placeholders", True),
        ):
            with self.subTest(body=body, include_optout=include_optout):
                template = self.Template.create({"name": "Compare", "body": body, "include_optout": include_optout})
                template.preview_ref = self.chloe
                mailing = self._mailing_for(body, self.chloe, include_optout=include_optout)
                self.assertTrue(template.sms_preview)
                self.assertEqual(template.sms_preview, mailing.sms_preview)
                self.assertEqual(template.sms_preview_html, mailing.sms_preview_html)
                self.assertEqual(
                    (template.sms_units, template.sms_segments, template.sms_encoding),
                    (mailing.sms_units, mailing.sms_segments, mailing.sms_encoding),
                )
                self.assertEqual(
                    (template.sms_link_length, template.sms_optout_suffix),
                    (mailing.sms_link_length, mailing.sms_optout_suffix),
                )
                info = count_segments(template.sms_preview)
                self.assertEqual((template.sms_units, template.sms_segments), (info.units, info.segments))
        self.assertEqual(template.sms_encoding, "GSM-7")

    def test_preview_renders_the_sample_and_tracks_links(self):
        template = self.template
        template.preview_ref = self.bob
        self.assertTrue(template.sms_preview.startswith("Hi Bob, our flash sale"))
        self.assertNotIn("flash.example.org", template.sms_preview, "the link as its tracked short form")
        self.assertIn("Opt out", template.sms_preview)
        self.assertFalse(self.env["sms.marketing.link"].search([("url", "=like", "https://flash.example.org%")]))

    def test_default_sample_is_a_recipient(self):
        self.assertEqual(self.Template.create({"name": "Default", "body": "Hi"}).preview_ref._name, CONTACT)
        sample = self.template.preview_ref
        self.assertTrue(sample)
        self.assertTrue(sample.phone_sanitized, "the default sample is someone a mailing would send to")

    def test_price_is_one_message_to_the_sample_country(self):
        template = self.template
        for contact, code, price in ((self.chloe, "BE", 2.5), (self.ann, "US", 1.0)):
            with self.subTest(country=code):
                template.preview_ref = contact
                mailing = self._mailing_for(BODY, contact)
                self.assertEqual(template.sample_country_id.code, code)
                self.assertEqual(template.sample_gateway_id, self.gateway)
                self.assertAlmostEqual(template.sample_credits, pricing.message_cost(template.sms_segments, price))
                # the mailing's own estimate, line of that country, per recipient
                line = next(line for line in mailing._get_credit_estimate(self.gateway)["lines"] if line[0] == code)
                self.assertAlmostEqual(template.sample_credits, line[3] / line[1])

    def test_blacklisted_sample_has_no_price(self):
        self.env["sms.marketing.blacklist"]._add_numbers([self.chloe.phone_sanitized])
        self.template.preview_ref = self.chloe
        self.assertTrue(self.template.sms_preview, "the preview still shows the text")
        self.assertEqual(self.template.sample_credits, 0.0)
        self.assertFalse(self.template.sample_gateway_id)

    def test_template_on_another_model(self):
        partner = self.env["res.partner"].create({"name": "Dora Partner", "phone": "+32 470 11 22 33"})
        template = self.Template.create(
            {
                "name": "Partners",
                "body": "Dear {{ object.name }}",
                "recipient_model_id": self.env["ir.model"]._get_id("res.partner"),
                "include_optout": False,
            }
        )
        self.assertEqual(template.recipient_choice, "res.partner")
        template.preview_ref = partner
        self.assertEqual(template.sms_preview, "Dear Dora Partner")
        self.assertEqual(template.sample_country_id, self.country_be)

    # ---------------------------------------------------------------- start from a template
    def test_start_from_template_fills_the_mailing(self):
        partner_template = self.Template.create(
            {
                "name": "Partners",
                "body": "Dear {{ object.name }}",
                "recipient_model_id": self.env["ir.model"]._get_id("res.partner"),
                "include_optout": False,
            }
        )
        form = Form(self.env["sms.marketing.mailing"].with_user(self.user_marketing))
        form.subject = "From a template"
        form.template_id = partner_template
        self.assertEqual(form.body, "Dear {{ object.name }}")
        self.assertFalse(form.include_optout)
        self.assertEqual(form.recipient_choice, "res.partner")
        form.template_id = self.template
        self.assertEqual(form.body, BODY)
        self.assertTrue(form.include_optout)
        self.assertEqual(form.recipient_choice, CONTACT)
        form.list_ids.add(self.mailing_list)
        mailing = form.save()
        self.assertEqual(mailing.template_id, self.template)
        self.assertEqual((mailing.body, mailing.recipient_model), (BODY, CONTACT))
        self.assertEqual(self.template.mailing_count, 1)

    def test_new_mailing_action_starts_from_the_template(self):
        action = self.template.action_new_mailing()
        form = Form(self.env["sms.marketing.mailing"].with_user(self.user_marketing).with_context(**action["context"]))
        self.assertEqual(form.body, BODY)

    def test_template_replaces_a_typed_text_with_a_warning(self):
        mailing = self.env["sms.marketing.mailing"].new({"subject": "Typed", "body": "My own text"})
        mailing.template_id = self.template
        result = mailing._onchange_template_id()
        self.assertEqual(mailing.body, BODY)
        self.assertIn("warning", result)
        # an empty draft is filled without a word
        empty = self.env["sms.marketing.mailing"].new({"subject": "Empty"})
        empty.template_id = self.template
        self.assertIsNone(empty._onchange_template_id())
        self.assertEqual(empty.body, BODY)

    def test_template_does_not_change_a_sent_mailing(self):
        mailing = self.env["sms.marketing.mailing"].new({"subject": "Sent", "body": "Sent text", "state": "done"})
        mailing.template_id = self.template
        mailing._onchange_template_id()
        self.assertEqual(mailing.body, "Sent text")

    # ---------------------------------------------------------------- save as template
    def test_save_as_template_round_trip(self):
        mailing = self.mailing
        mailing.write({"body": BODY, "include_optout": False})
        action = mailing.action_save_as_template()
        template = self.env["sms.marketing.template"].browse(action["res_id"])
        self.assertEqual(action["res_model"], "sms.marketing.template")
        self.assertEqual(
            (template.name, template.body, template.include_optout, template.recipient_model_id),
            (mailing.subject, mailing.body, False, mailing.recipient_model_id),
        )
        self.assertEqual(template.create_uid, self.user_marketing)
        again = self.env["sms.marketing.mailing"].with_user(self.user_marketing).new({"subject": "Again"})
        again.template_id = template
        again._onchange_template_id()
        self.assertEqual((again.body, again.include_optout), (mailing.body, mailing.include_optout))
        self.assertEqual(template.preview_ref, mailing.preview_ref, "the mailing's preview recipient is the sample")
        self.assertEqual(template.sms_preview, mailing.sms_preview)

    def test_save_as_template_needs_a_text(self):
        self.mailing.body = False
        with self.assertRaises(UserError):
            self.mailing.action_save_as_template()

    # ---------------------------------------------------------------- rights
    def test_placeholders_need_the_template_editor_right(self):
        editor = self.env.ref("mail.group_mail_template_editor")
        self.env.ref("base.group_user").write({"implied_ids": [(3, editor.id)]})
        self.user_marketing.write({"groups_id": [(3, editor.id)]})
        self.assertFalse(self.user_marketing.has_group("mail.group_mail_template_editor"))
        Template = self.env["sms.marketing.template"].with_user(self.user_marketing)
        with self.assertRaises(AccessError), mute_logger("odoo.models"):
            Template.create({"name": "Dynamic", "body": "Hi {{ object.name }}"})
        plain = Template.create({"name": "Static", "body": "Hi there"})
        with self.assertRaises(AccessError), mute_logger("odoo.models"):
            plain.write({"body": "Hi {{ object.phone }}"})
        self.assertEqual(plain.body, "Hi there")
        # "{{" that is not a placeholder is text
        plain.write({"body": "Hi {{"})
        # the same rule as the mailing: saving a mailing's placeholders as a template is refused too
        with self.assertRaises(AccessError), mute_logger("odoo.models"):
            self.env["sms.marketing.mailing"].with_user(self.user_marketing).create(
                {"subject": "Dynamic", "body": "Hi {{ object.name }}"}
            )
        # an editor writes them
        self.user_marketing.write({"groups_id": [(4, editor.id)]})
        plain.write({"body": "Hi {{ object.phone }}"})

    def test_no_form_reads_ir_model_for_marketers(self):
        """The reference widget's model_field option reads ir.model in the browser, which marketers
        may not: an Access Error as soon as the preview shows (mailing and template forms)."""
        views = self.env["ir.ui.view"].search([("model", "=like", "sms.marketing.%"), ("type", "=", "form")])
        self.assertTrue(views)
        for view in views:
            with self.subTest(view=view.xml_id or view.name):
                self.assertNotIn("model_field", view.arch_db)
        self.assertFalse(self.env["ir.model"].with_user(self.user_marketing).check_access_rights("read", False))

    def test_marketers_manage_templates_employees_do_not(self):
        template = self.Template.create({"name": "Mine", "body": "Hello"})
        template.write({"name": "Renamed"})
        template.copy()
        template.unlink()
        with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
            self.env["sms.marketing.template"].with_user(self.user_employee).create({"name": "No", "body": "x"})

    def test_templates_of_another_company_are_invisible(self):
        template_b = self.env["sms.marketing.template"].create(
            {"name": "B only", "body": "B text", "company_id": self.company_b.id}
        )
        self.assertFalse(self.Template.search([("id", "=", template_b.id)]))
        with self.assertRaises(AccessError), mute_logger("odoo.models"):
            template_b.with_user(self.user_marketing).read(["body"])
        found = self.env["sms.marketing.template"].with_user(self.marketer_b).search([("id", "=", template_b.id)])
        self.assertEqual(found, template_b)
        # "Save as Template" keeps the mailing's company
        mailing_b = (
            self.env["sms.marketing.mailing"]
            .with_user(self.marketer_b)
            .create({"subject": "B mailing", "body": "B body", "company_id": self.company_b.id})
        )
        action = mailing_b.action_save_as_template()
        self.assertEqual(self.env["sms.marketing.template"].browse(action["res_id"]).company_id, self.company_b)
