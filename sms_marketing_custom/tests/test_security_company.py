"""Company boundaries: the test SMS (gateway of the mailing's company, blacklist, cap), demo credits
(sandbox and managers only), and a STOP received by company B that company A's users cannot lift
(the blacklist is global; each entry keeps the company that received it)."""

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import SmsEngineCase, load_migration
from .test_security_matrix import SecurityFixtures, _number


class CompanyBoundaryCase(SmsEngineCase, SecurityFixtures):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox_b = cls.env["sms.marketing.gateway"].create(
            {"name": "Sandbox of B", "provider": "sandbox", "company_id": cls.company_b.id, "sequence": 1}
        )
        cls.sandbox_b._change_balance(100.0, "purchase")


@tagged("post_install", "-at_install", "sms_security")
class TestTestSmsBoundaries(CompanyBoundaryCase):
    def _wizard(self, numbers, author=None, **mailing_values):
        Mailing = self.env["sms.marketing.mailing"].with_user(author or self.user_marketing)
        mailing = Mailing.create({"subject": "Test SMS", "body": "Spring sale: 20% off today!", **mailing_values})
        form = Form(
            self.env["sms.marketing.mailing.test"]
            .with_user(self.user_marketing)
            .with_context(default_mailing_id=mailing.id)
        )
        form.numbers = numbers
        return form

    def test_mailing_without_company_cannot_borrow_another_companys_gateway(self):
        # a marketer of company A cannot even save such a mailing (Send would charge company B)
        with self.assertRaisesRegex(ValidationError, "company you do not work in"):
            self.env["sms.marketing.mailing"].with_user(self.user_marketing).create(
                {"subject": "Borrowed", "body": "Hi", "company_id": False, "gateway_id": self.sandbox_b.id}
            )
        # one written by a user of both companies: company A's marketer's test SMS still refuses B's gateway
        form = self._wizard(_number(), author=self.marketer_ab, company_id=False, gateway_id=self.sandbox_b.id)
        wizard = form.save()
        with self.assertRaisesRegex(UserError, "belongs to another company"):
            wizard.action_send()
        self.assertEqual(self.sandbox_b.balance, 100.0, "company B paid nothing")
        self.assertFalse(form.cost_estimate, "no price on another company's gateway either")

    def test_mailing_without_company_uses_the_current_companys_gateway(self):
        before = self.sandbox.balance
        wizard = self._wizard(_number(), company_id=False).save()
        wizard.action_send()
        self.assertEqual(self.sandbox.balance, before - 1, "the shared sandbox is the default of company A")
        self.assertEqual(self.sandbox_b.balance, 100.0)

    def test_blacklisted_numbers_skipped_and_said(self):
        blocked, free = _number(), _number()
        self.env["sms.marketing.blacklist"]._add_numbers([blocked], "keyword")
        before = self.sandbox.balance
        form = self._wizard(f"{blocked}, {free}")
        wizard = form.save()
        wizard.action_send()
        self.assertEqual(self.sandbox.balance, before - 1, "one SMS sent")
        blacklisted_line = wizard.result_html.split("o_sms_test_blacklisted")[1]
        self.assertIn(blocked, blacklisted_line)
        self.assertIn("blacklisted", blacklisted_line)
        with self.assertRaisesRegex(UserError, "every number is blacklisted"):
            self._wizard(blocked).save().action_send()
        self.assertEqual(self.sandbox.balance, before - 1)
        self.assertIn("Costs about 1.00 credits on", form.cost_estimate, "priced without the blacklisted number")

    def test_at_most_ten_numbers(self):
        before = self.sandbox.balance
        numbers = [_number() for _i in range(11)]
        wizard = self._wizard(", ".join(numbers)).save()
        with self.assertRaisesRegex(UserError, "at most 10 numbers"):
            wizard.action_send()
        self.assertEqual(self.sandbox.balance, before, "nothing sent")
        self._wizard(", ".join(numbers[:10])).save().action_send()
        self.assertEqual(self.sandbox.balance, before - 10)


@tagged("post_install", "-at_install", "sms_security")
class TestDemoCredits(CompanyBoundaryCase):
    def test_only_managers_of_the_gateway_on_a_sandbox(self):
        before = self.sandbox.balance
        for user in (self.user_marketing, self.user_employee, self.user_portal):
            with self.subTest(user=user.login), self.assertRaises(AccessError), mute_logger("odoo.models"):
                self.sandbox.with_user(user).action_add_demo_credits()
        self.assertEqual(self.sandbox.balance, before)
        with self.assertRaises(AccessError), mute_logger("odoo.models"):
            self.sandbox_b.with_user(self.user_manager).action_add_demo_credits()
        self.assertEqual(self.sandbox_b.balance, 100.0)
        with self.assertRaisesRegex(UserError, "Only a sandbox gateway"):
            self.http_gateway.with_user(self.user_manager).action_add_demo_credits()
        self.sandbox.with_user(self.user_manager).action_add_demo_credits()
        self.assertEqual(self.sandbox.balance, before + 1000)


@tagged("post_install", "-at_install", "sms_security")
class TestStopOfAnotherCompany(CompanyBoundaryCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.number = _number()
        cls.mailing_b = cls.env["sms.marketing.mailing"].create(
            {"subject": "B news", "body": "Hi", "company_id": cls.company_b.id}
        )
        cls.list_a = cls.env["sms.marketing.list"].create({"name": "A's list", "company_id": cls.company_a.id})
        cls.contact_a = cls.env["sms.marketing.contact"].create(
            {"name": "Shared person", "phone": cls.number, "company_id": cls.company_a.id}
        )

    def setUp(self):
        super().setUp()
        # the person answered STOP to an SMS of company B (its gateway received it)
        self.entry = self.env["sms.marketing.blacklist"]._add_numbers(
            [self.number], "keyword", details={"gateway_id": self.sandbox_b.id, "evidence": "STOP"}
        )

    def _assert_still_blacklisted(self):
        self.env.invalidate_all()
        self.assertTrue(self.entry.active)
        self.assertTrue(self.contact_a.blacklisted)

    def test_entry_keeps_the_company_that_received_the_stop(self):
        self.assertEqual(self.entry.company_id, self.company_b)
        # blocking is never refused, but re-adding an active entry does not make it company A's
        self.env["sms.marketing.blacklist"].with_user(self.user_marketing).create({"number": self.number})
        self.contact_a.with_user(self.user_marketing).action_blacklist()
        self.assertEqual(self.entry.company_id, self.company_b)

    def test_company_a_cannot_lift_it(self):
        for user in (self.user_marketing, self.user_manager):
            entry = self.entry.with_user(user)
            self.assertTrue(entry.read(["number"]), "the blacklist is global: everyone sees why a number is blocked")
            attempts = {
                "write": lambda entry=entry: entry.write({"active": False}),
                "action_remove": lambda entry=entry: entry.action_remove(),
                "contact action_unblacklist": lambda user=user: self.contact_a.with_user(user).action_unblacklist(),
                "forged companies": lambda entry=entry: entry.with_context(
                    allowed_company_ids=(self.company_a | self.company_b).ids
                ).write({"active": False}),
            }
            if user == self.user_manager:
                attempts["unlink"] = lambda entry=entry: entry.unlink()
            for name, attempt in attempts.items():
                with (
                    self.subTest(user=user.login, attempt=name),
                    self.assertRaises(AccessError),
                    mute_logger("odoo.models"),
                ):
                    attempt()
                self._assert_still_blacklisted()
            # an import of the entry as removed is refused the same way
            result = (
                self.env["sms.marketing.blacklist"].with_user(user).load([".id", "active"], [[str(self.entry.id), "0"]])
            )
            self.assertTrue(result["messages"])
            self._assert_still_blacklisted()

    def test_opt_ins_of_company_a_do_not_lift_it(self):
        user = self.user_marketing
        self.env["sms.marketing.subscription"].with_user(user).create(
            {"contact_id": self.contact_a.id, "list_id": self.list_a.id}
        )
        self.env["sms.marketing.contact"].with_user(user).load(
            ["name", "phone", "list_ids/.id"], [["Again", self.number, str(self.list_a.id)]]
        )
        self._assert_still_blacklisted()

    def test_a_user_working_in_company_b_lifts_it(self):
        user = self.marketer_ab
        entry = self.entry.with_user(user).with_context(allowed_company_ids=self.company_a.ids)
        with self.assertRaises(AccessError), mute_logger("odoo.models"):
            entry.action_remove()
        self._assert_still_blacklisted()
        entry.with_context(allowed_company_ids=(self.company_a | self.company_b).ids).action_remove()
        self.assertFalse(self.entry.active)
        event = self.env["sms.marketing.consent"].search([("number", "=", self.number)], limit=1)
        self.assertEqual((event.event, event.user_id, event.company_id), ("opt_in", user, self.company_b))
        self.contact_a.with_user(self.user_marketing).action_blacklist()  # blocked again, by A this time
        self.assertEqual(self.entry.company_id, self.company_a)

    def test_migration_fills_the_company_from_the_consent_log(self):
        """17.0.1.1.0: existing entries take the company of their last opt-out."""
        unknown = self.env["sms.marketing.blacklist"]._add_numbers([_number()], "manual")
        from_mailing = self.env["sms.marketing.blacklist"]._add_numbers(
            [_number()], "optout_link", details={"mailing_id": self.mailing_b.id}
        )
        entries = self.entry | unknown | from_mailing
        self.env.flush_all()
        # as the previous release left them: no company on any entry, no event for ``unknown``
        self.env.cr.execute("UPDATE sms_marketing_blacklist SET company_id = NULL WHERE id IN %s", [tuple(entries.ids)])
        self.env.cr.execute("DELETE FROM sms_marketing_consent WHERE number = %s", [unknown.number])
        load_migration("17.0.1.1.0", "post-migrate").migrate(self.env.cr, "17.0.1.0.0")
        self.env.invalidate_all()
        self.assertEqual(self.entry.company_id, self.company_b, "the gateway's company")
        self.assertEqual(from_mailing.company_id, self.company_b, "the mailing's company")
        self.assertFalse(unknown.company_id)
        # an entry of unknown company: managers only
        with self.assertRaises(AccessError), mute_logger("odoo.models"):
            unknown.with_user(self.user_marketing).action_remove()
        unknown.with_user(self.user_manager).action_remove()
        self.assertFalse(unknown.active)
