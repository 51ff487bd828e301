import base64

from odoo import SUPERUSER_ID
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from ..models.sms_marketing_audience import REASONS
from .common import SmsMarketingAudienceCase


@tagged("post_install", "-at_install")
class TestContacts(SmsMarketingAudienceCase):
    def test_normalised_with_country_fallbacks(self):
        company_fr = self.env["res.company"].create({"name": "SMS FR", "country_id": self.country_fr.id})
        contact_own, contact_company, contact_intl, contact_none = self.env["sms.marketing.contact"].create(
            [
                {"name": "Own country", "phone": "0470 12 34 56", "country_id": self.country_be.id},
                {"name": "Company country", "phone": "06 12 34 56 78", "company_id": company_fr.id},
                {"name": "International", "phone": "+32 470 12 34 57", "company_id": False},
                {"name": "National, no country", "phone": "06 12 34 56 79", "company_id": False},
            ]
        )
        self.assertEqual(contact_own.phone_sanitized, "+32470123456")
        self.assertEqual(contact_own.phone_country_code, "BE")
        # the form names the number's country (a French number of a contact whose company is French)
        self.assertEqual(contact_own.phone_country_id, self.country_be)
        self.assertEqual(contact_company.phone_country_id, self.country_fr)
        self.assertFalse(contact_none.phone_country_id)
        self.assertEqual(contact_company.phone_sanitized, "+33612345678")
        self.assertEqual(contact_intl.phone_sanitized, "+32470123457")
        self.assertFalse(contact_none.phone_sanitized)
        self.assertEqual(contact_none.phone_error, "no_country")
        self.assertIn("country", contact_none.phone_error_message)
        # the contact's own country wins over the company's, and changes recompute the number
        contact_company.country_id = self.country_be
        self.assertFalse(contact_company.phone_sanitized)
        self.assertEqual(contact_company.phone_error_message, "Not a valid number for Belgium")
        contact_company.phone = "+1 999 555 0143"
        self.assertEqual(contact_company.phone_error_message, "Not a valid number for United States")
        contact_company.phone = "+33 6 12 34 56 78"
        self.assertEqual(contact_company.phone_sanitized, "+33612345678")
        self.assertFalse(contact_company.phone_error)

    def test_invalid_numbers_are_flagged_not_dropped(self):
        mailing_list = self.env["sms.marketing.list"].create({"name": "Typos"})
        contacts = self._create_contacts(
            [("Short", "0612", self.country_fr), ("Words", "call me", None), ("Empty", False, None)], mailing_list
        )
        self.assertEqual(contacts.mapped("phone_error"), ["too_short", "not_a_number", "missing"])
        self.assertEqual(contacts[0].phone_error_message, "Too short")
        self.assertEqual(mailing_list.contact_count, 3)
        self.assertEqual(mailing_list.invalid_count, 3)
        self.assertEqual(
            self.env["sms.marketing.contact"].search_count([("phone_error", "!=", False), ("id", "in", contacts.ids)]),
            3,
        )

    def test_reason_is_translated(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(["base"], ["fr_FR"])
        contact = self._create_contacts([("Wrong", "06 12 34 56 78", self.country_us)])
        message = contact.with_context(lang="fr_FR").phone_error_message
        self.assertIn("États-Unis", message, "the country name follows the user's language")


@tagged("post_install", "-at_install")
class TestBlacklist(SmsMarketingAudienceCase):
    def test_matching_on_normalised_number(self):
        contacts = self._create_contacts(
            [
                ("Spaces", "+1 202 555 0143", None),
                ("National", "(202) 555-0143", self.country_us),
                ("Dots", "202.555.0178", None),  # company country (US)
                ("Other", "+33 6 12 34 56 78", None),
                ("No number", False, None),
            ]
        )
        blacklist = self.env["sms.marketing.blacklist"].with_user(self.user_marketing)
        # typed in national format: stored in E.164 with the company's country
        entry = blacklist.create({"number": "202-555-0143"})
        self.assertEqual(entry.number, "+12025550143")
        self.assertEqual(contacts.mapped("blacklisted"), [True, True, False, False, False])
        Contact = self.env["sms.marketing.contact"].with_user(self.user_marketing)
        self.assertEqual(Contact.search([("id", "in", contacts.ids), ("blacklisted", "=", True)]), contacts[:2])
        self.assertEqual(
            Contact.search([("id", "in", contacts.ids), ("blacklisted", "=", False)]),
            contacts[2:],
            "'Blacklist is not set' keeps contacts without a number",
        )
        self.assertEqual(Contact.search([("id", "in", contacts.ids), ("blacklisted", "!=", True)]), contacts[2:])

    def test_add_remove_and_reactivate(self):
        Blacklist = self.env["sms.marketing.blacklist"].with_user(self.user_marketing)
        records = Blacklist._add_numbers(["+33612345678", "+33612345678", "+12025550143"], "keyword")
        self.assertEqual(len(records), 2)
        self.assertEqual(set(records.mapped("source")), {"keyword"})
        removed = Blacklist._remove_numbers(["+33612345678"], "keyword")
        self.assertFalse(removed.active)
        self.assertEqual(removed.removed_source, "keyword")
        self.assertFalse(Blacklist.search([("number", "=", "+33612345678")]))
        # adding it again reactivates the same row (unique number), from the model API or the form
        again = Blacklist.create({"number": "+33 6 12 34 56 78", "source": "optout_link"})
        self.assertEqual(again, removed)
        self.assertTrue(again.active)
        self.assertEqual(again.source, "manual", "the source is the server's: a user's change is manual")
        self.assertFalse(again.removed_date)
        again.action_remove()
        self.assertFalse(again.active)

    def test_invalid_number_refused(self):
        with self.assertRaisesRegex(UserError, "Too short"):
            self.env["sms.marketing.blacklist"].create({"number": "12"})

    def test_contact_actions(self):
        contact = self._create_contacts([("Ann", "+1 202 555 0143", None)])
        contact.with_user(self.user_marketing).action_blacklist()
        self.assertTrue(contact.blacklisted)
        self.assertEqual(self.env["sms.marketing.blacklist"].search([("number", "=", "+12025550143")]).source, "manual")
        contact.with_user(self.user_marketing).action_unblacklist()
        contact.invalidate_recordset(["blacklisted"])
        self.assertFalse(contact.blacklisted)

    def test_partner_number_and_blacklist(self):
        Partner = self.env["res.partner"]
        mobile, phone_only, invalid, national = Partner.create(
            [
                {"name": "Mobile", "mobile": "+33 6 12 34 56 78", "phone": "+1 202 555 0143"},
                {"name": "Phone only", "phone": "+1 202 555 0178"},
                {"name": "Invalid", "mobile": "12"},
                {"name": "National", "mobile": "0470 12 34 99", "country_id": self.country_be.id},
            ]
        )
        partners = mobile | phone_only | invalid | national
        self.assertEqual(
            partners.mapped("sms_marketing_number"), ["+33612345678", "+12025550178", False, "+32470123499"]
        )
        self.assertEqual(national.sms_marketing_country_code, "BE")
        self.env["sms.marketing.blacklist"]._add_numbers(["+12025550178"], "manual")
        self.assertTrue(phone_only.blacklisted)
        # "Blacklist is not set" in the domain editor, with the field's label
        self.assertEqual(Partner._fields["blacklisted"].string, "Blacklist")
        self.assertEqual(
            Partner.search([("id", "in", partners.ids), ("blacklisted", "=", False)]), mobile | invalid | national
        )
        self.assertEqual(Partner.search([("id", "in", partners.ids), ("blacklisted", "=", True)]), phone_only)
        mobile.mobile = False
        self.assertEqual(mobile.sms_marketing_number, "+12025550143", "falls back to the phone")


@tagged("post_install", "-at_install")
class TestListsAndRecipients(SmsMarketingAudienceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        List = cls.env["sms.marketing.list"]
        cls.list_a = List.create({"name": "A"})
        cls.list_b = List.create({"name": "B"})
        both = cls.list_a | cls.list_b
        cls.ann = cls._create_contacts([("Ann", "+1 202 555 0143", None)], both)
        cls.bob = cls._create_contacts([("Bob", "06 12 34 56 78", cls.country_fr)], cls.list_a)
        cls.bob_again = cls._create_contacts([("Bob (work)", "+33 6.12.34.56.78", None)], cls.list_b)
        cls.carl = cls._create_contacts([("Carl", "0470 12 34 56", cls.country_be)], cls.list_a)
        cls.dan = cls._create_contacts([("Dan", "0612", cls.country_fr)], cls.list_a)
        cls.eve = cls._create_contacts([("Eve", "+1 202 555 0178", None)], both)
        cls.env["sms.marketing.blacklist"]._add_numbers(["+32470123456"], "manual")
        # Eve opted out of A only: she still gets B's mailings; Ann opted out of both
        cls.env["sms.marketing.subscription"].search(
            [("contact_id", "=", cls.eve.id), ("list_id", "=", cls.list_a.id)]
        ).opt_out = True
        cls.env["sms.marketing.subscription"].search([("contact_id", "=", cls.ann.id)]).opt_out = True

    def test_list_counts(self):
        self.env["sms.marketing.mailing"].create(
            {"subject": "To A and B", "list_ids": [(6, 0, (self.list_a | self.list_b).ids)]}
        )
        self.env["sms.marketing.mailing"].create({"subject": "To B", "list_ids": [(6, 0, self.list_b.ids)]})
        lists = (self.list_a | self.list_b).with_user(self.user_marketing)
        self.assertEqual(lists.mapped("contact_count"), [5, 3])
        self.assertEqual(lists.mapped("valid_count"), [4, 3])
        self.assertEqual(lists.mapped("optout_count"), [2, 1])
        self.assertEqual(lists.mapped("blacklisted_count"), [1, 0])
        self.assertEqual(lists.mapped("mailing_count"), [1, 2])
        action = self.list_a.action_view_contacts()
        self.assertEqual(
            self.env["sms.marketing.contact"].search(action["domain"]),
            self.ann | self.bob | self.carl | self.dan | self.eve,
        )

    def test_recipients_of_lists(self):
        mailing, stats = self._mailing_stats(list_ids=[(6, 0, (self.list_a | self.list_b).ids)])
        self.env.cr.execute(mailing.env["sms.marketing.audience"]._get_recipients_query(mailing))
        rows = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        self.assertEqual(len(rows), 6, "one row per contact, even when in two lists")
        self.assertEqual(rows[self.ann.id], ("+12025550143", "+1 202 555 0143", "US", True), "opted out of all lists")
        self.assertFalse(rows[self.eve.id][3], "opted out of one of the chosen lists only")
        self.assertEqual(rows[self.dan.id], (None, "0612", None, False))
        self.assertEqual(
            stats,
            {
                "total": 6,
                "valid": 5,
                "invalid": 1,
                "blacklisted": 1,
                "opted_out": 1,
                "frequency_capped": 0,
                "duplicates": 1,
                "to_send": 2,
                "by_country": {"FR": 1, "US": 1},
            },
        )
        # the duplicate is the second Bob: one person, one SMS
        self.env.cr.execute(mailing.env["sms.marketing.audience"]._get_classified_query(mailing))
        reasons = {row[0]: row[-1] for row in self.env.cr.fetchall()}
        self.assertEqual(reasons[self.bob.id], None)
        self.assertEqual(reasons[self.bob_again.id], "duplicate")
        self.assertEqual(reasons[self.carl.id], "blacklisted")
        self.assertEqual(reasons[self.ann.id], "opted_out")

    def test_engine_traces_are_what_the_audience_answers(self):
        """One set of reason names end to end: built window after window (the first of one record),
        each trace is canceled with its record's reason in the audience, or pending when it has none."""
        mailing, _stats = self._mailing_stats(list_ids=[(6, 0, (self.list_a | self.list_b).ids)])
        self.env.cr.execute(self.env["sms.marketing.audience"]._get_classified_query(mailing))
        reasons = {row[0]: row[-1] for row in self.env.cr.fetchall()}
        self.assertEqual(reasons[self.dan.id], "invalid_number")
        self.assertEqual(reasons[self.bob_again.id], "duplicate")
        engine = self.env["sms.marketing.engine"]
        params = {**engine._get_params(), "build_first_step": 1}
        while not mailing.trace_build_done:
            engine._build_traces(mailing, params)
        traces = mailing.trace_ids
        self.assertEqual({trace.res_id: trace.failure_type or None for trace in traces}, reasons)
        self.assertEqual(
            {trace.res_id for trace in traces if trace.state == "pending"},
            {res_id for res_id, reason in reasons.items() if reason is None},
        )
        failure_types = dict(self.env["sms.marketing.trace"]._fields["failure_type"].selection)
        self.assertLessEqual(set(REASONS), set(failure_types), "every reason is a trace's failure type")

    def test_recipients_of_one_list_and_filter(self):
        _mailing, stats = self._mailing_stats(list_ids=[(6, 0, self.list_b.ids)])
        self.assertEqual((stats["total"], stats["to_send"], stats["opted_out"]), (3, 2, 1))
        _mailing, stats = self._mailing_stats(
            list_ids=[(6, 0, self.list_a.ids)], domain="[('country_id.code', '=', 'FR')]"
        )
        self.assertEqual((stats["total"], stats["invalid"], stats["to_send"]), (2, 1, 1))
        _mailing, stats = self._mailing_stats(list_ids=[])
        self.assertEqual(stats["total"], 0, "no list, no recipient")

    def test_recipients_of_partners_follow_the_senders_record_rules(self):
        """The audience is what the sender may read: a partner of another company is not in it."""
        other_company = self.company_b
        Partner = self.env["res.partner"]
        partners = Partner.create(
            [
                {"name": "SMS P1", "mobile": "+1 202 555 0143"},
                {"name": "SMS P2", "mobile": "+1 202 555 0143", "company_id": other_company.id},
                {"name": "SMS P3", "mobile": "+32 470 12 34 56"},
                {"name": "SMS P4", "phone": "nope"},
            ]
        )
        config = self.env.ref("sms_marketing_custom.sms_marketing_recipient_model_partner")
        mailing = (
            self.env["sms.marketing.mailing"]
            .with_user(self.user_marketing)
            .create(
                {
                    "subject": "Partners",
                    "recipient_model_id": config.model_id.id,
                    "domain": "[('name', 'like', 'SMS P')]",
                }
            )
        )
        self.assertFalse(Partner.with_user(self.user_marketing).search([("id", "=", partners[1].id)]), "rule hides P2")
        stats = mailing.env["sms.marketing.audience"]._get_statistics(mailing)
        self.assertEqual((stats["total"], stats["invalid"], stats["blacklisted"], stats["duplicates"]), (3, 1, 1, 0))
        self.assertEqual(stats["to_send"], 1)
        # a marketer of both companies sees P2, a duplicate of P1's number
        as_admin = mailing.with_user(self.marketer_ab).with_context(
            allowed_company_ids=[self.env.company.id, other_company.id]
        )
        stats = as_admin.env["sms.marketing.audience"]._get_statistics(as_admin)
        self.assertEqual((stats["total"], stats["duplicates"], stats["to_send"]), (4, 1, 1))
        # the default filter of partners: a valid number and not blacklisted
        default = config._get_default_domain()
        self.assertEqual(Partner.search([("id", "in", partners.ids), *default]), partners[:2])

    def test_filter_names_mean_the_sender_and_today(self):
        """uid/user are the sender's, also when the cron (superuser) evaluates the filter, and never
        the Responsible's; context_today() and relativedelta work as in the web client's domain editor."""
        config = self.env.ref("sms_marketing_custom.sms_marketing_recipient_model_partner")
        Partner = self.env["res.partner"]
        # sudo keeps the uid: create_uid is the marketer, whatever the rights on partners
        mine = Partner.with_user(self.user_marketing).sudo().create({"name": "Mine", "mobile": "+1 202 555 0143"})
        managers = Partner.with_user(self.user_manager).sudo().create({"name": "Other", "mobile": "+1 202 555 0178"})
        mailing = (
            self.env["sms.marketing.mailing"]
            .with_user(self.user_marketing)
            .create(
                {
                    "subject": "My partners of the last week",
                    "recipient_model_id": config.model_id.id,
                    "user_id": self.user_manager.id,
                    "domain": "[('create_uid', '=', uid), ('mobile', '!=', False), "
                    "('create_date', '>=', (context_today() - relativedelta(days=7)).strftime('%Y-%m-%d'))]",
                }
            )
        )
        self.assertEqual(
            Partner.search(mailing.env["sms.marketing.audience"]._get_filter(mailing)),
            mine,
            "the marketer's, not the Responsible's",
        )
        mailing.write(mailing._get_sender_values())
        as_cron = mailing.with_user(SUPERUSER_ID)
        self.assertEqual(Partner.search(as_cron.env["sms.marketing.audience"]._get_filter(as_cron)), mine)
        self.assertNotIn(managers, Partner.search(as_cron.env["sms.marketing.audience"]._get_filter(as_cron)))

    def test_any_model_with_a_phone_field(self):
        Config = self.env["sms.marketing.recipient.model"].with_user(self.user_manager)
        company_model = self.env["ir.model"]._get("res.company")
        with self.assertRaises(ValidationError):
            Config.create(
                {
                    "model_id": company_model.id,
                    "phone_field_id": self.env["ir.model.fields"]._get("res.partner", "phone").id,
                }
            )
        Config.create(
            {
                "model_id": company_model.id,
                "phone_field_id": self.env["ir.model.fields"]._get("res.company", "phone").id,
            }
        )
        self.assertIn(company_model, self.env["ir.model"].search([("is_sms_marketing_enabled", "=", True)]))
        self.assertFalse(
            self.env["ir.model"].search([("is_sms_marketing_enabled", "=", False), ("id", "=", company_model.id)])
        )
        companies = self.env["res.company"].create(
            [
                {"name": "C1", "phone": "+33 6 12 34 56 78"},
                {"name": "C2", "phone": "+33 6 12 34 56 78"},
                {"name": "C3", "phone": "555"},
            ]
        )
        mailing, stats = self._mailing_stats(
            recipient_model_id=company_model.id, domain=f"[('id', 'in', {companies.ids})]"
        )
        self.assertEqual((stats["total"], stats["valid"], stats["duplicates"], stats["to_send"]), (3, 2, 1, 1))
        self.assertEqual(stats["by_country"], {"FR": 1})
        # normalised once per distinct number: a second count reuses the cache
        self.assertEqual(self.env["sms.marketing.number"].search_count([("raw", "=", "+33 6 12 34 56 78")]), 1)
        self.assertEqual(mailing.env["sms.marketing.audience"]._get_statistics(mailing), stats)

    def test_not_enabled_model_refused(self):
        mailing = self.env["sms.marketing.mailing"].create(
            {"subject": "Users", "recipient_model_id": self.env["ir.model"]._get_id("res.users")}
        )
        with self.assertRaises(UserError):
            mailing.env["sms.marketing.audience"]._get_recipients_query(mailing)


@tagged("post_install", "-at_install")
class TestImport(SmsMarketingAudienceCase):
    def test_load_normalises_and_subscribes(self):
        mailing_list = self.env["sms.marketing.list"].create({"name": "Imported"})
        Contact = self.env["sms.marketing.contact"].with_user(self.user_marketing)
        result = Contact.with_context(default_list_ids=mailing_list.ids).load(
            ["name", "phone", "country_id"],
            [
                ["Ann", "+1 (202) 555-0143", ""],
                ["Bob", "06 12 34 56 78", "France"],
                ["Bob again", "+33612345678", ""],
                ["Dan", "0612", "France"],
            ],
        )
        self.assertFalse(result["messages"])
        contacts = Contact.browse(result["ids"])
        self.assertEqual(contacts.mapped("phone_sanitized"), ["+12025550143", "+33612345678", "+33612345678", False])
        self.assertEqual(contacts[3].phone_error, "too_short")
        self.assertEqual(mailing_list.contact_count, 4)
        self.assertEqual(mailing_list.valid_count, 3)
        _mailing, stats = self._mailing_stats(list_ids=[(6, 0, mailing_list.ids)])
        self.assertEqual((stats["duplicates"], stats["to_send"]), (1, 2))

    def test_base_import_csv_into_list(self):
        mailing_list = self.env["sms.marketing.list"].create({"name": "CSV"})
        csv = "Name,Phone,Country\nAnn,+1 202 555 0143,\nBruno,06 12 34 56 78,France\nTypo,12,\n"
        wizard = (
            self.env["base_import.import"]
            .with_user(self.user_marketing)
            .create(
                {
                    "res_model": "sms.marketing.contact",
                    "file": base64.b64decode(base64.b64encode(csv.encode())),
                    "file_type": "text/csv",
                }
            )
        )
        action = mailing_list.with_user(self.user_marketing).action_import_contacts()
        result = wizard.with_context(**action["params"]["context"]).execute_import(
            ["name", "phone", "country_id"],
            ["Name", "Phone", "Country"],
            {"quoting": '"', "separator": ",", "has_headers": True},
        )
        self.assertFalse(result["messages"], result["messages"])
        contacts = self.env["sms.marketing.contact"].browse(result["ids"])
        self.assertEqual(contacts.mapped("phone_sanitized"), ["+12025550143", "+33612345678", False])
        self.assertEqual(contacts.list_ids, mailing_list)


@tagged("post_install", "-at_install")
class TestAudienceAccess(SmsMarketingAudienceCase):
    def test_marketing_user_reads_and_writes(self):
        List = self.env["sms.marketing.list"].with_user(self.user_marketing)
        mailing_list = List.create({"name": "Mine"})
        contact = (
            self.env["sms.marketing.contact"]
            .with_user(self.user_marketing)
            .create({"name": "Ann", "phone": "+1 202 555 0143", "list_ids": [(4, mailing_list.id)]})
        )
        contact.subscription_ids.opt_out = True
        mailing_list.name = "Renamed"
        self.assertEqual(mailing_list.optout_count, 1)
        self.assertTrue(contact.subscription_ids.opt_out_date)
        contact.unlink()
        mailing_list.unlink()
        with self.assertRaises(AccessError):
            self.env["sms.marketing.recipient.model"].with_user(self.user_marketing).create(
                {
                    "model_id": self.env["ir.model"]._get_id("res.company"),
                    "phone_field_id": self.env["ir.model.fields"]._get("res.company", "phone").id,
                }
            )

    def test_others_see_nothing(self):
        mailing_list = self.env["sms.marketing.list"].create({"name": "Secret"})
        contact = self._create_contacts([("Ann", "+1 202 555 0143", None)], mailing_list)
        blacklisted = self.env["sms.marketing.blacklist"]._add_numbers(["+12025550143"], "manual")
        for user in (self.user_employee, self.user_portal, self.user_public):
            for records in (mailing_list, contact, contact.subscription_ids, blacklisted):
                with self.subTest(user=user.login, model=records._name), self.assertRaises(AccessError):
                    records.with_user(user).read(["id"])
            with self.assertRaises(AccessError):
                self.env["sms.marketing.contact"].with_user(user).create({"name": "Intruder"})
        # the partner flag stays searchable for everyone who reads partners (no blacklist access needed)
        self.assertTrue(
            self.env["res.partner"].with_user(self.user_employee).search([("blacklisted", "=", False)], limit=1)
        )
