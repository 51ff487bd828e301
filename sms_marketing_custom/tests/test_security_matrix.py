"""Access matrix of every sms.marketing.* model, record rules, multi-company
isolation and gateway secrets.

Each role is checked twice: with ``check_access_rights`` (what the ACLs say)
and with real operations (what a user can actually do through the ORM).
"""

import uuid
from itertools import count

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import SmsMarketingCase

OPERATIONS = ("create", "read", "write", "unlink")
_SEQ = count(1)

# Expected rights: c(reate) r(ead) w(rite) u(nlink). Internal users without
# the SMS groups, portal and public users get nothing on any model.
MATRIX = {
    "sms.marketing.mailing": {"user": "crwu", "manager": "crwu"},
    # A/B versions follow their mailing
    "sms.marketing.mailing.variant": {"user": "crwu", "manager": "crwu"},
    "sms.marketing.list": {"user": "crwu", "manager": "crwu"},
    "sms.marketing.contact": {"user": "crwu", "manager": "crwu"},
    "sms.marketing.subscription": {"user": "crwu", "manager": "crwu"},
    # marketers block numbers (and archive entries); deleting the proof of an opt-out is for managers
    "sms.marketing.blacklist": {"user": "crw", "manager": "crwu"},
    # traces and clicks are written by the engine and the public routes
    "sms.marketing.trace": {"user": "r", "manager": "crwu"},
    "sms.marketing.link": {"user": "crw", "manager": "crwu"},
    "sms.marketing.link.click": {"user": "r", "manager": "crwu"},
    # kept by the clicks' and traces' triggers only: read by the engagement filters, written by nobody
    "sms.marketing.engagement.summary": {"user": "r", "manager": "r"},
    # gateways and prices are configured by managers
    "sms.marketing.gateway": {"user": "r", "manager": "crwu"},
    "sms.marketing.gateway.price": {"user": "r", "manager": "crwu"},
    "sms.marketing.gateway.route": {"user": "r", "manager": "crwu"},
    # the ledger is append-only, written by the engine as superuser
    "sms.marketing.credit.move": {"user": "r", "manager": "r"},
    "sms.marketing.mailing.test": {"user": "crwu", "manager": "crwu"},
    "sms.marketing.mailing.schedule": {"user": "crwu", "manager": "crwu"},
    "sms.marketing.mailing.send": {"user": "crwu", "manager": "crwu"},
    # which models can receive SMS: configured by managers, read by the mailing form
    "sms.marketing.recipient.model": {"user": "r", "manager": "crwu"},
    # consent log: append-only, written by the system only (events are the proof of consent)
    "sms.marketing.consent": {"user": "r", "manager": "r"},
    # pending JOIN confirmations: written by the inbound webhook only
    "sms.marketing.join.request": {"user": "r", "manager": "r"},
    # webhook ids and nonces already seen: the webhook route's own (superuser), nobody else's
    "sms.marketing.webhook.replay": {},
    # keyword answers waiting to leave: the webhook's and the cron's (superuser), nobody else's
    "sms.marketing.reply": {},
    # conversations: written by the inbound webhook (superuser); users write only the reply they compose
    "sms.marketing.conversation": {"user": "rw", "manager": "rw"},
    "sms.marketing.conversation.message": {"user": "r", "manager": "r"},
    # which records a conversation's number belongs to: read in SQL by the access rule only
    "sms.marketing.conversation.match": {},
    # cache of normalised numbers, written by the engine as superuser
    "sms.marketing.number": {"manager": "r"},
    # marketers write and share their templates and campaigns
    "sms.marketing.template": {"user": "crwu", "manager": "crwu"},
    "sms.marketing.campaign": {"user": "crwu", "manager": "crwu"},
    # an SQL view of the mailings' figures
    "sms.marketing.campaign.report": {"user": "r", "manager": "r"},
    # journeys are written as mailings are; participants by the journey's runner only
    "sms.marketing.journey": {"user": "crwu", "manager": "crwu"},
    "sms.marketing.journey.step": {"user": "crwu", "manager": "crwu"},
    "sms.marketing.journey.participant": {"user": "r", "manager": "ru"},
    "sms.marketing.journey.add": {"user": "crwu", "manager": "crwu"},
    "sms.marketing.journey.test": {"user": "crwu", "manager": "crwu"},
}
# models checked on an existing record (their records are few and unique per model)
EXISTING = {"sms.marketing.recipient.model": "sms_marketing_custom.sms_marketing_recipient_model_partner"}
ROLES = ("user", "manager", "employee", "portal", "public")
SECRET_FIELDS = ("api_key", "webhook_secret")


def _number():
    return f"+3247{next(_SEQ) + 1000000:07d}"


class SecurityFixtures(SmsMarketingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = {
            "user": cls.user_marketing,
            "manager": cls.user_manager,
            "employee": cls.user_employee,
            "portal": cls.user_portal,
            "public": cls.user_public,
        }
        cls.admin = cls.user_admin

    # -- record factories (as superuser), one fresh record per call ------------
    def _vals(self, model, company=None):
        """Values for a new record of ``model`` (parents created as superuser)."""
        env = self.env
        company = company or self.company_a
        seq = next(_SEQ)
        if model == "sms.marketing.mailing":
            return {"subject": f"Security {seq}", "body": "Hello", "company_id": company.id}
        if model == "sms.marketing.mailing.variant":
            mailing = env["sms.marketing.mailing"].create(self._vals("sms.marketing.mailing", company))
            return {"mailing_id": mailing.id, "own_body": f"Version {seq}"}
        if model == "sms.marketing.list":
            return {"name": f"List {seq}", "company_id": company.id}
        if model == "sms.marketing.contact":
            return {"name": f"Contact {seq}", "phone": _number(), "company_id": company.id}
        if model == "sms.marketing.subscription":
            return {
                "contact_id": env["sms.marketing.contact"].create(self._vals("sms.marketing.contact", company)).id,
                "list_id": env["sms.marketing.list"].create(self._vals("sms.marketing.list", company)).id,
            }
        if model == "sms.marketing.blacklist":
            return {"number": _number()}
        if model == "sms.marketing.trace":
            mailing = env["sms.marketing.mailing"].create(self._vals("sms.marketing.mailing", company))
            return {"mailing_id": mailing.id, "uuid": uuid.uuid4().hex, "number": _number(), "state": "canceled"}
        if model == "sms.marketing.link":
            mailing = env["sms.marketing.mailing"].create(self._vals("sms.marketing.mailing", company))
            return {"url": f"https://example.com/{seq}", "code": f"sec{seq}", "mailing_id": mailing.id}
        if model == "sms.marketing.link.click":
            return {"link_id": env["sms.marketing.link"].create(self._vals("sms.marketing.link", company)).id}
        if model == "sms.marketing.engagement.summary":
            return {"res_model": "sms.marketing.contact", "res_id": seq, "company_id": company.id,
                    "last_click_at": "2026-01-01 10:00:00"}  # fmt: skip
        if model == "sms.marketing.gateway":
            return {"name": f"Gateway {seq}", "provider": "sandbox", "company_id": company.id}
        if model == "sms.marketing.gateway.price":
            gateway = env["sms.marketing.gateway"].create(self._vals("sms.marketing.gateway", company))
            return {"gateway_id": gateway.id, "price": 1.0}
        if model == "sms.marketing.gateway.route":
            gateway = env["sms.marketing.gateway"].create(self._vals("sms.marketing.gateway", company))
            return {"gateway_id": gateway.id, "company_id": company.id}
        if model == "sms.marketing.credit.move":
            gateway = env["sms.marketing.gateway"].create(self._vals("sms.marketing.gateway", company))
            return {"gateway_id": gateway.id, "move_type": "purchase", "amount": 10.0}
        if model == "sms.marketing.mailing.send":
            mailing = env["sms.marketing.mailing"].create(self._vals("sms.marketing.mailing", company))
            return {"mailing_id": mailing.id}
        if model == "sms.marketing.mailing.schedule":
            mailing = env["sms.marketing.mailing"].create(self._vals("sms.marketing.mailing", company))
            return {"mailing_id": mailing.id, "schedule_date": "2099-01-01 10:00:00"}
        if model == "sms.marketing.recipient.model":
            return {
                "model_id": env["ir.model"]._get_id("res.company"),
                "phone_field_id": env.ref("base.field_res_company__phone").id,
            }
        if model == "sms.marketing.consent":
            return {"number": _number(), "event": "opt_out", "source": "manual", "company_id": company.id}
        if model == "sms.marketing.join.request":
            sms_list = env["sms.marketing.list"].create(self._vals("sms.marketing.list", company))
            return {"number": _number(), "list_id": sms_list.id, "company_id": company.id}
        if model == "sms.marketing.webhook.replay":
            gateway = env["sms.marketing.gateway"].create(self._vals("sms.marketing.gateway", company))
            return {"gateway_id": gateway.id, "key": f"nonce-{seq}", "expires_at": "2099-01-01 10:00:00"}
        if model == "sms.marketing.reply":
            gateway = env["sms.marketing.gateway"].create(self._vals("sms.marketing.gateway", company))
            return {"gateway_id": gateway.id, "number": _number(), "content": "Reply STOP to stop."}
        if model == "sms.marketing.conversation":
            # readable by the marketer: the number of a contact of the company
            contact = env["sms.marketing.contact"].create(self._vals("sms.marketing.contact", company))
            return {
                "number": contact.phone_sanitized,
                "company_id": company.id,
                "match_ids": [(0, 0, {"res_model": contact._name, "res_id": contact.id})],
            }
        if model == "sms.marketing.conversation.message":
            conversation = env["sms.marketing.conversation"].create(self._vals("sms.marketing.conversation", company))
            return {"conversation_id": conversation.id, "company_id": company.id, "direction": "in", "body": "Hi"}
        if model == "sms.marketing.conversation.match":
            conversation = env["sms.marketing.conversation"].create(self._vals("sms.marketing.conversation", company))
            return {"conversation_id": conversation.id, "res_model": "res.partner", "res_id": 1}
        if model == "sms.marketing.number":
            return {"raw": f"0470 {seq:06d}", "region": "BE"}
        if model == "sms.marketing.template":
            return {"name": f"Template {seq}", "body": "Hello", "company_id": company.id}
        if model == "sms.marketing.campaign":
            return {"name": f"Campaign {seq}", "company_id": company.id}
        if model == "sms.marketing.campaign.report":
            mailing = env["sms.marketing.mailing"].create(self._vals("sms.marketing.mailing", company))
            return {"mailing_id": mailing.id}
        if model == "sms.marketing.mailing.test":
            mailing = env["sms.marketing.mailing"].create(self._vals("sms.marketing.mailing", company))
            return {"mailing_id": mailing.id, "numbers": _number()}
        if model == "sms.marketing.journey":
            sms_list = env["sms.marketing.list"].create(self._vals("sms.marketing.list", company))
            return {"name": f"Journey {seq}", "list_ids": [(6, 0, sms_list.ids)], "company_id": company.id}
        if model == "sms.marketing.journey.step":
            journey = env["sms.marketing.journey"].create(self._vals("sms.marketing.journey", company))
            return {"name": f"Step {seq}", "journey_id": journey.id, "step_type": "wait"}
        if model == "sms.marketing.journey.participant":
            journey = env["sms.marketing.journey"].create(self._vals("sms.marketing.journey", company))
            return {"journey_id": journey.id, "res_model": "sms.marketing.contact", "res_id": seq}
        if model == "sms.marketing.journey.add":
            journey = env["sms.marketing.journey"].create(self._vals("sms.marketing.journey", company))
            return {"journey_id": journey.id, "res_model": "sms.marketing.contact", "res_ids": []}
        if model == "sms.marketing.journey.test":
            journey = env["sms.marketing.journey"].create(self._vals("sms.marketing.journey", company))
            return {"journey_id": journey.id}
        return None

    def _new(self, model, company=None):
        if self.env[model]._auto is False:
            # a report (SQL view): the row of a new record of its source
            mailing_id = self._vals(model, company)["mailing_id"]
            return self.env[model].search([("mailing_id", "=", mailing_id)])
        return self.env[model].create(self._vals(model, company))

    # a harmless field to write per model
    WRITE_FIELD = {
        "sms.marketing.mailing": ("subject", "Changed"),
        "sms.marketing.list": ("name", "Changed"),
        "sms.marketing.mailing.variant": ("own_body", "Changed"),
        "sms.marketing.contact": ("name", "Changed"),
        "sms.marketing.subscription": ("opt_out", True),
        "sms.marketing.blacklist": ("active", False),
        "sms.marketing.trace": ("failure_reason", "Changed"),
        "sms.marketing.link": ("url", "https://example.com/changed"),
        "sms.marketing.link.click": ("trace_id", False),
        "sms.marketing.engagement.summary": ("last_failure_at", "2026-01-02 10:00:00"),
        "sms.marketing.gateway": ("name", "Changed"),
        "sms.marketing.gateway.price": ("price", 2.0),
        "sms.marketing.gateway.route": ("sequence", 7),
        "sms.marketing.credit.move": ("amount", 1.0),
        "sms.marketing.mailing.test": ("numbers", "+32470000999"),
        "sms.marketing.recipient.model": ("sequence", 7),
        "sms.marketing.number": ("error", "too_short"),
        "sms.marketing.webhook.replay": ("key", "changed"),
        "sms.marketing.reply": ("content", "Changed"),
        "sms.marketing.conversation": ("reply_body", "Changed"),
        "sms.marketing.conversation.message": ("body", "Changed"),
        "sms.marketing.conversation.match": ("res_id", 2),
        "sms.marketing.consent": ("event", "opt_in"),
        "sms.marketing.join.request": ("state", "confirmed"),
        "sms.marketing.template": ("name", "Changed"),
        "sms.marketing.campaign": ("name", "Changed"),
        "sms.marketing.campaign.report": ("sent_count", 1),
        "sms.marketing.journey": ("name", "Changed"),
        "sms.marketing.journey.step": ("name", "Changed"),
        "sms.marketing.journey.participant": ("next_action_at", "2099-01-01 10:00:00"),
        "sms.marketing.journey.add": ("res_model", "res.partner"),
        "sms.marketing.journey.test": ("record_ref", False),
    }


@tagged("post_install", "-at_install", "sms_security")
class TestSecurityMatrix(SecurityFixtures):
    def test_every_model_is_in_the_matrix(self):
        """A new sms.marketing.* model must come with its expected rights here."""
        # abstract models (the sending engine) have no table, hence no rights
        models = {
            name
            for name in self.env.registry
            if name.startswith("sms.marketing.") and not self.env.registry[name]._abstract
        }
        missing = models - set(MATRIX)
        self.assertFalse(missing, f"add these models to MATRIX with their expected rights: {sorted(missing)}")

    def test_no_global_access_lines(self):
        """No ACL line without a group (it would open the model to portal and public)."""
        lines = self.env["ir.model.access"].search([("model_id.model", "=like", "sms.marketing.%")])
        self.assertTrue(lines)
        for line in lines:
            self.assertTrue(line.group_id, f"{line.name} grants rights to everyone")
            self.assertIn(line.group_id.category_id, self.env.ref("sms_marketing_custom.module_category_sms_marketing"))

    def test_acl_matrix(self):
        for model, rights in MATRIX.items():
            for role in ROLES:
                expected = rights.get(role, "")
                for operation in OPERATIONS:
                    allowed = operation[0] in expected
                    with self.subTest(model=model, role=role, operation=operation):
                        result = (
                            self.env[model]
                            .with_user(self.users[role])
                            .check_access_rights(operation, raise_exception=False)
                        )
                        self.assertEqual(result, allowed)

    def test_real_operations(self):
        """What each role can actually do with records of its own company."""
        for model, rights in MATRIX.items():
            transient = self.env[model]._transient
            for role in ROLES:
                expected = rights.get(role, "")
                user = self.users[role]
                with self.subTest(model=model, role=role, operation="create"):
                    vals = self._vals(model)
                    if "c" in expected:
                        record = self.env[model].with_user(user).create(vals)
                        self.assertTrue(record.exists())
                    else:
                        with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
                            self.env[model].with_user(user).create(vals)
                if transient:
                    # a wizard only ever belongs to the user who opened it
                    continue
                record = self.env.ref(EXISTING[model]) if model in EXISTING else self._new(model)
                with self.subTest(model=model, role=role, operation="read"):
                    if "r" in expected:
                        self.assertEqual(self.env[model].with_user(user).search([("id", "=", record.id)]), record)
                        record.with_user(user).read(["display_name"])
                    else:
                        with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
                            record.with_user(user).read(["display_name"])
                with self.subTest(model=model, role=role, operation="write"):
                    fname, value = self.WRITE_FIELD[model]
                    if "w" in expected:
                        record.with_user(user).write({fname: value})
                        self.assertEqual(record[fname] or False, value)
                    else:
                        with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
                            record.with_user(user).write({fname: value})
                with self.subTest(model=model, role=role, operation="unlink"):
                    if "u" in expected and model in EXISTING:
                        pass  # a shared record: the right is checked by test_acl_matrix
                    elif "u" in expected:
                        record.with_user(user).unlink()
                        self.assertFalse(record.exists())
                    else:
                        with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
                            record.with_user(user).unlink()

    def test_ledger_is_append_only_for_everyone_but_the_engine(self):
        move = self._new("sms.marketing.credit.move")
        for role in ("user", "manager"):
            with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
                move.with_user(self.users[role]).write({"amount": 1e9})
            with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
                move.with_user(self.users[role]).unlink()

    def test_gateway_balance_not_writable_by_marketers(self):
        gateway = self._new("sms.marketing.gateway")
        with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
            gateway.with_user(self.users["user"]).write({"balance": 1e9})


@tagged("post_install", "-at_install", "sms_security")
class TestMultiCompany(SecurityFixtures):
    """Users restricted to company A never see nor touch company B's records."""

    ISOLATED = (
        "sms.marketing.mailing",
        "sms.marketing.list",
        "sms.marketing.contact",
        "sms.marketing.gateway",
        "sms.marketing.template",
        "sms.marketing.campaign",
    )
    # models without their own company: isolated through their parent
    ISOLATED_THROUGH_PARENT = (
        "sms.marketing.subscription",
        "sms.marketing.mailing.variant",
        "sms.marketing.trace",
        "sms.marketing.link",
        "sms.marketing.link.click",
        "sms.marketing.gateway.price",
        "sms.marketing.credit.move",
        "sms.marketing.campaign.report",
    )

    def test_company_records_isolated(self):
        for model in self.ISOLATED:
            own, other, shared = self._new(model), self._new(model, self.company_b), self._new(model)
            shared.company_id = False
            for role in ("user", "manager"):
                user = self.users[role]
                with self.subTest(model=model, role=role):
                    found = self.env[model].with_user(user).search([("id", "in", (own | other | shared).ids)])
                    self.assertEqual(found, own | shared)
                    with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
                        other.with_user(user).read(["display_name"])
                    if model in ("sms.marketing.gateway",) and role == "user":
                        continue  # no write/create right at all, covered by the matrix
                    with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
                        other.with_user(user).write({"name" if "name" in other else "subject": "Hijacked"})
                    with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
                        self.env[model].with_user(user).create(self._vals(model, self.company_b))
                    with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
                        other.with_user(user).unlink()

    def test_children_isolated_through_parent(self):
        for model in self.ISOLATED_THROUGH_PARENT:
            own, other = self._new(model), self._new(model, self.company_b)
            for role in ("user", "manager"):
                user = self.users[role]
                with self.subTest(model=model, role=role):
                    found = self.env[model].with_user(user).search([("id", "in", (own | other).ids)])
                    self.assertEqual(found, own)
                    with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
                        other.with_user(user).read(["display_name"])

    def test_allowed_companies_context(self):
        """A user of both companies working in A only sees A (the company switcher)."""
        user = self.users["user"]
        user.company_ids = [(4, self.company_b.id)]
        mailing_b = self._new("sms.marketing.mailing", self.company_b)
        mailings = self.env["sms.marketing.mailing"].with_user(user)
        self.assertFalse(
            mailings.with_context(allowed_company_ids=self.company_a.ids).search([("id", "=", mailing_b.id)])
        )
        both = (self.company_a | self.company_b).ids
        self.assertEqual(mailings.with_context(allowed_company_ids=both).search([("id", "=", mailing_b.id)]), mailing_b)

    def test_mailing_cannot_use_other_company_list_or_gateway(self):
        list_b = self._new("sms.marketing.list", self.company_b)
        gateway_b = self._new("sms.marketing.gateway", self.company_b)
        mailing = self._new("sms.marketing.mailing")
        with self.assertRaises(UserError):
            mailing.write({"list_ids": [(4, list_b.id)]})
        with self.assertRaises(UserError):
            mailing.write({"gateway_id": gateway_b.id})


@tagged("post_install", "-at_install", "sms_security")
class TestGatewaySecrets(SecurityFixtures):
    """api_key and webhook_secret: only administrators (base.group_system)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gateway = cls.env["sms.marketing.gateway"].create(
            {
                "name": "Secret gateway",
                "provider": "http",
                "endpoint_url": "http://127.0.0.1:9",
                "api_key": "sk-top-secret-key",
                "webhook_secret": "whsec-top-secret",
            }
        )

    def _denied_users(self):
        return [self.users["user"], self.users["manager"]]

    def test_fields_declared_for_administrators_only(self):
        for fname in SECRET_FIELDS:
            field = self.env["sms.marketing.gateway"]._fields[fname]
            self.assertEqual(field.groups, "base.group_system", fname)
            self.assertFalse(getattr(field, "tracking", False), f"{fname} would be copied into the chatter")

    def test_read_and_search_read(self):
        for user in self._denied_users():
            gateway = self.gateway.with_user(user)
            for fname in SECRET_FIELDS:
                with self.subTest(user=user.login, field=fname):
                    with self.assertRaises(AccessError), mute_logger("odoo.models"):
                        gateway.read([fname])
                    with self.assertRaises(AccessError), mute_logger("odoo.models"):
                        gateway.search_read([("id", "=", gateway.id)], [fname])
                    with self.assertRaises(AccessError), mute_logger("odoo.models"):
                        gateway.web_read({fname: {}})
            values = gateway.read()[0]
            self.assertFalse(set(SECRET_FIELDS) & set(values), "read() without fields must omit the secrets")
            values = gateway.search_read([("id", "=", gateway.id)])[0]
            self.assertFalse(set(SECRET_FIELDS) & set(values))
            self.assertFalse(set(SECRET_FIELDS) & set(gateway.fields_get()))
            self.assertNotIn("top-secret", str(gateway.read()))

    def test_no_search_oracle(self):
        """Searching or sorting on a secret would reveal it one character at a time."""
        for user in self._denied_users():
            gateways = self.env["sms.marketing.gateway"].with_user(user)
            for fname in SECRET_FIELDS:
                with self.subTest(user=user.login, field=fname):
                    with self.assertRaises(AccessError), mute_logger("odoo.models"):
                        gateways.search_count([(fname, "=like", "sk-%")])
                    with self.assertRaises(AccessError), mute_logger("odoo.models"):
                        gateways.search([("name", "!=", False), "|", (fname, "=", False), (fname, "ilike", "s")])
                    with self.assertRaises(AccessError), mute_logger("odoo.models"):
                        gateways.search([], order=f"{fname} desc")
                    with self.assertRaises(AccessError), mute_logger("odoo.models"):
                        gateways.read_group([], [fname], [fname])
                    # through a relation
                    with self.assertRaises(AccessError), mute_logger("odoo.models"):
                        self.env["sms.marketing.mailing"].with_user(user).search_count(
                            [(f"gateway_id.{fname}", "=like", "sk-%")]
                        )

    def test_no_export(self):
        manager = self.users["manager"]
        with self.assertRaises(AccessError), mute_logger("odoo.models"):
            self.gateway.with_user(manager).export_data(["name", "api_key"])
        mailing = self._new("sms.marketing.mailing")
        mailing.gateway_id = self.gateway
        with self.assertRaises(AccessError), mute_logger("odoo.models"):
            mailing.with_user(manager).export_data(["subject", "gateway_id/webhook_secret"])
        # exporting what may be read still works
        rows = self.gateway.with_user(manager).export_data(["name"])["datas"]
        self.assertEqual(rows, [["Secret gateway"]])

    def test_secrets_not_writable_by_managers(self):
        with self.assertRaises(AccessError), mute_logger("odoo.models"):
            self.gateway.with_user(self.users["manager"]).write({"api_key": "attacker"})
        self.assertEqual(self.gateway.api_key, "sk-top-secret-key")

    def test_administrator_reads_and_searches(self):
        gateway = self.gateway.with_user(self.admin)
        self.assertEqual(gateway.read(["api_key"])[0]["api_key"], "sk-top-secret-key")
        self.assertEqual(gateway.search([("webhook_secret", "=", "whsec-top-secret")]), gateway)
        gateway.write({"api_key": "rotated"})
        self.assertEqual(self.gateway.api_key, "rotated")
