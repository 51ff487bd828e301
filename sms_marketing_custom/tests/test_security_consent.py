"""Attacks on the consent log: an RPC caller (marketer, manager) forging or backdating an opt-in or
opt-out event through the context, the values or the public methods (docs/design.md, consent log).

Every event a user causes must say what the server knows: source "manual" (or "import" for
``load()``), now, that user, their company, no evidence, mailing or gateway of the caller's choosing.
"""

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from .test_security_matrix import SecurityFixtures, _number

PAST = "2020-01-01 00:00:00"


class ForgedConsentCase(SecurityFixtures):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mailing_b = cls._new_record("sms.marketing.mailing", cls.company_b)
        cls.gateway_b = cls._new_record("sms.marketing.gateway", cls.company_b)
        cls.list_a = cls._new_record("sms.marketing.list", cls.company_a)
        # what a request can put in its context: JSON only
        cls.forged_context = {
            "sms_marketing_consent": {
                "source": "keyword",
                "mailing_id": cls.mailing_b.id,
                "gateway_id": cls.gateway_b.id,
                "evidence": "STOP (forged)",
                "date": PAST,
                "user_id": cls.user_admin.id,
                "company_id": cls.company_b.id,
                "list_id": cls.list_a.id,
            },
            "import_file": True,
        }

    @classmethod
    def _new_record(cls, model, company):
        return cls.env[model].create(SecurityFixtures._vals(cls, model, company))

    def setUp(self):
        super().setUp()
        self.start = fields.Datetime.now()
        self.last_event = self.env["sms.marketing.consent"].search([], order="id desc", limit=1).id or 0

    def _new_events(self):
        self.env.invalidate_all()
        events = self.env["sms.marketing.consent"].search([("id", ">", self.last_event)], order="id")
        self.last_event = events[-1:].id or self.last_event
        return events

    def _assert_server_events(self, events, user, source="manual", count=None):
        self.assertTrue(events, "the change was logged")
        if count is not None:
            self.assertEqual(len(events), count)
        for event in events:
            with self.subTest(event=event.id, kind=event.event, number=event.number):
                self.assertEqual(event.source, source)
                self.assertGreaterEqual(event.date, self.start, "not backdated")
                self.assertEqual(event.user_id, user)
                self.assertEqual(event.company_id, self.company_a)
                self.assertFalse(event.evidence)
                self.assertFalse(event.mailing_id)
                self.assertFalse(event.gateway_id)


@tagged("post_install", "-at_install", "sms_security")
class TestForgedConsent(ForgedConsentCase):
    def test_blacklist_context_and_values_ignored(self):
        for role in ("user", "manager"):
            user = self.users[role]
            Blacklist = self.env["sms.marketing.blacklist"].with_user(user).with_context(**self.forged_context)
            entry = Blacklist.create(
                {
                    "number": _number(),
                    "source": "keyword",
                    "date": PAST,
                    "company_id": self.company_b.id,
                    "removed_source": "keyword",
                    "removed_date": PAST,
                }
            )
            self._assert_server_events(self._new_events(), user, count=1)
            self.assertEqual((entry.source, entry.company_id), ("manual", self.company_a), role)
            self.assertGreaterEqual(entry.date, self.start)

            entry.write({"active": False, "removed_source": "keyword", "removed_date": PAST})
            self._assert_server_events(self._new_events(), user, count=1)
            self.assertEqual(entry.removed_source, "manual")
            self.assertGreaterEqual(entry.removed_date, self.start)
            entry.action_restore()
            entry.action_remove()
            self._assert_server_events(self._new_events(), user, count=2)

            # rewriting the history of an entry changes nothing
            entry.write({"source": "provider", "date": PAST, "company_id": self.company_b.id})
            self.assertEqual((entry.source, entry.company_id), ("manual", self.company_a))
            self.assertGreaterEqual(entry.date, self.start)
            self.assertFalse(self._new_events())

    def test_contact_and_subscription_context_and_values_ignored(self):
        for role in ("user", "manager"):
            user = self.users[role]
            env = self.env(user=user, context=dict(self.env.context, **self.forged_context))
            contact = env["sms.marketing.contact"].create(SecurityFixtures._vals(self, "sms.marketing.contact"))
            contact.action_blacklist()
            contact.action_unblacklist()
            self._assert_server_events(self._new_events(), user, count=2)
            subscription = env["sms.marketing.subscription"].create(
                {"contact_id": contact.id, "list_id": self.list_a.id, "opt_out": True, "opt_out_date": PAST}
            )
            self.assertGreaterEqual(subscription.opt_out_date, self.start, "the date of an opt-out is now")
            subscription.write({"opt_out": False})
            subscription.write({"opt_out": True, "opt_out_date": PAST})
            self.assertGreaterEqual(subscription.opt_out_date, self.start)
            other_list = env["sms.marketing.list"].create({"name": f"Forged {role}"})
            contact.write({"list_ids": [(4, other_list.id)]})
            events = self._new_events()
            self._assert_server_events(events, user, count=4)
            self.assertEqual(events.mapped("event"), ["opt_out", "opt_in", "opt_out", "opt_in"])

    def test_import_is_logged_as_import_with_the_server_details(self):
        for role in ("user", "manager"):
            user = self.users[role]
            Blacklist = self.env["sms.marketing.blacklist"].with_user(user).with_context(**self.forged_context)
            result = Blacklist.load(["number", "source", "date"], [[_number(), "keyword", PAST]])
            self.assertFalse(result["messages"])
            self._assert_server_events(self._new_events(), user, source="import", count=1)
            self.assertEqual(Blacklist.browse(result["ids"]).source, "import")
            Contact = self.env["sms.marketing.contact"].with_user(user).with_context(**self.forged_context)
            result = Contact.load(["name", "phone", "list_ids/.id"], [["Imported", _number(), str(self.list_a.id)]])
            self.assertFalse(result["messages"])
            self._assert_server_events(self._new_events(), user, source="import", count=1)

    def test_request_company_is_the_users(self):
        """``allowed_company_ids`` comes from the request: a company the user is not in is refused, even
        though the blacklist is written as superuser."""
        for role in ("user", "manager"):
            Blacklist = self.env["sms.marketing.blacklist"].with_user(self.users[role])
            with self.assertRaises(AccessError), mute_logger("odoo.models"):
                Blacklist.with_context(allowed_company_ids=self.company_b.ids).create({"number": _number()})
            self.assertFalse(self._new_events())


@tagged("post_install", "-at_install", "sms_security")
class TestForgedConsentOverRpc(HttpCase, ForgedConsentCase):
    """The same through Odoo's JSON-RPC, as a client would send it."""

    def _call(self, model, method, args, context):
        return self.make_jsonrpc_request(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": {"context": context}},
        )

    def test_rpc_create_with_forged_context(self):
        self.authenticate("sms_marketer", "sms_marketer")
        context = dict(self.forged_context, allowed_company_ids=self.company_a.ids)
        number = _number()
        self._call(
            "sms.marketing.blacklist", "create", [{"number": number, "source": "keyword", "date": PAST}], context
        )
        events = self._new_events()
        self._assert_server_events(events, self.user_marketing, count=1)
        self.assertEqual(events.number, number)

    def test_private_methods_not_callable(self):
        self.authenticate("sms_manager", "sms_manager")
        for method, args in (
            ("_add_numbers", [[_number()], "keyword", {"evidence": "STOP", "gateway_id": self.gateway_b.id}]),
            ("_remove_numbers", [[_number()], "keyword"]),
            ("_log_consent", [[], "opt_out"]),
        ):
            with self.subTest(method=method), self.assertRaises(JsonRpcException), mute_logger("odoo.http"):
                self._call("sms.marketing.blacklist", method, args, {})
        with self.assertRaises(JsonRpcException), mute_logger("odoo.http"):
            self._call("sms.marketing.consent", "_log", [[{"number": _number(), "event": "opt_in"}]], {})
        with self.assertRaises(JsonRpcException), mute_logger("odoo.http"):
            self._call(
                "sms.marketing.consent", "create", [{"number": _number(), "event": "opt_in", "source": "form"}], {}
            )
        self.assertFalse(self._new_events())
