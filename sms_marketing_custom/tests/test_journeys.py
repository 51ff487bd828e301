"""Journeys: every trigger, step and branch with frozen time; the opt-out exit; the journey's filter
is data read with its starter's rights; the runner is exactly-once with two runners (real cursors)."""

import ast
from datetime import date, datetime, timedelta

import psycopg2
from freezegun import freeze_time

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import SmsCommittedCase, SmsEngineCase, load_migration

T0 = datetime(2026, 6, 1, 9, 0, 0)
CONTACT = "sms.marketing.contact"


class JourneyMixin:
    def _make_journey(self, steps, user=None, **values):
        """A journey of ``steps``: (key, values, parent key or None) in tree order; returns (journey, {key: step})."""
        env = self.env(user=user.id) if user else self.env
        journey = env["sms.marketing.journey"].create(
            {
                "name": "Welcome series",
                "list_ids": [(6, 0, self.sms_list.ids)],
                "trigger": "list",
                "gateway_id": self.sandbox.id,
                **values,
            }
        )
        made = {}
        for key, step_values, parent in steps:
            made[key] = env["sms.marketing.journey.step"].create(
                {
                    "name": key,
                    "journey_id": journey.id,
                    "parent_id": made[parent].id if parent else False,
                    **step_values,
                }
            )
        return journey, made

    def _run_journeys(self):
        self.env["sms.marketing.journey"]._cron_run()
        self.env.invalidate_all()

    def _participants(self, journey):
        return self.env["sms.marketing.journey.participant"].search([("journey_id", "=", journey.id)])

    def _traces(self, step, res_ids=None):
        domain = [("mailing_id.journey_step_id", "=", step.id)]
        if res_ids is not None:
            domain.append(("res_id", "in", res_ids))
        return self.env["sms.marketing.trace"].search(domain)


@tagged("post_install", "-at_install")
class TestJourneys(JourneyMixin, SmsEngineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox.company_id = False
        cls.sandbox_b = cls.env["sms.marketing.gateway"].create(
            {"name": "Sandbox of B", "provider": "sandbox", "company_id": cls.company_b.id}
        )
        cls.welcome_steps = [
            ("welcome", {"step_type": "send", "body": "Welcome to the club!", "include_optout": False}, None),
            ("wait", {"step_type": "wait", "wait_amount": 2, "wait_unit": "days"}, "welcome"),
            ("branch", {"step_type": "branch", "branch_condition": "clicked", "branch_hours": 0}, "wait"),
            ("coupon", {"step_type": "send", "body": "Your coupon: CLUB10", "include_optout": False,
                        "branch_side": "no"}, "branch"),
        ]  # fmt: skip

    def _join(self, count, start=0):
        return self._make_contacts(count, start=start)

    def test_list_welcome_series(self):
        """Joining the list enters the journey; the welcome is sent at once by the engine; after two days
        the branch sends the coupon to the non-clickers only; everyone finishes; each SMS once."""
        with freeze_time(T0 - timedelta(minutes=1)):
            early = self._join(1, start=90)  # subscribed before the start: not a join
        with freeze_time(T0):
            journey, steps = self._make_journey(self.welcome_steps, user=self.user_marketing)
            journey.with_user(self.user_marketing).action_start()
        with freeze_time(T0 + timedelta(minutes=5)):
            contacts = self._join(3)
            self._run_journeys()
            participants = self._participants(journey)
            self.assertEqual(sorted(participants.mapped("res_id")), sorted(contacts.ids))
            self.assertNotIn(early.id, participants.mapped("res_id"))
            self.assertEqual(set(participants.mapped("step_id")), {steps["wait"]})
            welcome = self._traces(steps["welcome"])
            self.assertEqual(sorted(welcome.mapped("res_id")), sorted(contacts.ids))
            mailing = steps["welcome"].mailing_id
            # a system mailing: not in the Mailings menu and dashboard
            action = self.env.ref("sms_marketing_custom.sms_marketing_mailing_action")
            self.assertNotIn(mailing, self.env["sms.marketing.mailing"].search(ast.literal_eval(action.domain)))
            self.assertEqual(mailing.sender_id, self.user_marketing)
            self._run_cron()
            self.assertEqual(self._states(mailing), {"delivered": 3})
            # the first contact clicks its welcome's link
            self.env["sms.marketing.link"].create({"mailing_id": mailing.id, "url": "https://example.com/a"})
            link = mailing.link_ids[:1]
            clicker_trace = welcome.filtered(lambda t: t.res_id == contacts[0].id)
            self.env["sms.marketing.link.click"]._add_click(link.id, clicker_trace.id)
            self._run_journeys()  # nothing due yet
            self.assertFalse(self._traces(steps["coupon"]))
        with freeze_time(T0 + timedelta(days=2, minutes=6)):
            self._run_journeys()
            coupon = self._traces(steps["coupon"])
            self.assertEqual(sorted(coupon.mapped("res_id")), sorted(contacts[1:].ids))
            self._run_cron()
            self.assertEqual(self._states(steps["coupon"].mailing_id), {"delivered": 2})
            self.assertEqual(set(self._participants(journey).mapped("state")), {"done"})
            self._run_journeys()
            self._run_cron()
            self.assertEqual(len(self._traces(steps["welcome"])), 3)
            self.assertEqual(len(self._traces(steps["coupon"])), 2)
            # the figures of each step
            steps["welcome"].invalidate_recordset()
            self.assertEqual(steps["welcome"].entered_count, 3)
            self.assertEqual(steps["welcome"].sent_count, 3)
            self.assertEqual(steps["welcome"].clicked_count, 1)
            self.assertEqual(steps["coupon"].entered_count, 2)
            self.assertEqual(steps["coupon"].sent_count, 2)
            self.assertEqual(journey.done_count, 3)

    def test_filter_trigger_created_and_coming_to_match(self):
        """Records matching the filter enter; one created later, or renamed to match, enters on the next run."""
        partners = self.env["res.partner"].create(
            [{"name": f"Journey fan {i}", "mobile": f"+3247900000{i}"} for i in range(2)]
            + [{"name": "Someone else", "mobile": "+32479000009"}]
        )
        journey, steps = self._make_journey(
            [("hello", {"step_type": "send", "body": "Hello fan"}, None)],
            recipient_model_id=self.env["ir.model"]._get_id("res.partner"),
            list_ids=[(5,)],
            trigger="filter",
            domain="[('name', 'like', 'Journey fan')]",
        )
        journey.action_start()
        self._run_journeys()
        self.assertEqual(sorted(self._participants(journey).mapped("res_id")), sorted(partners[:2].ids))
        newcomer = self.env["res.partner"].create({"name": "Journey fan new", "mobile": "+32479000005"})
        partners[2].name = "Journey fan now"
        self._run_journeys()
        self.assertEqual(sorted(self._participants(journey).mapped("res_id")), sorted((partners | newcomer).ids))
        self.assertEqual(len(self._traces(steps["hello"])), 4)
        # the filter trigger enters a record once, even with re-entry allowed
        journey.allow_reentry = True
        self._run_journeys()
        self.assertEqual(len(self._participants(journey)), 4)

    def test_date_trigger_every_year(self):
        """A birthday three days ahead enters on that day, once; next year again (re-entry), with a new SMS."""
        contact = self._make_contacts(1, start=50)
        other = self._make_contacts(1, start=51)
        contact.birthday = date(1990, 6, 10)
        other.birthday = date(1990, 6, 20)
        journey, steps = self._make_journey(
            [("birthday", {"step_type": "send", "body": "Happy birthday soon!"}, None)],
            trigger="date",
            date_field_id=self.env["ir.model.fields"]._get(CONTACT, "birthday").id,
            date_offset_days=-3,
            allow_reentry=True,
        )
        with freeze_time(datetime(2026, 6, 6, 8)):
            journey.action_start()
            self._run_journeys()
            self.assertFalse(self._participants(journey))
        with freeze_time(datetime(2026, 6, 7, 8)):
            self._run_journeys()
            self._run_journeys()
            self.assertEqual(self._participants(journey).mapped("res_id"), contact.ids)
            self.assertEqual(self._traces(steps["birthday"]).mapped("res_id"), contact.ids)
        with freeze_time(datetime(2027, 6, 7, 8)):
            self._run_journeys()
            self.assertEqual(len(self._participants(journey)), 2)
            traces = self._traces(steps["birthday"])
            self.assertEqual(traces.mapped("res_id"), contact.ids * 2)
            self.assertEqual(len(traces.mapped("mailing_id")), 2)  # a new year, a new mailing for the step

    def test_manual_entry_and_lists(self):
        """Add to journey (by hand): only records of the audience; Add to list / Remove from list / End."""
        other_list = self.env["sms.marketing.list"].create({"name": "VIP Club"})
        contacts = self._make_contacts(2, start=60)
        outsider = self.env[CONTACT].create({"name": "Out", "phone": "+32470999999"})
        journey, steps = self._make_journey(
            [
                ("add", {"step_type": "add_list", "list_id": other_list.id}, None),
                ("remove", {"step_type": "remove_list", "list_id": self.sms_list.id}, "add"),
                ("end", {"step_type": "end"}, "remove"),
            ],
            trigger="manual",
        )
        journey.with_user(self.user_marketing).action_start()
        wizard = (
            self.env["sms.marketing.journey.add"]
            .with_user(self.user_marketing)
            .with_context(active_model=CONTACT, active_ids=(contacts | outsider).ids)
            .create({"journey_id": journey.id})
        )
        wizard.action_add()
        self.assertEqual(sorted(self._participants(journey).mapped("res_id")), sorted(contacts.ids))
        self._run_journeys()
        self.env.invalidate_all()
        self.assertEqual(set(self._participants(journey).mapped("state")), {"done"})
        self.assertEqual(self._participants(journey).mapped("step_id"), steps["end"])
        for contact in contacts:
            self.assertEqual(contact.list_ids, other_list)
        # in the journey once at a time: adding again while done is refused without re-entry
        self.assertEqual(journey._add_records(contacts), 0)

    def _add_to_journey_actions(self, model_name, user):
        bindings = self.env["ir.actions.actions"].with_user(user).get_bindings(model_name)
        ours = self.env["ir.actions.act_window"].search([("res_model", "=", "sms.marketing.journey.add")])
        return [action for action in bindings.get("action", []) if action["id"] in ours.ids]

    def test_add_to_journey_on_every_enabled_model(self):
        """Every SMS-enabled model offers Add to Journey (to SMS marketers), from when it is enabled until it
        is disabled or removed; the records must be of an enabled model and of the journey's."""
        self.assertFalse(self._add_to_journey_actions("res.bank", self.user_marketing))
        config = (
            self.env["sms.marketing.recipient.model"]
            .with_user(self.user_admin)
            .create(
                {
                    "model_id": self.env["ir.model"]._get_id("res.bank"),
                    "phone_field_id": self.env["ir.model.fields"]._get("res.bank", "phone").id,
                }
            )
        )
        self.addCleanup(lambda: config.exists() and config.sudo().unlink())
        self.assertEqual(len(self._add_to_journey_actions("res.bank", self.user_marketing)), 1)
        self.assertFalse(self._add_to_journey_actions("res.bank", self.user_employee), "SMS marketers only")
        banks = self.env["res.bank"].create([{"name": f"Journey bank {i}", "phone": f"+3247930000{i}"} for i in (1, 2)])
        journey, _steps = self._make_journey(
            [("hi", {"step_type": "send", "body": "Hello bank"}, None)],
            user=self.user_marketing,
            recipient_model_id=config.model_id.id,
            list_ids=[(5,)],
            trigger="manual",
            domain="[('name', 'like', 'Journey bank')]",
        )
        journey.with_user(self.user_marketing).action_start()
        Add = self.env["sms.marketing.journey.add"].with_user(self.user_marketing)
        Add.with_context(active_model="res.bank", active_ids=banks.ids).create({"journey_id": journey.id}).action_add()
        self.assertEqual(sorted(self._participants(journey).mapped("res_id")), sorted(banks.ids))
        for model_name, ids in (
            ("res.users", self.user_marketing.ids),
            ("res.partner", self.user_marketing.partner_id.ids),
        ):
            with self.subTest(model=model_name), self.assertRaises(UserError):
                Add.with_context(active_model=model_name, active_ids=ids).create(
                    {"journey_id": journey.id}
                ).action_add()
        config.active = False
        self.assertFalse(self._add_to_journey_actions("res.bank", self.user_marketing))
        config.active = True
        self.assertEqual(len(self._add_to_journey_actions("res.bank", self.user_marketing)), 1)
        config.unlink()
        self.assertFalse(self._add_to_journey_actions("res.bank", self.user_marketing))
        for model_name in (CONTACT, "res.partner"):  # the built-in models keep theirs
            self.assertEqual(len(self._add_to_journey_actions(model_name, self.user_marketing)), 1)

    def test_wait_until_time_of_day_in_recipient_zone(self):
        """Wait until 10:00 in the record's zone: a partner of Tokyo and one without a zone (company's: UTC)."""
        self.env.company.partner_id.tz = "UTC"
        tokyo, plain = self.env["res.partner"].create(
            [
                {"name": "Zone Tokyo", "mobile": "+32479100001", "tz": "Asia/Tokyo"},
                {"name": "Zone none", "mobile": "+32479100002", "tz": False},
            ]
        )
        journey, steps = self._make_journey(
            [
                ("wait", {"step_type": "wait", "wait_type": "time_of_day", "wait_hour": 10.0}, None),
                ("hi", {"step_type": "send", "body": "Good morning"}, "wait"),
            ],
            recipient_model_id=self.env["ir.model"]._get_id("res.partner"),
            list_ids=[(5,)],
            trigger="filter",
            domain="[('name', 'like', 'Zone ')]",
        )
        with freeze_time(datetime(2026, 6, 1, 12, 0)):  # 21:00 in Tokyo, 12:00 UTC
            journey.action_start()
            self._run_journeys()
            at = {p.res_id: p.next_action_at for p in self._participants(journey)}
            self.assertEqual(at[tokyo.id], datetime(2026, 6, 2, 1, 0))  # 10:00 in Tokyo tomorrow
            self.assertEqual(at[plain.id], datetime(2026, 6, 2, 10, 0))
            self.assertFalse(self._traces(steps["hi"]))
        with freeze_time(datetime(2026, 6, 2, 1, 30)):
            self._run_journeys()
            self.assertEqual(self._traces(steps["hi"]).mapped("res_id"), tokyo.ids)

    def test_branches_delivered_failed_filter(self):
        """Branch on delivered / failed within a time, and on a filter of the record."""
        contacts = self._make_contacts(2, start=70)
        contacts[0].name = "Gold member"
        journey, steps = self._make_journey(
            [
                ("first", {"step_type": "send", "body": "First"}, None),
                ("delivered", {"step_type": "branch", "branch_condition": "delivered", "branch_hours": 1}, "first"),
                ("gold", {"step_type": "branch", "branch_condition": "filter",
                          "branch_domain": "[('name', 'like', 'Gold')]", "branch_side": "yes"}, "delivered"),
                ("gold_sms", {"step_type": "send", "body": "Gold offer", "branch_side": "yes"}, "gold"),
                ("failed", {"step_type": "branch", "branch_condition": "failed", "branch_hours": 0,
                            "branch_side": "no"}, "delivered"),
                ("retry_sms", {"step_type": "send", "body": "Sorry", "branch_side": "yes"}, "failed"),
            ],
            trigger="manual",
        )  # fmt: skip
        with freeze_time(T0):
            journey.action_start()
            journey._add_records(contacts)
            self._run_journeys()
            first = self._traces(steps["first"])
            self.assertEqual(len(first), 2)
            first.filtered(lambda t: t.res_id == contacts[0].id).state = "delivered"
            first.filtered(lambda t: t.res_id == contacts[1].id).state = "failed"
        with freeze_time(T0 + timedelta(minutes=30)):
            self._run_journeys()  # within the hour: nobody has moved on
            self.assertFalse(self._traces(steps["gold_sms"]) | self._traces(steps["retry_sms"]))
        with freeze_time(T0 + timedelta(hours=1, minutes=1)):
            self._run_journeys()
            self.assertEqual(self._traces(steps["gold_sms"]).mapped("res_id"), contacts[0].ids)
            self.assertEqual(self._traces(steps["retry_sms"]).mapped("res_id"), contacts[1].ids)

    def _reply(self, contact, text):
        """An inbound SMS from ``contact``'s number, through the sandbox gateway's webhook path."""
        self.env["sms.marketing.conversation"]._receive(
            self.sandbox, [{"number": contact.phone_sanitized, "content": text, "id": f"{contact.id}:{text}"}]
        )

    def test_branch_clicked_within_the_time(self):
        """Branch on clicked within 2 hours: a click a minute before the end counts, one a minute after it
        does not, even when the run that decides comes later still."""
        contacts = self._make_contacts(2, start=7320)
        in_time, late = contacts
        journey, steps = self._make_journey(
            [
                ("offer", {"step_type": "send", "body": "Offer: https://example.com/o", "include_optout": False},
                 None),
                ("clicked", {"step_type": "branch", "branch_condition": "clicked", "branch_hours": 2}, "offer"),
                ("yes_sms", {"step_type": "send", "body": "Clicked side", "branch_side": "yes"}, "clicked"),
                ("no_sms", {"step_type": "send", "body": "Other side", "branch_side": "no"}, "clicked"),
            ],
            trigger="manual",
        )  # fmt: skip
        with freeze_time(T0):
            journey.action_start()
            journey._add_records(contacts)
            self._run_journeys()
            self._run_cron()
            mailing = steps["offer"].mailing_id
            link = mailing.link_ids  # the body's link, tracked when the step's SMS were built
            self.assertEqual(len(link), 1)
            traces = {t.res_id: t for t in self._traces(steps["offer"])}
        with freeze_time(T0 + timedelta(hours=1, minutes=59)):
            self.env["sms.marketing.link.click"]._add_click(link.id, traces[in_time.id].id)
        with freeze_time(T0 + timedelta(hours=2, minutes=1)):
            self.env["sms.marketing.link.click"]._add_click(link.id, traces[late.id].id)
        with freeze_time(T0 + timedelta(hours=2, minutes=5)):
            self._run_journeys()
        self.assertEqual(self._traces(steps["yes_sms"]).mapped("res_id"), in_time.ids)
        self.assertEqual(self._traces(steps["no_sms"]).mapped("res_id"), late.ids)

    def test_branch_replied_within_the_time(self):
        """Branch on replied / not replied within 2 hours of arriving at it: a reply after the step's SMS
        and before the end of the time is one; one before the SMS, one a minute late (the run is late too),
        or a keyword are not. The step's figures count Replied as the mailing's."""
        for condition, start in (("replied", 7300), ("not_replied", 7310)):  # numbers no demo SMS went to
            with self.subTest(condition=condition):
                contacts = self._make_contacts(4, start=start)
                in_time, late, before, keyword = contacts
                journey, steps = self._make_journey(
                    [
                        ("ask", {"step_type": "send", "body": "Coming on Friday?", "include_optout": False}, None),
                        ("answered", {"step_type": "branch", "branch_condition": condition, "branch_hours": 2},
                         "ask"),
                        ("yes_sms", {"step_type": "send", "body": "Yes side", "branch_side": "yes"}, "answered"),
                        ("no_sms", {"step_type": "send", "body": "No side", "branch_side": "no"}, "answered"),
                    ],
                    trigger="manual",
                )  # fmt: skip
                with freeze_time(T0 - timedelta(minutes=10)):
                    self._reply(before, "Hello? (before any SMS)")
                with freeze_time(T0):
                    journey.action_start()
                    journey._add_records(contacts)
                    self._run_journeys()
                    self._run_cron()  # the engine sends the question now
                    self.assertEqual(self._states(steps["ask"].mailing_id), {"delivered": 4})
                with freeze_time(T0 + timedelta(hours=1, minutes=59)):
                    self._reply(in_time, "Yes, see you")
                    self._reply(keyword, "HELP")
                    self._run_journeys()  # the time is not over: nobody moves on
                    self.assertFalse(self._traces(steps["yes_sms"]) | self._traces(steps["no_sms"]))
                with freeze_time(T0 + timedelta(hours=2, minutes=1)):
                    self._reply(late, "Sorry, too late?")
                with freeze_time(T0 + timedelta(hours=2, minutes=5)):
                    self._run_journeys()
                replied_side, other_side = ("yes_sms", "no_sms") if condition == "replied" else ("no_sms", "yes_sms")
                self.assertEqual(self._traces(steps[replied_side]).mapped("res_id"), in_time.ids)
                self.assertEqual(
                    sorted(self._traces(steps[other_side]).mapped("res_id")), sorted((late | before | keyword).ids)
                )
                # Replied on the step: the numbers that answered its mailing (the mailing's own count)
                steps["ask"].invalidate_recordset()
                self.assertEqual(steps["ask"].replied_count, 2)  # in time and late; the keyword is not a reply
                self.assertEqual(steps["ask"].replied_count, steps["ask"].mailing_id.replied_count)
                journey.action_stop()

    def test_opt_out_and_blacklist_leave(self):
        """A participant whose number is blacklisted while waiting, or who opted out of the list, leaves;
        one blacklisted when its SMS is due gets none and leaves."""
        with freeze_time(T0):
            journey, steps = self._make_journey(
                [
                    ("wait", {"step_type": "wait", "wait_amount": 1, "wait_unit": "hours"}, None),
                    ("sms", {"step_type": "send", "body": "Hi"}, "wait"),
                    ("wait2", {"step_type": "wait", "wait_amount": 1, "wait_unit": "hours"}, "sms"),
                ],
                trigger="manual",
            )
            journey.action_start()
            contacts = self._make_contacts(3, start=80)
            journey._add_records(contacts)
            self._run_journeys()
            self.env["sms.marketing.blacklist"].create({"number": contacts[0].phone_sanitized})
            self._opt_out(contacts[1])
            self._run_journeys()
            states = {p.res_id: (p.state, p.exit_reason) for p in self._participants(journey)}
            self.assertEqual(states[contacts[0].id], ("exited", "blacklisted"))
            self.assertEqual(states[contacts[1].id], ("exited", "opted_out"))
            self.assertEqual(states[contacts[2].id], ("running", False))
        with freeze_time(T0 + timedelta(hours=1, minutes=1)):
            self._run_journeys()
            self.assertEqual(self._traces(steps["sms"]).mapped("res_id"), contacts[2].ids)

    def test_the_form_counts_the_audience_of_its_lists_and_filter(self):
        """The filter widget counts its filter on the whole model; the journey's Audience is who its lists and
        filter hold and can receive an SMS, as a mailing's audience (a blacklisted member does not count)."""
        club = self.env["sms.marketing.list"].create({"name": "Journey club"})
        members = self._make_contacts(3, start=80, sms_list=club)
        self._make_contacts(4, start=90)  # the same model, outside the club
        self.env["sms.marketing.blacklist"].create({"number": members[2].phone_sanitized})
        journey, _steps = self._make_journey([], user=self.user_marketing, list_ids=[(6, 0, club.ids)])
        journey = journey.with_user(self.user_marketing)
        journey.domain = "[('name', 'ilike', 'Contact')]"
        widget = self.env[CONTACT].with_user(self.user_marketing).search_count(ast.literal_eval(journey.domain))
        self.assertEqual((journey.audience_count, journey.audience_error), (2, False))
        self.assertGreater(widget, journey.audience_count, "the filter widget counts the whole model")
        second = self.env["sms.marketing.list"].create({"name": "Journey club 2"})
        self._make_contacts(2, start=85, sms_list=second)
        journey.list_ids = [(6, 0, (club | second).ids)]
        self.assertEqual(journey.audience_count, 4)
        journey.domain = "[('name', 'in', ['Contact 80', 'Contact 86'])]"
        self.assertEqual(journey.audience_count, 2)
        # a filter being edited that cannot be used (saving it is refused): the reason, not a count nor a crash
        unusable = "[('no_such_field', '=', 1)]"
        editing = journey.new({"name": "Edited", "list_ids": [(6, 0, club.ids)], "domain": unusable})
        self.assertEqual(editing.audience_count, 0)
        self.assertIn("no_such_field", editing.audience_error)

    def test_filter_is_data_and_checked_for_field_rights(self):
        """A marketer's journey filter cannot use a field they may not read, nor run code."""
        partner_model = self.env["ir.model"]._get_id("res.partner")
        for domain in ("[('signup_type', '!=', False)]", "[('name', '=', __import__('os').getcwd())]"):
            with self.subTest(domain=domain), self.assertRaises(ValidationError):
                self.env["sms.marketing.journey"].with_user(self.user_marketing).create(
                    {"name": "Spy", "recipient_model_id": partner_model, "domain": domain, "trigger": "filter"}
                )
        journey, steps = self._make_journey(
            [("x", {"step_type": "branch", "branch_condition": "filter", "branch_domain": "[]"}, None)],
            user=self.user_marketing,
            recipient_model_id=partner_model,
            list_ids=[(5,)],
            trigger="manual",
        )
        with self.assertRaisesRegex(ValidationError, "not allowed to read"):
            steps["x"].with_user(self.user_marketing).branch_domain = "[('signup_type', '!=', False)]"
        # a journey of company A is invisible to a marketer of company B
        self.assertFalse(self.env["sms.marketing.journey"].with_user(self.marketer_b).search([("id", "=", journey.id)]))

    def test_nobody_sends_with_someone_elses_rights(self):
        """A marketer cannot name another sender, and changing whom a started journey reaches, or what a
        step sends, makes the writer its sender (as on a scheduled mailing)."""
        Journey = self.env["sms.marketing.journey"].with_user(self.user_marketing)
        with self.assertRaises(AccessError):
            Journey.create({"name": "Borrowed", "list_ids": [(6, 0, self.sms_list.ids)], "trigger": "list",
                            "sender_id": self.env.ref("base.user_admin").id})  # fmt: skip
        journey, steps = self._make_journey(self.welcome_steps[:1])
        journey.action_start()  # started by the superuser of the test: the marketer's edits must not use it
        with self.assertRaises(AccessError):
            journey.with_user(self.user_marketing).write({"sender_id": self.env.ref("base.user_admin").id})
        journey.with_user(self.user_marketing).write({"domain": "[('name', '!=', False)]"})
        self.assertEqual(journey.sender_id, self.user_marketing, "the writer of the filter is the sender")
        journey.sudo().sender_id = self.env.ref("base.user_admin")
        steps["welcome"].with_user(self.user_marketing).body = "Changed text"
        self.assertEqual(journey.sender_id, self.user_marketing, "the writer of a step's text is the sender")
        other = self.env["sms.marketing.mailing"].create({"subject": "Someone else's", "body": "x"})
        with self.assertRaises(UserError):
            steps["welcome"].with_user(self.user_marketing).mailing_id = other

    def test_triggers_and_steps_stay_within_their_company_and_fields(self):
        """The date trigger is a stored date field; a list step adds only to lists of its company."""
        partner_model = self.env["ir.model"]._get_id("res.partner")
        for name in ("name", "date_localized"):  # not a date; not stored
            field = self.env["ir.model.fields"]._get("res.partner", name)
            if not field:
                continue
            with self.subTest(field=name), self.assertRaises(ValidationError):
                self.env["sms.marketing.journey"].create(
                    {"name": "Dates", "recipient_model_id": partner_model, "trigger": "date",
                     "date_field_id": field.id, "list_ids": [(5,)]}
                )  # fmt: skip
        journey, _steps = self._make_journey(self.welcome_steps[:1])
        foreign = self.env["sms.marketing.list"].create({"name": "Company B list", "company_id": self.company_b.id})
        with self.assertRaises(ValidationError):
            self.env["sms.marketing.journey.step"].create(
                {"name": "add", "journey_id": journey.id, "step_type": "add_list", "list_id": foreign.id}
            )
        with self.assertRaises(ValidationError):
            self.env["sms.marketing.journey.step"].create(
                {"name": "wait", "journey_id": journey.id, "step_type": "wait", "wait_amount": 10**9}
            )

    def test_a_journey_has_a_company(self):
        """A journey is of a company (the user's by default), never of none: a journey of no company was
        charged on the default gateway of whichever company the cron ran in. Its step's mailing is of it.
        17.0.1.2.0: a journey left without company by the previous release takes its gateway's, else its
        lists', else its starter's company; its steps, participants and step mailings follow."""
        free_list = self.env["sms.marketing.list"].create({"name": "Of no company", "company_id": False})
        journey = (
            self.env["sms.marketing.journey"]
            .with_user(self.marketer_b)
            .create({"name": "B journey", "list_ids": [(6, 0, free_list.ids)], "trigger": "manual"})
        )
        self.assertEqual(journey.company_id, self.company_b)
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["sms.marketing.journey"].create(
                {"name": "Nobody's", "list_ids": [(6, 0, free_list.ids)], "trigger": "manual", "company_id": False}
            )
        # the migration, on journeys as the previous release left them
        with_gateway, with_starter = (
            self._make_journey(
                self.welcome_steps[:1],
                trigger="manual",
                gateway_id=gateway.id,
                company_id=self.company_b.id,
                list_ids=[(6, 0, free_list.ids)],
            )[0]
            for gateway in (self.sandbox_b, self.sandbox)
        )
        with_starter.with_user(self.marketer_b).action_start()
        contact_b = self._make_contacts(1, start=7400, sms_list=free_list)
        contact_b.company_id = self.company_b
        with_starter._add_records(contact_b)
        self.assertEqual(len(self._participants(with_starter)), 1)
        self.env.flush_all()
        self.env.cr.execute("ALTER TABLE sms_marketing_journey ALTER COLUMN company_id DROP NOT NULL")
        journeys = with_gateway | with_starter
        self.env.cr.execute("UPDATE sms_marketing_journey SET company_id = NULL WHERE id IN %s", [tuple(journeys.ids)])
        for table in ("sms_marketing_journey_step", "sms_marketing_journey_participant"):
            self.env.cr.execute(f"UPDATE {table} SET company_id = NULL WHERE journey_id IN %s", [tuple(journeys.ids)])
        self.env.cr.execute(
            "UPDATE sms_marketing_mailing SET company_id = NULL WHERE journey_step_id IN %s",
            [tuple(journeys.step_ids.ids)],
        )
        load_migration("17.0.1.2.0", "pre-migrate").migrate(self.env.cr, "17.0.1.1.0")
        self.env.invalidate_all()
        self.assertEqual(with_gateway.company_id, self.company_b, "its gateway's company")
        self.assertEqual(with_starter.company_id, self.company_b, "its starter's company")
        self.assertEqual(with_starter.step_ids.company_id, self.company_b)
        self.assertEqual(with_starter.participant_ids.company_id, self.company_b)
        self.assertEqual(with_starter.step_ids.mailing_id.company_id, self.company_b)

    def test_test_dialog_shows_each_sms_and_when(self):
        """Test: the record's SMS step by step with their times, nothing sent or saved."""
        contact = self._make_contacts(1, start=95)
        journey, steps = self._make_journey(
            self.welcome_steps[:1]
            + [("wait", {"step_type": "wait", "wait_amount": 2, "wait_unit": "days"}, "welcome"),
               ("coupon", {"step_type": "send", "body": "Hi {{ object.name }}", "include_optout": False}, "wait")],
        )  # fmt: skip
        with freeze_time(T0):
            wizard = (
                self.env["sms.marketing.journey.test"]
                .with_user(self.user_marketing)
                .create({"journey_id": journey.id, "record_ref": f"{CONTACT},{contact.id}"})
            )
            html = str(wizard.timeline)
        self.assertIn("Welcome to the club!", html)
        self.assertIn(f"Hi {contact.name}", html)
        self.assertIn("06/03/2026", html)  # the coupon two days after the welcome, in the user's date format
        self.assertNotIn("2026-06-03", html)
        self.env["res.lang"]._activate_lang("it_IT")
        with freeze_time(T0):
            italian = str(wizard.with_context(lang="it_IT").timeline)
        self.assertIn("03/06/2026", italian, "an Italian reads day/month/year")
        self.assertFalse(self._participants(journey))
        self.assertFalse(self.env["sms.marketing.trace"].search([("res_id", "=", contact.id)]))

    def test_test_dialog_sample_is_one_the_user_may_read(self):
        """Attacker: a marketer whom a record rule hides some partners opens Test on a journey a manager
        started; the sample record is the first of the audience the marketer may read, not the manager's."""
        secret, visible = self.env["res.partner"].create(
            [{"name": "Sample secret", "mobile": "+32479200001"}, {"name": "Sample visible", "mobile": "+32479200002"}]
        )
        restricted = self.env["res.groups"].create({"name": "Not the secret partners"})
        self.env["ir.rule"].create(
            {
                "name": "No secret partners",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "groups": [(4, restricted.id)],
                "domain_force": "[('name', 'not ilike', 'secret')]",
            }
        )
        self.user_marketing.groups_id = [(4, restricted.id)]
        journey, _steps = self._make_journey(
            [("hi", {"step_type": "send", "body": "Hi {{ object.name }}", "include_optout": False}, None)],
            user=self.user_manager,
            recipient_model_id=self.env["ir.model"]._get_id("res.partner"),
            list_ids=[(5,)],
            trigger="manual",
            domain="[('name', 'like', 'Sample ')]",
        )
        journey.with_user(self.user_manager).action_start()
        Test = self.env["sms.marketing.journey.test"].with_user(self.user_marketing)
        values = Test.with_context(default_journey_id=journey.id).default_get(["journey_id", "record_ref"])
        self.assertEqual(values.get("record_ref"), f"res.partner,{visible.id}")
        # chosen by hand, the unreadable record shows nothing of it
        with self.assertRaises(AccessError):
            Test.create({"journey_id": journey.id, "record_ref": f"res.partner,{secret.id}"}).timeline  # noqa: B018

    def test_dashboard_shows_a_few_journeys_whatever_limit_is_asked(self):
        """``limit`` comes from the browser: 0, a huge or a negative one does not load every running journey."""
        journeys = self.env["sms.marketing.journey"].create(
            [{"name": f"Running {i}", "list_ids": [(6, 0, self.sms_list.ids)], "trigger": "manual"} for i in range(60)]
        )
        journeys.sudo().write({"state": "running"})
        Journey = self.env["sms.marketing.journey"].with_user(self.user_marketing)
        running = Journey.search_count([("state", "=", "running")])
        self.assertGreater(running, 50)
        for limit, shown in ((0, 1), (-3, 1), (5, 5), (10**9, 50), (None, 8), ("all", 8)):
            with self.subTest(limit=limit):
                data = Journey.get_dashboard_data(limit=limit)
                self.assertEqual(len(data["journeys"]), shown)
                self.assertEqual(data["more"], running - shown)


@tagged("post_install", "-at_install")
class TestJourneyRunners(SmsCommittedCase):
    """Two runners on real connections: each participant gets the step's SMS once."""

    def _setup_committed(self):
        with self._cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            sms_list = env["sms.marketing.list"].create({"name": "Runner list"})
            contacts = env[CONTACT].create(
                [
                    {"name": f"R{i}", "phone": f"+3249{i:07d}", "phone_sanitized": f"+3249{i:07d}",
                     "list_ids": [(4, sms_list.id)]}
                    for i in range(20)
                ]
            )  # fmt: skip
            journey = env["sms.marketing.journey"].create(
                {"name": "Runners", "list_ids": [(6, 0, sms_list.ids)], "trigger": "manual"}
            )
            step = env["sms.marketing.journey.step"].create(
                {"name": "SMS", "journey_id": journey.id, "step_type": "send", "body": "Once"}
            )
            journey.action_start()
            journey._enter(contacts.ids)
            ids = {"list": sms_list.id, "contacts": contacts.ids, "journey": journey.id, "step": step.id}
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._cleanup, ids)
        return ids

    def _cleanup(self, ids):
        with self._cursor() as cr:
            cr.execute("SELECT id FROM sms_marketing_mailing WHERE journey_step_id = %s", [ids["step"]])
            mailings = [row[0] for row in cr.fetchall()]
            cr.execute(
                "DELETE FROM mail_message WHERE model = 'sms.marketing.mailing' AND res_id = ANY(%s)", [mailings]
            )
            cr.execute("DELETE FROM sms_marketing_journey WHERE id = %s", [ids["journey"]])
            cr.execute("DELETE FROM sms_marketing_mailing WHERE id = ANY(%s)", [mailings])
            cr.execute("DELETE FROM sms_marketing_contact WHERE id = ANY(%s)", [ids["contacts"]])
            cr.execute("DELETE FROM sms_marketing_list WHERE id = %s", [ids["list"]])
            cr.commit()  # pylint: disable=invalid-commit

    def _runner(self, cr):
        env = api.Environment(cr, SUPERUSER_ID, {})
        cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        return env

    def test_two_runners_send_each_step_once(self):
        """Runner A works on the journey; runner B, at the same time, skips it; after A commits, B finds
        nothing due. A runner that dies (rolls back) leaves everything to the next one, once."""
        ids = self._setup_committed()
        count = "SELECT count(*), count(DISTINCT res_id) FROM sms_marketing_trace t JOIN sms_marketing_mailing m ON m.id = t.mailing_id WHERE m.journey_step_id = %s"  # noqa: E501
        with self._cursor() as cr_a, self._cursor() as cr_b:
            env_a, env_b = self._runner(cr_a), self._runner(cr_b)
            Participant = "sms.marketing.journey.participant"
            # A dies after its work: nothing of it stays
            self.assertTrue(env_a[Participant]._run_journey(env_a["sms.marketing.journey"].browse(ids["journey"])))
            cr_a.rollback()
            env_a = self._runner(cr_a)
            self.assertTrue(env_a[Participant]._run_journey(env_a["sms.marketing.journey"].browse(ids["journey"])))
            # B meanwhile: the journey is A's
            self.assertFalse(env_b[Participant]._run_journey(env_b["sms.marketing.journey"].browse(ids["journey"])))
            cr_b.rollback()
            cr_a.commit()  # pylint: disable=invalid-commit
            env_b = self._runner(cr_b)
            self.assertTrue(env_b[Participant]._run_journey(env_b["sms.marketing.journey"].browse(ids["journey"])))
            cr_b.commit()  # pylint: disable=invalid-commit
            cr_b.execute(count, [ids["step"]])
            self.assertEqual(cr_b.fetchone(), (20, 20))
            cr_b.execute(
                "SELECT state, count(*) FROM sms_marketing_journey_participant WHERE journey_id = %s GROUP BY state",
                [ids["journey"]],
            )
            self.assertEqual(dict(cr_b.fetchall()), {"done": 20})


@tagged("post_install", "-at_install")
class TestDemoJourneys(SmsEngineCase):
    def test_the_demo_participants_leave_as_the_engine_makes_them_leave(self):
        """The demo's journeys show participants as the engine leaves them: a blacklisted number exits for
        that reason, a message canceled for an invalid number does not stop its participant (the walk-through
        found every canceled message shown as "Blacklisted")."""
        Contact, List = self.env["sms.marketing.contact"], self.env["sms.marketing.list"]
        # the story told again beside the demo database's own lists, if it has them
        List.search([("name", "in", ["VIP Club", "Customers"])]).write({"name": "Earlier list"})
        # first: the demo keeps the last five welcomed waiting at the branch
        people = Contact.create(
            [{"name": "Invalid Number", "phone": "12"}, {"name": "Blacklisted Number", "phone": "+12025550199"}]
            + [{"name": f"Member {i}", "phone": f"+1202555{i:04d}"} for i in range(130, 150)]
        )
        invalid, blacklisted = people[:2]
        self.env["sms.marketing.blacklist"]._add_numbers(["+12025550199"])
        List.create({"name": "VIP Club", "contact_ids": [(6, 0, people.ids)]})
        List.create({"name": "Customers", "contact_ids": [(6, 0, people.ids)]})
        self.env["sms.marketing.demo"]._create_demo_journeys()
        participants = self.env["sms.marketing.journey.participant"].search(
            [("journey_id.name", "in", ["VIP Club welcome series", "Happy birthday"]), ("res_id", "in", people.ids)]
        )
        welcome = participants.filtered(lambda p: p.journey_id.name == "VIP Club welcome series")
        self.assertEqual(len(welcome), len(people), "everyone of the list entered the welcome series")
        # who exits, exits for the reason of the message that made them leave, and only for a STOP-like one
        exited = participants.filtered(lambda p: p.state == "exited")
        self.assertIn(blacklisted.id, exited.mapped("res_id"))
        for participant in exited:
            self.assertEqual(participant.exit_reason, participant.last_trace_id.failure_type)
            self.assertIn(participant.exit_reason, ("blacklisted", "opted_out"))
        kept = welcome.filtered(lambda p: p.res_id == invalid.id)
        self.assertEqual(set(kept.mapped("state")), {"done"}, "an invalid number does not end the journey")
        self.assertTrue(all(p.last_trace_id.failure_type == "invalid_number" for p in kept))
