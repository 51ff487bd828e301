"""The audience respects who is asking: the sender's access rights, record rules and companies.

A two-company database: marketers of company A, of B, of both; a manager of A;
the administrator. Lists, list contacts and partners of A, of B and shared.
"""

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from .common import SmsMarketingCase

PARTNER = "res.partner"


@tagged("post_install", "-at_install")
class TestAudienceFollowsSender(SmsMarketingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a.country_id = cls.company_b.country_id = cls.env.ref("base.be")
        both = cls.company_a | cls.company_b
        cls.marketer_a = cls.user_marketing
        cls.manager_a = cls.user_manager
        cls.admin = cls.user_admin
        cls.admin.company_ids |= both
        # partners: one per company and one shared; "secret" marks B's
        cls.partner_a, cls.partner_b, cls.partner_shared = cls.env[PARTNER].create(
            [
                {"name": "Access A", "mobile": "+32 470 10 00 01", "company_id": cls.company_a.id},
                {"name": "Access B secret", "mobile": "+32 470 10 00 02", "company_id": cls.company_b.id},
                {"name": "Access shared", "mobile": "+32 470 10 00 03"},
            ]
        )
        # lists and contacts: one per company and one shared list holding everyone
        Contact, List = cls.env["sms.marketing.contact"], cls.env["sms.marketing.list"]
        cls.list_a, cls.list_b, cls.list_shared = List.create(
            [
                {"name": "List A", "company_id": cls.company_a.id},
                {"name": "List B", "company_id": cls.company_b.id},
                {"name": "List shared", "company_id": False},
            ]
        )
        cls.contact_a, cls.contact_b = Contact.create(
            [
                {"name": "Contact A", "phone": "+32 470 20 00 01", "company_id": cls.company_a.id},
                {"name": "Contact B", "phone": "+32 470 20 00 02", "company_id": cls.company_b.id},
            ]
        )
        cls.env["sms.marketing.subscription"].create(
            [
                {"contact_id": cls.contact_a.id, "list_id": cls.list_a.id},
                {"contact_id": cls.contact_b.id, "list_id": cls.list_b.id},
                {"contact_id": cls.contact_a.id, "list_id": cls.list_shared.id},
                {"contact_id": cls.contact_b.id, "list_id": cls.list_shared.id},
            ]
        )
        # a gateway of no company: every sender of the matrix, whatever their companies, may use it
        cls.gateway = cls.env["sms.marketing.gateway"].create(
            {"name": "Access sandbox", "sequence": 1, "company_id": False}
        )
        cls.gateway._change_balance(100.0, "purchase")

    def _mailing(self, user, companies=None, **values):
        """A draft mailing created by ``user`` working in ``companies`` (their default company when None)."""
        Mailing = self.env["sms.marketing.mailing"].with_user(user)
        if companies:
            Mailing = Mailing.with_context(allowed_company_ids=companies.ids)
        return Mailing.create(
            {"subject": "Access", "body": "Hello", "gateway_id": self.gateway.id, "company_id": False, **values}
        )

    def _partner_mailing(self, user, domain, companies=None, **values):
        partner_model = self.env["ir.model"]._get_id(PARTNER)
        return self._mailing(user, companies, recipient_model_id=partner_model, domain=str(domain), **values)

    def _list_mailing(self, user, lists, companies=None):
        return self._mailing(user, companies, list_ids=[(6, 0, lists.ids)])

    def _sent_res_ids(self, mailing):
        """Run the queue (as the cron: superuser) and return the recipients that got a message."""
        self.env["sms.marketing.mailing"]._cron_process_queue()
        self.env.invalidate_all()
        mailing = mailing.with_env(self.env)
        return set(mailing.trace_ids.filtered(lambda t: t.state != "canceled").mapped("res_id"))

    # ------------------------------------------------------------------ partners
    def test_partner_of_another_company_is_not_counted(self):
        """The measured leak: a marketer of A filtering on B's partner id counted 1 recipient."""
        self.assertFalse(self.env[PARTNER].with_user(self.marketer_a).search([("id", "=", self.partner_b.id)]))
        by_id = self._partner_mailing(self.marketer_a, [("id", "=", self.partner_b.id)])
        self.assertEqual(by_id.audience_to_send, 0)
        by_name = self._partner_mailing(self.marketer_a, [("name", "ilike", "secret")])
        self.assertEqual(by_name.audience_total, 0, "the count answers no question about hidden records")

    def test_partner_matrix(self):
        """Who counts whom among A's, B's and the shared partner."""
        domain = [("name", "like", "Access ")]
        a, b, shared = self.partner_a, self.partner_b, self.partner_shared
        both = self.company_a | self.company_b
        cases = [
            (self.marketer_a, None, {a, shared}),
            (self.marketer_b, None, {b, shared}),
            (self.marketer_ab, self.company_a, {a, shared}),
            (self.marketer_ab, both, {a, b, shared}),
            (self.manager_a, None, {a, shared}),
            (self.admin, both, {a, b, shared}),
        ]
        for user, companies, expected in cases:
            with self.subTest(user=user.login, companies=companies and companies.mapped("name")):
                mailing = self._partner_mailing(user, domain, companies)
                self.assertEqual(mailing.audience_to_send, len(expected))
                self.env.cr.execute(mailing.env["sms.marketing.audience"]._get_recipients_query(mailing))
                self.assertEqual({row[0] for row in self.env.cr.fetchall()}, {p.id for p in expected})

    def test_responsible_widens_nothing(self):
        """Naming the administrator as Responsible gives the marketer none of their rights."""
        mailing = self._partner_mailing(self.marketer_a, [("id", "=", self.partner_b.id)], user_id=self.admin.id)
        self.assertEqual(mailing.audience_to_send, 0)
        mailing = self._partner_mailing(self.marketer_a, "[('create_uid', '=', uid)]", user_id=self.admin.id)
        self.assertIn(
            ("create_uid", "=", self.marketer_a.id), mailing.env["sms.marketing.audience"]._get_filter(mailing)
        )

    def test_filter_on_a_field_the_user_may_not_read(self):
        """signup_type is for administrators only: a marketer may not filter on it, even through a relation."""
        for domain in (
            [("signup_type", "!=", False)],
            [("child_ids.signup_type", "!=", False)],
            [("child_ids", "any", [("signup_type", "!=", False)])],
            [("child_ids", "ANY", [("signup_type", "=like", "s%")])],  # checked whatever its case
        ):
            with self.subTest(domain=domain), self.assertRaisesRegex(ValidationError, "not allowed to read"):
                self._partner_mailing(self.marketer_a, domain)
        # a filter saved by someone allowed, then counted for a marketer: the form says why, Send refuses
        mailing = self._partner_mailing(self.admin, [("signup_type", "=", False), ("name", "like", "Access ")])
        self.assertFalse(mailing.audience_error)
        self.assertEqual(mailing.audience_to_send, 3)
        as_marketer = mailing.with_user(self.marketer_a)
        self.assertIn("not allowed to read", as_marketer.audience_error)
        self.assertEqual(as_marketer.audience_to_send, 0)
        with self.assertRaisesRegex(UserError, "not allowed to read"):
            as_marketer.action_send_now()

    # ------------------------------------------------------------------ lists
    def test_list_matrix(self):
        """A shared list holds contacts of A and B: each marketer reaches only the contacts they may read."""
        cases = [
            (self.marketer_a, None, {self.contact_a}),
            (self.marketer_b, None, {self.contact_b}),
            (self.marketer_ab, self.company_a | self.company_b, {self.contact_a, self.contact_b}),
            (self.admin, self.company_a | self.company_b, {self.contact_a, self.contact_b}),
        ]
        for user, companies, expected in cases:
            with self.subTest(user=user.login):
                mailing = self._list_mailing(user, self.list_shared, companies)
                self.assertEqual(mailing.audience_to_send, len(expected))

    def test_list_of_another_company_counts_for_nothing(self):
        with self.assertRaises(AccessError):
            self._list_mailing(self.marketer_a, self.list_b)
        # written as superuser behind the marketer's back: it still reaches nobody of B
        mailing = self._list_mailing(self.marketer_a, self.list_a)
        mailing.sudo().list_ids = self.list_b
        self.assertEqual(mailing.audience_to_send, 0)

    def test_mailing_and_list_stay_in_their_company(self):
        with self.assertRaises(ValidationError):
            self.env["sms.marketing.mailing"].create(
                {"subject": "Mixed", "company_id": self.company_a.id, "list_ids": [(6, 0, self.list_b.ids)]}
            )

    # ------------------------------------------------------------------ sending
    def test_sending_follows_the_sender(self):
        """What the form counted is what is sent, evaluated as the sender by the cron (superuser)."""
        both = self.company_a | self.company_b
        mailing = self._partner_mailing(self.marketer_ab, [("name", "like", "Access ")], both)
        self.assertEqual(mailing.audience_to_send, 3)
        mailing.with_user(self.marketer_ab).with_context(allowed_company_ids=both.ids).action_send_now()
        self.assertEqual(mailing.sender_id, self.marketer_ab)
        self.assertEqual(mailing.sender_company_ids, both)
        sent = self._sent_res_ids(mailing)
        self.assertEqual(sent, set((self.partner_a | self.partner_b | self.partner_shared).ids))
        self.assertIn("SMS company B", "".join(mailing.message_ids.mapped("body")))

    def test_sender_who_lost_a_company_sends_within_what_they_may_read(self):
        both = self.company_a | self.company_b
        mailing = self._partner_mailing(self.marketer_ab, [("name", "like", "Access ")], both)
        mailing.with_user(self.marketer_ab).with_context(allowed_company_ids=both.ids).action_send_now()
        self.marketer_ab.write({"company_ids": [(6, 0, self.company_a.ids)], "company_id": self.company_a.id})
        sent = self._sent_res_ids(mailing)
        self.assertEqual(sent, set((self.partner_a | self.partner_shared).ids))
        mailing = mailing.with_env(self.env)
        log = "".join(mailing.message_ids.mapped("body"))
        self.assertIn(self.marketer_ab.name, log, "the mailing says whose rights chose the recipients")
        self.assertNotIn("SMS company B", log)

    def test_sender_who_lost_the_group_is_refused(self):
        mailing = self._partner_mailing(self.marketer_a, [("name", "like", "Access ")])
        mailing.with_user(self.marketer_a).action_send_now()
        self.marketer_a.write({"groups_id": [(3, self.env.ref("sms_marketing_custom.group_sms_marketing_user").id)]})
        self.assertFalse(self._sent_res_ids(mailing))
        mailing = mailing.with_env(self.env)
        self.assertEqual(mailing.state, "paused")
        self.assertEqual(mailing.pause_code, "sender_access")
        self.assertIn(self.marketer_a.name, mailing.pause_reason)

    def test_nobody_sends_with_the_rights_of_someone_else(self):
        """The sender fields are read-only in the form, and over RPC too; editing a scheduled
        mailing makes the editor its sender."""
        mailing = self._partner_mailing(self.marketer_a, [("name", "like", "Access ")])
        as_marketer = mailing.with_user(self.marketer_a)
        for vals in (
            {"sender_id": self.admin.id},
            {"sender_company_ids": [(6, 0, self.company_b.ids)]},
            {"sender_company_ids": [(4, self.company_b.id)]},
        ):
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                as_marketer.write(vals)
        as_marketer.write({"schedule_date": "2099-01-01 10:00:00"})
        as_marketer.action_schedule()
        self.assertEqual(mailing.sender_id, self.marketer_a)
        # another marketer of company A changes the filter of the scheduled mailing: they become its sender
        colleague = self.manager_a
        mailing.with_user(colleague).write({"domain": "[('name', 'like', 'Access')]"})
        self.assertEqual(mailing.sender_id, colleague)
        self.assertEqual(mailing.state, "scheduled")

    # ------------------------------------------------------------------ a form's onchange
    def _onchange(self, record, user, values, count_field):
        """What ``record``'s form shows ``user`` once ``values`` (the client's) change its filter: the values
        that changed, of the count and its error."""
        spec = {name: {} for name in ("domain", "sender_id", "sender_company_ids", count_field, "audience_error")}
        return record.with_user(user).onchange(values, ["domain"], spec)["value"]

    def test_a_forms_count_is_never_made_with_someone_elses_rights(self):
        """An onchange puts whatever the client sends in the cache, read-only fields included: a sender named
        there is ignored, and an audience edited in the form is counted with the editor's rights, not with
        those of the stored sender (admin, who reads B's partners and every field)."""
        both = self.company_a | self.company_b
        forged = {"sender_id": self.admin.id, "sender_company_ids": [(6, 0, both.ids)]}
        edited = {"domain": "[('name', 'like', 'Access ')]"}
        self.assertEqual(self._partner_mailing(self.admin, edited["domain"], companies=both).audience_total, 3)
        # a field only administrators may read: the marketer's count is the reason, not a figure
        secret = {"domain": "[('signup_type', '=', False), ('name', 'like', 'Access ')]"}
        admin_counts = self._partner_mailing(self.admin, secret["domain"], companies=both).audience_total
        self.assertEqual(admin_counts, 3, "what admin's rights would count")
        partner_model = self.env["ir.model"]._get_id(PARTNER)
        counts = {"sms.marketing.mailing": "audience_total", "sms.marketing.journey": "audience_count"}
        for model, count_field in counts.items():
            with self.subTest(model=model):
                if model == "sms.marketing.mailing":
                    record = self._partner_mailing(self.marketer_a, [("id", "=", 0)])
                else:
                    record = self.env[model].with_user(self.marketer_a).create(
                        {"name": "Access", "trigger": "manual", "list_ids": [(5,)], "domain": "[('id', '=', 0)]",
                         "recipient_model_id": partner_model}
                    )  # fmt: skip
                # a sender named by the client: counted with the marketer's own rights
                shown = self._onchange(record, self.marketer_a, {**forged, **edited}, count_field)
                self.assertEqual(shown[count_field], 2)
                shown = self._onchange(record, self.marketer_a, {**forged, **secret}, count_field)
                self.assertIn("not allowed to read", shown.get("audience_error") or "")
                self.assertEqual(shown.get(count_field, 0), 0)
                # nor through the context's defaults, in a new record's form or at its creation
                Model = self.env[model].with_user(self.marketer_a).with_context(default_sender_id=self.admin.id)
                self.assertFalse(Model.default_get(["sender_id", "sender_company_ids"]))
                created = Model.create(
                    {"name": "Defaults", "trigger": "manual", "recipient_model_id": partner_model}
                    if model == "sms.marketing.journey"
                    else {"subject": "Defaults"}
                )
                self.assertFalse(created.sender_id)
                # nor in a record nested in another form's many2one value (the Send confirmation)
                if model == "sms.marketing.mailing":
                    Wizard = self.env["sms.marketing.mailing.send"].with_user(self.marketer_a)
                    spec = {"mailing_id": {"fields": {count_field: {}, "audience_error": {}}}, "recipient_count": {}}
                    for domain, expected in ((edited, 2), (secret, 0)):
                        nested = {"subject": "Nested", "recipient_model_id": partner_model, **forged, **domain}
                        shown = Wizard.onchange({"mailing_id": nested}, ["mailing_id"], spec)["value"]
                        self.assertEqual(shown.get("recipient_count", 0), expected, domain)
                # the stored sender is admin (the system records it at Send or Start); the marketer edits the filter
                record.sudo().write(forged)
                shown = self._onchange(record, self.marketer_a, secret, count_field)
                self.assertIn("not allowed to read", shown.get("audience_error") or "")
                self.assertEqual(shown.get(count_field, 0), 0)

    def test_the_preview_is_of_a_record_the_user_may_read(self):
        """The preview recipient is typed by the client: one the marketer may not read (B's partner) shows no
        field of it, not even its language in the opt-out line."""
        mailing = self._partner_mailing(self.marketer_a, [("name", "like", "Access ")]).with_user(self.marketer_a)
        mailing.preview_ref = f"{PARTNER},{self.partner_a.id}"
        self.assertEqual(mailing._get_preview_res_id(), self.partner_a.id)
        mailing.preview_ref = f"{PARTNER},{self.partner_b.id}"
        self.assertIsNone(mailing._get_preview_res_id())
        both = (self.company_a | self.company_b).ids
        as_admin = mailing.with_user(self.admin).with_context(allowed_company_ids=both)
        self.assertEqual(as_admin._get_preview_res_id(), self.partner_b.id, "one who may read it")

    def test_the_audience_reads_its_model_from_the_database(self):
        """``recipient_model`` and ``is_list_mailing`` are computed without inverse: a client can fill them in a
        record nested in a form's value (here read from a saved mailing with admin as its sender). The audience
        reads its model from ``recipient_model_id`` only: the count is that of the saved mailing, not admin's
        partners."""
        both = self.company_a | self.company_b
        mailing = self._list_mailing(self.admin, self.list_shared, companies=both)
        mailing.sudo().write({"sender_id": self.admin.id, "sender_company_ids": [(6, 0, both.ids)]})
        saved = mailing.with_user(self.marketer_a).audience_to_send
        Wizard = self.env["sms.marketing.mailing.send"].with_user(self.marketer_a)
        spec = {"mailing_id": {"fields": {"audience_total": {}}}, "recipient_count": {}}
        for forged in ({"recipient_model": PARTNER}, {"is_list_mailing": False}):
            with self.subTest(forged=forged):
                shown = Wizard.onchange({"mailing_id": {"id": mailing.id, **forged}}, ["mailing_id"], spec)["value"]
                self.assertEqual(shown.get("recipient_count", 0), saved)
                fake = mailing.with_user(self.marketer_a).new(forged, origin=mailing)
                stats, _error = self.env["sms.marketing.audience"].with_user(self.marketer_a)._get_form_statistics(fake)
                self.assertEqual(stats["to_send"], saved)
