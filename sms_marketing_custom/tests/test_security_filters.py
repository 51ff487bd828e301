"""A recipient filter is data, never code.

A marketer types a mailing's filter, a manager a model's default filter. They
used to be evaluated with ``safe_eval`` and a live ``user`` record: any
method of any record could be called through them. Each attack here is tried
with the least rights it needs and must be refused with a clear error,
nothing saved and nothing changed; a filter already stored (written by SQL,
as in a database made by an older release) must not run at Send, in the
form, in a template or in the sending cron. The accepted shapes (those of the
web client's domain editor) select the same records as before.
"""

from datetime import datetime, timedelta

from odoo import SUPERUSER_ID, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import SQL, mute_logger
from odoo.tools.safe_eval import datetime as safe_datetime
from odoo.tools.safe_eval import dateutil, safe_eval, time

from ..tools import domain_literal
from .common import SmsMarketingMailingCase

PARTNER_CONFIG = "sms_marketing_custom.sms_marketing_recipient_model_partner"
ATTACK_PARAM = "sms_marketing_custom.attack"
ESCALATE = "user.sudo().write({'groups_id': [(4, user.env.ref('base.group_system').id)]})"
WRITE_PARAM = f"user.env['ir.config_parameter'].sudo().set_param('{ATTACK_PARAM}', 'pwned')"
# each attack: (label, filter text); the harmful ones ran, with the rights of superuser, before
ATTACKS = [
    ("privilege escalation", f"[('id', '!=', {ESCALATE} and 0)]"),
    ("writes a system parameter", f"[('id', '!=', {WRITE_PARAM} and 0)]"),
    (
        "reads the database secret",
        "[('name', '=', user.env['ir.config_parameter'].sudo().get_param('database.secret'))]",
    ),
    ("attribute of an allowed name", "[('id', '!=', user.company_id.sudo().write({'name': 'Pwned'}) and 0)]"),
    ("dunder", "[('id', 'in', ().__class__.__base__.__subclasses__())]"),
    ("lambda", f"[('id', '!=', (lambda user: {ESCALATE} and 0)(user))]"),
    ("comprehension", f"[('id', 'in', [{ESCALATE} and 0 for _x in [1]])]"),
    ("computed huge literal", "[('name', '=', 'x' * 10 ** 6)]"),
    ("huge literal", "[('name', 'in', [" + "'xxxxxxxxxx', " * 20_000 + "])]"),
    ("huge nesting", "[" + "('parent_id', 'any', [" * 40 + "('id', '=', 1)" + "])" * 40 + "]"),
]


class FilterSecurityCase(SmsMarketingMailingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner_config = cls.env.ref(PARTNER_CONFIG)
        cls.partner_model = cls.partner_config.model_id
        cls.Mailing = cls.env["sms.marketing.mailing"].with_user(cls.user_marketing)

    def assert_nothing_changed(self):
        self.env.invalidate_all()
        for user in (self.user_marketing, self.user_manager):
            self.assertFalse(user.has_group("base.group_system"), f"{user.login} became a Settings administrator")
        self.assertFalse(self.env["ir.config_parameter"].sudo().get_param(ATTACK_PARAM))
        self.assertNotEqual(self.env.company.name, "Pwned")

    def assert_refused_clearly(self, error):
        message = str(error.exception.args[0])
        # a sentence for a marketer that says what is wrong (and what a filter may hold), no Python
        self.assertRegex(
            message,
            r"is not allowed in a recipient filter: a value is a constant"
            r"|^The recipient filter is (too long|nested too deeply)",
        )
        self.assertNotIn("Traceback", message)

    def store_by_sql(self, record, text):
        """``text`` as ``record``'s filter, as an older release could have saved it: no check runs."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL("UPDATE %s SET domain = %s WHERE id = %s", SQL.identifier(record._table), text, record.id)
        )
        self.env.invalidate_all()


@tagged("post_install", "-at_install", "sms_security")
class TestFilterAttacks(FilterSecurityCase):
    def test_marketer_filter_on_a_new_mailing(self):
        for label, text in ATTACKS:
            for recipients in ("partners", "list"):
                with self.subTest(label, recipients=recipients):
                    subject = f"Attack {label} {recipients}"
                    values = {"subject": subject, "body": "Hi", "domain": text}
                    if recipients == "partners":
                        values["recipient_model_id"] = self.partner_model.id
                    else:  # a list mailing's filter was never checked when saved
                        values["list_ids"] = [(6, 0, self.mailing_list.ids)]
                    with self.assertRaises(ValidationError) as error, mute_logger("odoo.sql_db"):
                        self.Mailing.create(values)
                    self.assert_refused_clearly(error)
                    self.assertFalse(self.Mailing.search_count([("subject", "=", subject)]), "nothing is saved")
                    self.assert_nothing_changed()

    def test_marketer_filter_on_an_existing_mailing(self):
        mailing = self.mailing.with_user(self.user_marketing)
        for label, text in ATTACKS:
            with self.subTest(label), self.assertRaises(ValidationError) as error, mute_logger("odoo.sql_db"):
                mailing.write({"domain": text})
            self.assert_refused_clearly(error)
            mailing.invalidate_recordset()
            self.assertEqual(mailing.domain, "[]", "the filter is left as it was")
            self.assert_nothing_changed()

    def test_manager_default_filter(self):
        config = self.partner_config.with_user(self.user_manager)
        before = config.domain
        for label, text in ATTACKS:
            with self.subTest(label), self.assertRaises(ValidationError) as error, mute_logger("odoo.sql_db"):
                config.write({"domain": text})
            self.assert_refused_clearly(error)
            config.invalidate_recordset()
            self.assertEqual(config.domain, before)
            self.assert_nothing_changed()

    def test_stored_default_filter_does_not_run_in_a_new_mailing_or_a_template(self):
        self.store_by_sql(self.partner_config, f"[('id', '!=', {ESCALATE} and 0)]")
        # a new mailing to partners proposes the model's default filter: refused when saved
        with self.assertRaises(ValidationError) as error:
            self.Mailing.create(
                {"subject": "Default filter", "body": "Hi", "recipient_model_id": self.partner_model.id}
            )
        self.assert_refused_clearly(error)
        self.assert_nothing_changed()
        # a template's sample recipient is looked for among the default filter's records: refused, the
        # template falls back on any partner, nothing runs
        template = (
            self.env["sms.marketing.template"]
            .with_user(self.user_marketing)
            .create(
                {"name": "Template attack", "body": "Hi {{ object.name }}", "recipient_model_id": self.partner_model.id}
            )
        )
        self.assertEqual(template.preview_ref._name, "res.partner")
        self.assertTrue(template.sms_preview.startswith("Hi "))
        self.assert_nothing_changed()

    def test_stored_mailing_filter_does_not_run(self):
        """A filter stored before this release: the mailing stays readable, the form says why it cannot
        be used, and Send, the resend to non-clickers and the sending cron refuse it; it never runs."""
        for recipients in ("partners", "list"):
            with self.subTest(recipients=recipients):
                values = {"subject": f"Stored {recipients}", "body": "Hi", "gateway_id": self.gateway.id}
                if recipients == "partners":
                    values["recipient_model_id"] = self.partner_model.id
                else:
                    values["list_ids"] = [(6, 0, self.mailing_list.ids)]
                mailing = self.Mailing.create(values)
                self.store_by_sql(mailing, f"[('id', '!=', {ESCALATE} and 0)]")
                self.assertIn("is not allowed", mailing.audience_error)
                self.assertEqual(mailing.audience_to_send, 0)
                with self.assertRaises(UserError) as error:
                    mailing.action_send_now()
                self.assert_refused_clearly(error)
                self.assertEqual(mailing.state, "draft")
                self.assert_nothing_changed()
                # sent and done: its resend to non-clickers is refused too, no copy made
                mailing.sudo().write({"state": "done"})
                with self.assertRaises(UserError):
                    mailing.action_resend_to_non_clickers()
                self.assertFalse(self.Mailing.search_count([("subject", "like", f"Stored {recipients} (")]))
                self.assert_nothing_changed()
                # sending (scheduled by the marketer before the upgrade): the cron refuses it, pauses it
                # with the reason, and goes on with the other mailings
                mailing.sudo().write({"state": "sending", "sender_id": self.user_marketing.id})
                self.env["sms.marketing.mailing"]._cron_process_queue()
                self.assertEqual((mailing.state, mailing.pause_code), ("paused", "invalid_filter"))
                self.assertIn("is not allowed", mailing.pause_reason)
                self.assertFalse(mailing.trace_ids)
                self.assert_nothing_changed()
                mailing.sudo().write({"state": "canceled"})


@tagged("post_install", "-at_install", "sms_security")
class TestFilterShapes(FilterSecurityCase):
    """The shapes the domain editor, the resend to non-clickers, the data and the tests write are read as
    they were evaluated before: the same records."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_marketing.tz = "Europe/Brussels"
        Partner = cls.env["res.partner"]
        cls.parent = Partner.create({"name": "Shape Parent", "mobile": "+32 470 00 00 01"})
        ages = (0, 2, 10, 40)
        cls.partners = (
            Partner.with_user(cls.user_marketing)
            .sudo()
            .create(
                [
                    {"name": f"Shape {age}", "mobile": f"+32 470 00 00 {10 + index}", "parent_id": cls.parent.id}
                    for index, age in enumerate(ages)
                ]
            )
        )
        cls.env.flush_all()
        now = datetime.now()
        for partner, age in zip(cls.partners, ages, strict=True):
            cls.env.cr.execute(
                "UPDATE res_partner SET create_date = %s WHERE id = %s",
                [now - timedelta(days=age, hours=1), partner.id],
            )
        cls.env.invalidate_all()

    def _evaluated_before(self, text, user):
        """What the filter meant with safe_eval (the previous release's reading): the reference."""
        return safe_eval(
            text,
            {
                "uid": user.id,
                "user": user,
                "context_today": lambda: fields.Datetime.context_timestamp(user, fields.Datetime.now()),
                "datetime": safe_datetime,
                "dateutil": dateutil,
                "relativedelta": dateutil.relativedelta.relativedelta,
                "time": time,
            },
        )

    def _search(self, domain):
        return self.env["res.partner"].search([("id", "in", (self.partners | self.parent).ids), *domain])

    def test_editor_shapes_select_the_same_records(self):
        shapes = {
            # domain editor 17.0
            "[('name', 'ilike', 'Shape 1')]": "10",
            "['|', ('name', '=', 'Shape 0'), ('name', '=', 'Shape 2')]": "0 2",
            "['!', ('name', 'in', ['Shape 0', 'Shape 2'])]": "10 40 parent",
            "['&', ('create_uid', '=', uid), ('mobile', '!=', False)]": "0 2 10 40",
            "[('create_uid', 'in', [user.id]), ('parent_id', 'any', [('name', '=like', 'Shape P%')])]": "0 2 10 40",
            "[('parent_id', 'not any', [('id', '=', -1)]), ('active', 'in', (True, False))]": "0 2 10 40 parent",
            "[('company_id', 'in', [user.company_id.id, False]), ('id', '!=', user.partner_id.id)]": "0 2 10 40 parent",
            "[('parent_id', '=', None), (1, '=', 1)]": "parent",
            # tests/test_audience.py and the web client's "last 7 days"
            "[('create_uid', '=', uid), ('mobile', '!=', False), "
            "('create_date', '>=', (context_today() - relativedelta(days=7)).strftime('%Y-%m-%d'))]": "0 2",
            "[('create_date', '<', (context_today() + relativedelta(months=-1))"
            ".strftime('%Y-%m-%d %H:%M:%S'))]": "40",
            "[('create_date', '<', (datetime.date.today() - datetime.timedelta(days=5))"
            ".strftime('%Y-%m-%d'))]": "10 40",
            "[('create_date', '<', (datetime.datetime.now() - relativedelta(days=1, hours=-1)).strftime("
            "'%Y-%m-%d %H:%M:%S'))]": "2 10 40",
            "[('create_date', '<', time.strftime('%Y-%m-%d 00:00:00')), ('create_uid', '=', uid)]": None,
            "[('create_date', '>', datetime.datetime.combine(context_today() - relativedelta(days=3), "
            "datetime.time(0, 0, 0)).strftime('%Y-%m-%d %H:%M:%S'))]": "0 2 parent",
            # the resend to non-clickers (models/sms_marketing_mailing.py) and the partners' default filter
            "[('name', '!=', 'Shape 0'), ('sms_received_mailing_ids', 'in', [1]), "
            "('sms_clicked_mailing_ids', 'not in', [1])]": "",
            self.partner_config.domain: "0 2 10 40 parent",
        }
        user = self.env(user=self.user_marketing).user
        for text, expected in shapes.items():
            with self.subTest(text):
                mailing = self.Mailing.create(
                    {"subject": "Shape", "body": "Hi", "recipient_model_id": self.partner_model.id, "domain": text}
                )
                found = self._search(mailing.env["sms.marketing.audience"]._get_filter(mailing))
                self.assertEqual(found, self._search(self._evaluated_before(text, user)), "as before")
                if expected is not None:
                    names = {partner.name.removeprefix("Shape ").lower() for partner in found}
                    self.assertEqual(names, set(expected.split()), text)

    def test_names_mean_the_sender(self):
        """uid and user are the sender's, also when the cron (superuser) reads the filter."""
        text = (
            "[('create_uid', '=', uid), "
            "('create_date', '>=', (context_today() - relativedelta(days=7)).strftime('%Y-%m-%d'))]"
        )
        mailing = self.Mailing.create(
            {"subject": "Mine", "body": "Hi", "recipient_model_id": self.partner_model.id, "domain": text}
        )
        mailing.write(mailing._get_sender_values())
        as_root = mailing.with_user(SUPERUSER_ID)
        self.assertEqual(self._search(as_root.env["sms.marketing.audience"]._get_filter(as_root)), self.partners[:2])

    def test_to_utc_is_the_senders_midnight(self):
        """The web client's ``.to_utc()``: midnight of the sender's today, in UTC (Brussels is ahead of UTC)."""
        names = domain_literal.FilterNames(uid=1, tz="Europe/Brussels", now=datetime(2024, 7, 1, 23, 30))
        text = "[('create_date', '>=', datetime.datetime.combine(context_today(), datetime.time(0, 0)).to_utc())]"
        # 23:30 UTC is 01:30 on July 2 in Brussels (UTC+2): its midnight is 22:00 UTC on July 1
        self.assertEqual(domain_literal.parse_domain(text, names), [("create_date", ">=", "2024-07-01 22:00:00")])
        now_text = "[('create_date', '>=', datetime.datetime.now().to_utc())]"
        self.assertEqual(domain_literal.parse_domain(now_text, names), [("create_date", ">=", "2024-07-01 23:30:00")])

    def test_error_names_what_is_wrong(self):
        refused = {
            "A": "is a list of conditions",
            "[('name', '=')]": "is not a condition",
            "['|', ('name', '=', 'a')]": "“'|'” in the recipient filter has fewer conditions after it",
            "[('name', '=', user.name)]": "“user.name” is not allowed in a recipient filter",
            "[('create_date', '>', (context_today() + relativedelta(years=9000)).strftime('%Y'))]": "valid date",
            "[('name', '=', '" + "x" * domain_literal.MAX_LENGTH + "')]": "too long",
        }
        for text, reason in refused.items():
            with self.subTest(reason), self.assertRaises(ValidationError) as error:
                self.Mailing.create(
                    {"subject": "Bad", "body": "Hi", "recipient_model_id": self.partner_model.id, "domain": text}
                )
            self.assertIn(reason, str(error.exception.args[0]))
